"""Screenshots of the reviewer's page and the coordinator's dashboard for the README: docs/screenshots/*.png.

    .venv/bin/python docs/screenshots.py

A copy of the project (in a temporary folder) is taken through a second proof round in which every state
occurs, then served by `coalition serve` and photographed with Debian's headless chromium.
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import copy_project, edit  # noqa: E402
from mta import Recorder, start_recorder  # noqa: E402
from webtools import Server, browser, coalition, free_port, review_link  # noqa: E402

from coalition.load import load_campaign  # noqa: E402
from coalition.errors import Problems  # noqa: E402
from coalition.records.approvals import Action, Event, Via, record  # noqa: E402

CAMPAIGN = "march-2020"
TARGET = REPO / "docs" / "screenshots"


def second_round(root: Path, port: int, secret: Path) -> None:
    """The English text changes after everyone approved it; organisations answer the new proof in every way."""
    history = root / "letters" / CAMPAIGN / "approvals.yaml"
    history.write_text("".join(line for line in history.read_text().splitlines(True)
                               if "organisation: front-line-defenders," not in line))
    edit(root / "letters" / CAMPAIGN / "letter.en.md", "a very challenging time", "a very difficult time")
    for language in ("ru", "ky"):
        coalition("translated", CAMPAIGN, language, "--root", root)
    mail = Recorder()  # the review e-mails go to a real SMTP server on 127.0.0.1, so the dashboard lists them
    server = start_recorder(mail)
    try:
        coalition("proof", CAMPAIGN, "--root", root, "--out", root / "out", "--base-url", f"http://127.0.0.1:{port}",
                  "--secret-file", secret, "--send-reviews", "--yes", "--smtp-host", "127.0.0.1", "--smtp-port",
                  mail.port, "--smtp-security", "none")
    finally:
        server.stop()
    campaign = load_campaign(root, CAMPAIGN, Problems(root))
    proof = next((root / "out" / f"{CAMPAIGN}.proof").glob("march-2020-proof-en-*.pdf")).stem.split("proof-")[1]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    people = {"amnesty-international": ("Maria Lindqvist", "Regional Director"),
              "civil-rights-defenders": ("Daniel Okafor", "Executive Director"),
              "committee-to-protect-journalists": ("Sara Novak", "Programme Coordinator"),
              "helsinki-foundation-for-human-rights": ("Tomasz Wiśniewski", "President of the Board"),
              "human-rights-watch": ("Julia Brandt", "Division Director")}
    for minutes, (organisation, (name, role)) in enumerate(people.items()):
        record(campaign, Event(now - datetime.timedelta(minutes=50 - 7 * minutes), organisation, "en", proof,
                               Action.APPROVED, name, role, "", Via(link="screenshots0", ip="192.0.2.10",
                                                                    agent="Mozilla/5.0")))
    record(campaign, Event(now - datetime.timedelta(minutes=12), "fidh", "en", proof, Action.CHANGES_REQUESTED,
                           "Léa Martin", "Head of the Central Asia Desk",
                           "Please say \"a very difficult time for the world\" as in the Russian text, and cite "
                           "the WGAD opinion in paragraph 3.", Via(link="screenshots1", ip="192.0.2.11")))
    for language, made in (("en", proof), ("ru", "ru-608337855e"), ("ky", "ky-5dd18639ed")):
        record(campaign, Event(now - datetime.timedelta(minutes=5), "international-partnership-for-human-rights",
                               language, made, Action.WITHDRAWN, "Oliver Grant", "Director", "",
                               Via(link="screenshots2", ip="192.0.2.12")))


def full_page(driver, url: str, path: Path, width: int, phone: bool = False, most: int = 10_000) -> None:
    """A screenshot of the page (its first `most` pixels), `width` CSS pixels wide (a phone's viewport if `phone`)."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": phone}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(url)
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    driver.execute_script("return Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, most)})
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(REPO)}")


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        root = copy_project(Path(folder) / "project")
        port, secret = free_port(), Path(folder) / "config" / "secret"
        second_round(root, port, secret)
        server = Server(root, root / "out", secret, port=port)
        driver = browser()
        try:
            omct = review_link(root / "out" / f"{CAMPAIGN}.proof" / "review" / "omct.eml")
            full_page(driver, omct + "/en", TARGET / "review.png", 1180)
            full_page(driver, omct + "/en", TARGET / "review-phone.png", 390, phone=True, most=1400)
            full_page(driver, server.dashboard + f"/{CAMPAIGN}", TARGET / "dashboard.png", 1280)
        finally:
            driver.quit()
            server.stop()


if __name__ == "__main__":
    main()
