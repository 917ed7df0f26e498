"""Private links and the server secret, and the review service's refusals, over HTTP (no browser needed)."""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from pathlib import Path

import pytest

from coalition.errors import CoalitionError, Problems
from coalition.load import load_campaign
from coalition.records.links import find_organisation, load_secret, review_token, update_links
from helpers import edit
from webtools import fetch, free_port

CAMPAIGN = "march-2020"


def test_the_secret_is_made_private_kept_and_refused_where_it_could_leak(project, tmp_path):
    path = tmp_path / "config" / "coalition" / "secret"
    secret = load_secret(path, project)
    assert len(secret) == 64 and os.stat(path).st_mode & 0o777 == 0o600
    assert load_secret(path, project) == secret
    os.chmod(path, 0o644)
    with pytest.raises(CoalitionError, match="can be read by other users: run 'chmod 600"):
        load_secret(path, project)
    with pytest.raises(CoalitionError, match="inside the project folder"):
        load_secret(project / "secret", project)
    assert not (project / "secret").exists()


def test_links_are_per_organisation_and_campaign_revocable_and_keep_comments(project, tmp_path):
    secret = load_secret(tmp_path / "secret", project)
    campaign = load_campaign(project, CAMPAIGN, Problems(project))
    records = update_links(campaign)
    folder = campaign.folder
    omct, fidh = records["omct"], records["fidh"]
    token = review_token(secret, CAMPAIGN, omct)
    assert find_organisation(secret, folder, CAMPAIGN, token) == omct
    assert review_token(secret, CAMPAIGN, fidh) != token
    assert find_organisation(secret, folder, "ua-61-20", token) is None  # signed for another campaign
    assert find_organisation(b"another secret of the same length, 64 characters long........", folder, CAMPAIGN,
                             token) is None
    flipped = token[:12] + ("0" if token[12] != "0" else "1") + token[13:]
    assert find_organisation(secret, folder, CAMPAIGN, flipped) is None
    path = folder / "links.yaml"
    path.write_text(path.read_text().replace("omct:", "# omct asked for a new link on 3 April\nomct:"))
    records = update_links(campaign, revoke=("fidh",), regenerate=("omct",))
    text = path.read_text()
    assert "# omct asked for a new link on 3 April\nomct:" in text and text.startswith("# Private review links")
    assert records["fidh"].revoked and find_organisation(secret, folder, CAMPAIGN,
                                                         review_token(secret, CAMPAIGN, fidh)) is None
    assert records["omct"].id != omct.id and find_organisation(secret, folder, CAMPAIGN, token) is None
    with pytest.raises(CoalitionError, match="'omtc' does not sign march-2020"):
        update_links(campaign, revoke=("omtc",))


def test_revoking_a_link_never_made_leaves_no_working_link(project, tmp_path):
    secret = load_secret(tmp_path / "secret", project)
    campaign = load_campaign(project, CAMPAIGN, Problems(project))
    records = update_links(campaign, revoke=("fidh",))  # the coordinator revokes before anything was sent
    assert records["fidh"].revoked and not records["fidh"].active
    assert find_organisation(secret, campaign.folder, CAMPAIGN, review_token(secret, CAMPAIGN, records["fidh"])) \
        is None
    assert update_links(campaign)["fidh"] == records["fidh"]  # a later run does not make it a working link
    assert records["omct"].active  # the others' links are made as usual
    with pytest.raises(CoalitionError, match="not both"):
        update_links(campaign, revoke=("omct",), regenerate=("omct",))


@pytest.fixture
def served(project, tmp_path):
    """The project served by uvicorn in a thread; only the English proof is made (a blank page stands for it)."""
    import uvicorn
    from pypdf import PdfWriter

    from coalition.web.app import Settings, create_app

    secret = load_secret(tmp_path / "secret", project)
    campaign = load_campaign(project, CAMPAIGN, Problems(project))
    records = update_links(campaign)
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    (project / "out" / "march-2020.proof").mkdir(parents=True)
    writer.write(project / "out" / "march-2020.proof" / "march-2020-proof-en-d2d6d81eea.pdf")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(project, project / "out", secret, base)),
                                           host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield {"link": f"{base}/review/{CAMPAIGN}/{review_token(secret, CAMPAIGN, records['fidh'])}", "root": project,
           "secret": secret}
    server.should_exit = True
    thread.join(10)


def form_session(link: str) -> tuple[str, str]:
    """The cookie and CSRF token a browser would get from the page."""
    status, headers, body = fetch(link + "/en")
    assert status == 200
    cookie = headers["set-cookie"].split(";")[0]
    return cookie, re.search(r'name="csrf" value="([^"]+)"', body).group(1)


def test_a_proof_not_yet_made_cannot_be_approved(served):
    status, _, body = fetch(served["link"] + "/ru")
    assert status == 200 and "has not been made yet" in body and 'id="approve"' not in body
    cookie, csrf = form_session(served["link"])
    form = urllib.parse.urlencode({"csrf": csrf, "organisation": "fidh", "action": "approve", "name": "A",
                                   "role": "B", "proof": "ru-608337855e"}).encode()
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    before = (served["root"] / "letters/march-2020/approvals.yaml").read_bytes()
    status, _, body = fetch(served["link"] + "/ru", data=form, headers=headers)
    assert status == 400 and "has not been made yet, so it cannot be approved" in body
    assert (served["root"] / "letters/march-2020/approvals.yaml").read_bytes() == before


def test_malformed_forms_are_refused_with_a_page(served):
    cookie, csrf = form_session(served["link"])
    url = served["link"] + "/en"
    urlencoded = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    fields = f"csrf={csrf}&organisation=fidh&action=approve&name=A&role=B&proof=en-d2d6d81eea"
    cases = [
        (fields + "&organisation=omct", urlencoded, 400, "names a field twice"),
        (fields + "&comment=" + "x" * 40_000, urlencoded, 413, "too long"),
        (fields, {"Cookie": cookie, "Content-Type": "multipart/form-data; boundary=x"}, 415, "Send the form"),
        (fields.replace("action=approve", "action=publish"), urlencoded, 400, "Unknown action"),
        (fields.replace("name=A", "name=%20"), urlencoded, 400, "Nothing was recorded: the name"),
        (fields.replace("role=B", "role="), urlencoded, 400, "Nothing was recorded: give your role"),
    ]
    for data, headers, code, words in [(data.encode(), *rest) for data, *rest in cases] + [
            (b"csrf=\xff", urlencoded, 400, "could not be read")]:
        status, _, body = fetch(url, data=data, headers=headers)
        assert status == code and words in body and "Traceback" not in body, (code, words, body[-600:])


def test_an_organisation_taken_off_the_campaign_loses_its_page(served):
    edit(served["root"] / "letters/march-2020/campaign.yaml", "  - fidh\n", "")
    status, _, body = fetch(served["link"])
    assert status == 403 and "no longer signs this letter" in body


def test_the_pdf_and_previews_are_served_only_for_real_proofs(served):
    status, headers, body = fetch(served["link"] + "/proofs/en-d2d6d81eea/page-1.png")
    assert status == 200 and headers["content-type"] == "image/png"
    status, headers, _ = fetch(served["link"] + "/proofs/en-d2d6d81eea/march-2020-proof-en-d2d6d81eea.pdf")
    assert status == 200 and headers["content-disposition"].startswith("attachment;")
    for tail in ("/proofs/en-d2d6d81eea/page-2.png", "/proofs/ru-608337855e/page-1.png",
                 "/proofs/..%2F..%2Fsecret/page-1.png", "/proofs/en-d2d6d81eea/..%2F..%2Fletters"):
        status, _, body = fetch(served["link"] + tail)
        assert status == 404 and "Traceback" not in body, tail


def test_the_home_page_says_nothing_about_campaigns(served):
    status, headers, body = fetch(served["link"].split("/review/")[0] + "/")
    assert status == 200 and "march-2020" not in body and "private link" in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_links_command_lists_links_and_the_dashboard(cli, project, tmp_path):
    secret = tmp_path / "secret"
    result = cli("links", CAMPAIGN, "--root", project, "--secret-file", secret, "--base-url",
                 "https://review.example.net/")
    assert result.exit_code == 0, result.output
    assert re.search(r"^omct +https://review\.example\.net/review/march-2020/[a-z0-9]{44}$", result.output, re.M)
    assert re.search(r"^coordinator's dashboard: https://review\.example\.net/dashboard/d[0-9a-f]{32}$",
                     result.output, re.M)
    result = cli("links", CAMPAIGN, "--root", project, "--secret-file", project / "secret")
    assert result.exit_code == 1 and "inside the project folder" in result.stderr
    assert Path(secret).stat().st_mode & 0o777 == 0o600


def test_nine_organisations_approving_at_once_through_their_pages_are_all_recorded(served):
    from concurrent.futures import ThreadPoolExecutor

    from coalition.records.links import read_links

    root = served["root"]
    secret = served["secret"]
    base = served["link"].split("/review/")[0]
    links = {organisation: f"{base}/review/{CAMPAIGN}/{review_token(secret, CAMPAIGN, record)}"
             for organisation, record in read_links(root / "letters" / CAMPAIGN, Problems(root)).items()}
    history = root / "letters/march-2020/approvals.yaml"
    before = history.read_text().splitlines()

    def approve(organisation: str) -> int:
        cookie, csrf = form_session(links[organisation])
        form = urllib.parse.urlencode({"csrf": csrf, "organisation": organisation, "action": "approve",
                                       "name": f"Person of {organisation}", "role": "Director",
                                       "proof": "en-d2d6d81eea"}).encode()
        return fetch(links[organisation] + "/en", data=form, headers={
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})[0]

    with ThreadPoolExecutor(9) as pool:
        assert list(pool.map(approve, links)) == [303] * 9
    after = history.read_text().splitlines()
    assert after[:len(before)] == before
    assert sorted(line.split('by: "Person of ')[1].split('"')[0] for line in after[len(before):]) == sorted(links)


def test_an_unexpected_error_is_one_page_for_the_visitor_and_one_line_in_the_log(served, monkeypatch):
    import logging

    import coalition.web.pages as pages

    def broken(*arguments):
        raise RuntimeError("a bug in the page")

    monkeypatch.setattr(pages, "review_page", broken)
    lines: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = lines.append  # type: ignore[method-assign]
    loggers = [logging.getLogger(name) for name in ("coalition.web", "uvicorn.error", "uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        status, headers, body = fetch(served["link"])
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert status == 500 and "Something went wrong" in body and "Traceback" not in body
    assert {name.lower(): value for name, value in headers.items()}["referrer-policy"] == "no-referrer"
    errors = [record for record in lines if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None, [record.getMessage() for record in errors]
    said = errors[0].getMessage()
    assert "RuntimeError: a bug in the page" in said and "--debug" in said
    assert served["link"].rsplit("/", 1)[1] not in said  # the token never reaches the log
