"""The review service in a real browser (Debian's chromium through Selenium) against `coalition serve`.

One project copy gets its proofs and review e-mails made once (module); each test serves its own copy of that,
on the port the e-mailed links name, so the tests do not depend on each other's approvals.
"""

from __future__ import annotations

import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from helpers import copy_project, edit
from mta import Recorder, start_recorder
from webtools import (CHROMEDRIVER, CHROMIUM, Server, after_navigation, browser, coalition, fetch, free_port,
                      link_in, review_link)

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()),
                                reason="needs Debian's chromium and chromium-driver (./setup.sh --test installs them)")
CAMPAIGN = "march-2020"
APPROVALS = Path("letters/march-2020/approvals.yaml")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """A project whose omct has not approved the English text, with proofs and review e-mails carrying links."""
    base = tmp_path_factory.mktemp("portal")
    root = copy_project(base / "project")
    history = root / APPROVALS
    history.write_text("".join(line for line in history.read_text().splitlines(True)
                               if "organisation: omct, language: en," not in line))
    port = free_port()
    secret = base / "config" / "secret"
    coalition("proof", CAMPAIGN, "--root", root, "--out", root / "out", "--base-url", f"http://127.0.0.1:{port}",
              "--secret-file", secret)
    return {"base": base, "port": port, "secret": secret}


@pytest.fixture(scope="module")
def driver():
    """One headless chromium for the module."""
    chromium = browser()
    yield chromium
    chromium.quit()


@pytest.fixture
def site(made, tmp_path):
    """A fresh copy of the made project, served on the e-mailed links' port."""
    root = tmp_path / "project"
    shutil.copytree(made["base"] / "project", root)
    server = Server(root, root / "out", made["secret"], port=made["port"])
    yield {"root": root, "server": server, "secret": made["secret"]}
    server.stop()


def link_of(site, organisation: str) -> str:
    return review_link(site["root"] / "out" / f"{CAMPAIGN}.proof" / "review" / f"{organisation}.eml")


def submit(driver, form_id: str, **fields: str) -> None:
    """Fill a form's fields by name, press its button and wait for the next page."""
    form = driver.find_element(By.ID, form_id)
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    after_navigation(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]").click)


def test_a_reviewer_approves_from_the_link_in_an_emailed_review_and_the_final_build_then_succeeds(site, driver, cli,
                                                                                                   tmp_path):
    root = site["root"]
    refused = cli("build", CAMPAIGN, "--root", root, "--out", tmp_path / "final")
    assert refused.exit_code == 1
    assert "omct has not approved the current en proof en-" in refused.stderr
    mail = Recorder()
    server = start_recorder(mail)  # a real SMTP server on 127.0.0.1
    try:
        coalition("proof", CAMPAIGN, "--root", root, "--out", root / "out", "--send-reviews", "--yes", "--base-url",
                  site["server"].base, "--secret-file", site["secret"], "--smtp-host", "127.0.0.1", "--smtp-port",
                  mail.port, "--smtp-security", "none")
    finally:
        server.stop()
    [(recipients, _, message)] = mail.messages  # every other organisation approved every proof already
    assert recipients == ("omct@example.org",)
    assert sorted(part.get_filename() for part in message.iter_attachments())[0].startswith("march-2020-proof-")
    driver.get(link_in(message))
    assert "World Organisation Against Torture (OMCT)" in driver.page_source
    after_navigation(driver, driver.find_element(By.LINK_TEXT, "English").click)
    proof = driver.find_element(By.CSS_SELECTOR, "#approve input[name=proof]").get_attribute("value")
    assert proof in driver.find_element(By.ID, "state-h").text
    images = driver.find_elements(By.CSS_SELECTOR, "img.page")
    assert len(images) == 3  # the letter's two pages and the annex listing the recipients
    for image in images:  # previews load lazily: bring each into view and wait until it is drawn
        WebDriverWait(driver, 60).until(lambda _: driver.execute_script(
            "arguments[0].scrollIntoView(); return arguments[0].complete && arguments[0].naturalWidth", image) > 500)
    submit(driver, "approve", name="Gerald Staberock", role="Secretary General")
    assert "your approval of proof" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert "✓ approved" in driver.find_element(By.CSS_SELECTOR, ".state .badge").text
    last = (root / APPROVALS).read_text().splitlines()[-1]
    assert "organisation: omct, language: en" in last and f"proof: {proof}" in last
    assert 'by: "Gerald Staberock", role: "Secretary General"' in last and "via: {link: " in last
    assert "ip: \"127.0.0.1\"" in last and "HeadlessChrome" in last
    built = cli("build", CAMPAIGN, "--root", root, "--out", tmp_path / "final")
    assert built.exit_code == 0, built.output
    driver.get(site["server"].dashboard)
    after_navigation(driver, driver.find_element(By.LINK_TEXT, CAMPAIGN).click)
    reviews = driver.find_element(By.XPATH, "//section[h2[text()='Review e-mails']]").text
    assert "omct: sent to omct@example.org on " in reviews


def test_request_changes_shows_on_the_dashboard_with_its_comment(site, driver, cli):
    driver.get(link_of(site, "fidh") + "/en")
    comment = "Please name the <b>UN Working Group</b> in paragraph 3."
    submit(driver, "request-changes", name="Alice Mogwe", comment=comment)
    assert "request for changes is recorded" in driver.page_source
    driver.get(site["server"].dashboard)
    after_navigation(driver, driver.find_element(By.LINK_TEXT, CAMPAIGN).click)
    row = driver.find_element(By.XPATH, "//th[contains(., 'International Federation for Human Rights')]/..")
    cell = row.find_elements(By.TAG_NAME, "td")[0]
    assert "changes requested" in cell.text and comment in cell.find_element(By.TAG_NAME, "blockquote").text
    assert "Answer the changes requested by fidh" in driver.find_element(By.CLASS_NAME, "next").text
    status = cli("status", CAMPAIGN, "--root", site["root"], "--out", site["root"] / "out")
    assert f"fidh (en), Alice Mogwe: {comment}" in status.output


def test_a_proof_changed_after_the_page_loaded_is_refused(site, driver):
    driver.get(link_of(site, "human-rights-watch") + "/en")
    before = (site["root"] / APPROVALS).read_bytes()
    edit(site["root"] / "letters/march-2020/letter.en.md", "a very challenging time", "a very difficult time")
    submit(driver, "approve", name="Hugh Williamson", role="Director")
    assert driver.find_element(By.TAG_NAME, "h1").text == "The text changed"
    assert "Nothing was recorded" in driver.page_source
    assert (site["root"] / APPROVALS).read_bytes() == before


def test_one_organisations_link_cannot_approve_for_another_even_with_a_forged_post(site, driver):
    before = (site["root"] / APPROVALS).read_bytes()
    driver.get(link_of(site, "fidh") + "/en")
    assert "omct" not in driver.page_source and "World Organisation Against Torture (OMCT)</h1>" not in \
        driver.page_source
    driver.execute_script("document.querySelector('#approve input[name=organisation]').value = 'omct'")
    submit(driver, "approve", name="Mallory", role="Impostor")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "This link belongs to fidh: it cannot act for omct" in driver.page_source
    assert (site["root"] / APPROVALS).read_bytes() == before


def test_a_tampered_or_revoked_token_gets_403(site, driver):
    link = link_of(site, "civil-rights-defenders")
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    status, _, body = fetch(tampered)
    assert status == 403 and "This link does not open anything" in body and "Traceback" not in body
    assert fetch(link)[0] == 200
    coalition("links", CAMPAIGN, "--root", site["root"], "--secret-file", site["secret"], "--revoke",
              "civil-rights-defenders")
    status, _, body = fetch(link)
    assert status == 403 and "was revoked" in body
    driver.get(link)
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    listing = coalition("links", CAMPAIGN, "--root", site["root"], "--secret-file", site["secret"], "--base-url",
                        site["server"].base, "--regenerate", "civil-rights-defenders").stdout
    new = next(line.split()[-1] for line in listing.splitlines() if line.startswith("civil-rights-defenders "))
    assert new != link and fetch(new)[0] == 200 and fetch(link)[0] == 403


def test_a_post_without_the_csrf_token_is_refused(site, driver):
    before = (site["root"] / APPROVALS).read_bytes()
    driver.get(link_of(site, "omct") + "/en")
    driver.execute_script("document.querySelector('#approve input[name=csrf]').remove()")
    submit(driver, "approve", name="Gerald Staberock", role="Secretary General")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "This form was not sent from your page" in driver.page_source
    link = link_of(site, "omct")
    form = urllib.parse.urlencode({"organisation": "omct", "action": "approve", "name": "X", "role": "Y",
                                   "proof": "en-0000000000"}).encode()
    status, _, body = fetch(link + "/en", data=form)
    assert status == 403 and "This form was not sent from your page" in body
    assert (site["root"] / APPROVALS).read_bytes() == before


def test_headers_forbid_framing_scripts_and_referrers_and_errors_are_pages(site):
    link = link_of(site, "omct")
    status, headers, body = fetch(link)
    assert status == 200
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    assert 'name="referrer" content="no-referrer"' in body
    for address in ("/nowhere", "/review/../../etc/passwd", "/review/march-2020", "/dashboard/x/march-2020"):
        status, headers, body = fetch(site["server"].base + address)
        assert status in (403, 404) and "<h1>" in body and "Traceback" not in body, address
    edit(site["root"] / "letters/march-2020/campaign.yaml", "subject:", "subjet:")
    status, _, body = fetch(link + "/en")
    assert status == 503 and "data has a problem" in body and "Traceback" not in body
    token = link.rsplit("/", 1)[1]
    assert token not in site["server"].logged()


def test_failed_link_lookups_are_rate_limited(made, tmp_path):
    import uvicorn

    from coalition.records.links import load_secret
    from coalition.web.app import Settings, create_app

    root = tmp_path / "project"
    shutil.copytree(made["base"] / "project", root)
    port = free_port()
    settings = Settings(root, root / "out", load_secret(made["secret"], root), f"http://127.0.0.1:{port}",
                        failed_lookup_limit=3)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        good = review_link(root / "out" / f"{CAMPAIGN}.proof" / "review" / "omct.eml").replace(
            f":{made['port']}/", f":{port}/")
        assert fetch(good)[0] == 200
        assert [fetch(good[:-4] + "0000")[0] for _ in range(3)] == [403, 403, 403]
        status, _, body = fetch(good)
        assert status == 429 and "Too many wrong links" in body
    finally:
        server.should_exit = True
        thread.join(10)


CONTRAST = """
function luminance(color) {
  const [r, g, b] = color.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(element) {
  for (let node = element; node; node = node.parentElement) {
    const color = getComputedStyle(node).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(color) && color !== 'transparent') return color;
  }
  return 'rgb(255, 255, 255)';
}
const worst = [];
for (const element of document.querySelectorAll('body *')) {
  if (!element.offsetParent || ![...element.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const [a, b] = [luminance(getComputedStyle(element).color), luminance(background(element))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) worst.push(element.tagName + '.' + element.className + ': ' + ratio.toFixed(2));
}
return worst;
"""


def test_pages_are_readable_on_a_phone_with_enough_contrast_and_usable_by_keyboard(site, driver):
    from selenium.webdriver.common.keys import Keys

    assert site["server"].printed[0].startswith(f"Serving {site['root']} on http://127.0.0.1:")  # loopback by default
    link = link_of(site, "omct")
    pages = [link, link + "/en", site["server"].dashboard + f"/{CAMPAIGN}"]
    try:  # a phone's viewport (a desktop window cannot be made this narrow)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        for url in pages:
            driver.get(url)
            assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), url
            assert driver.execute_script(CONTRAST) == [], url
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get(link + "/en")
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(60):  # from the top of the page, Tab reaches the approval form
        body.send_keys(Keys.TAB) if driver.switch_to.active_element == body else \
            driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element.get_attribute("id") == "approve-name":
            break
    active = driver.switch_to.active_element
    assert active.get_attribute("id") == "approve-name"
    assert driver.find_element(By.CSS_SELECTOR, "label[for=approve-name]").text == "Your name"
    active.send_keys("Gerald Staberock", Keys.TAB)
    driver.switch_to.active_element.send_keys("Secretary General", Keys.TAB)
    after_navigation(driver, lambda: driver.switch_to.active_element.send_keys(Keys.ENTER))
    assert "your approval of proof" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
