"""What the web tests (and docs/screenshots.py) stand on: a served project copy, a real chromium, real e-mails."""

from __future__ import annotations

import email
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email import policy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def coalition(*args: object, check: bool = True) -> subprocess.CompletedProcess:
    """Run the command line in a process of its own."""
    result = subprocess.run([sys.executable, "-m", "coalition", *map(str, args)], cwd=REPO, capture_output=True,
                            text=True)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


class Server:
    """`coalition serve` in a subprocess on a free loopback port; the dashboard link is read from what it prints."""

    def __init__(self, root: Path, out: Path, secret: Path, port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(root / "serve.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coalition", "serve", "--root", str(root), "--out", str(out), "--port",
             str(self.port), "--secret-file", str(secret), "--base-url", self.base],
            cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.process.stdout is not None
        self.printed = [self.process.stdout.readline(), self.process.stdout.readline()]
        self.dashboard = self.printed[1].split(": ", 1)[1].strip()
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server this object started."""
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()

    def logged(self) -> str:
        """Everything the server wrote to its log."""
        return Path(self.log.name).read_text()


def browser(width: int = 1280, height: int = 900):
    """Debian's headless chromium driven by Selenium (no driver download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def review_link(eml: Path) -> str:
    """The private review link in a review e-mail draft, read as a mail client would."""
    return link_in(email.message_from_bytes(eml.read_bytes(), policy=policy.default))


def link_in(message: email.message.EmailMessage) -> str:
    """The private review link in a review e-mail's text."""
    found = re.search(r"https?://\S+/review/\S+", message.get_body(("plain",)).get_content())
    assert found, f"no review link in the e-mail {message['Message-ID']}"
    return found.group(0)


def fetch(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
    """Status, headers and body of one request (no cookies, no redirects followed)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def after_navigation(driver, action) -> None:
    """Run an action that loads a new page and wait until the new page is complete."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # A marker on the old window object, not a held element: while chromium swaps documents, asking about an
    # old element can fail with an inspector error instead of the stale-element error Selenium waits for.
    driver.execute_script("window.coalitionOldPage = true")
    action()
    WebDriverWait(driver, 60, ignored_exceptions=(WebDriverException,)).until(lambda _: driver.execute_script(
        "return !window.coalitionOldPage && document.readyState === 'complete'"))

