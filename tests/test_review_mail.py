"""`coalition proof --send-reviews`: review e-mails through the letters' SMTP layer and ledger, received by
aiosmtpd on 127.0.0.1: once per organisation and proof round, only to those whose approval is not current."""

from __future__ import annotations

import datetime
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from coalition.cli import main
from coalition.records.ledger import Kind, Ledger, Role, read_status
from coalition.records.links import find_organisation, load_secret
from coalition.usecases import open_campaign
from helpers import copy_project, edit
from mta import Recorder, start_recorder
from sending import smtp  # noqa: F401

CAMPAIGN = "march-2020"
APPROVALS = Path("letters/march-2020/approvals.yaml")
BASE = "http://127.0.0.1:8765"
# who is waiting for what in the project made below; the other five approved every current proof
WAITING = {"omct": "en pending", "fidh": "ru pending", "human-rights-watch": "en changes requested"}


def contact(organisation: str) -> str:
    return f"{organisation}@example.org"


def recorded(root: Path, organisation: str, language: str, action: str, proof: str | None = None) -> None:
    """Append an event to approvals.yaml, a minute ago, for the current proof of `language` unless given."""
    history = root / APPROVALS
    text = history.read_text(encoding="utf-8")
    if proof is None:
        proof = open_campaign(root, CAMPAIGN, final=False).proofs[language].id
    at = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    comment = ', comment: "not yet"' if action == "changes-requested" else ""
    history.write_text(text + f"- {{at: {at}, organisation: {organisation}, language: {language}, proof: {proof}, "
                       f'action: {action}, by: "Reviewer"{comment}, via: {{command-line: "the test"}}}}\n',
                       encoding="utf-8")


@pytest.fixture
def root(tmp_path) -> Path:
    """omct has not approved the English, fidh the Russian; Human Rights Watch asked for changes to the English;
    Civil Rights Defenders withdrew."""
    root = copy_project(tmp_path / "project")
    history = root / APPROVALS
    history.write_text("".join(line for line in history.read_text().splitlines(True)
                               if "organisation: omct, language: en," not in line
                               and "organisation: fidh, language: ru," not in line))
    recorded(root, "human-rights-watch", "en", "changes-requested")
    for language in ("en", "ru", "ky"):
        recorded(root, "civil-rights-defenders", language, "withdrawn")
    return root


def proof(root: Path, *extra: object, port: int | None = None, env: dict | None = None):
    """`coalition proof --send-reviews` in this process (with --yes and the server when `port` is given)."""
    args = ["proof", CAMPAIGN, "--root", root, "--out", root / "out", "--send-reviews", "--base-url", BASE,
            "--secret-file", root.parent / "secret"]
    if port is not None:
        args += ["--yes", "--smtp-host", "127.0.0.1", "--smtp-port", port, "--smtp-security", "none", "--rate",
                 "100000", "--backoff", "0"]
    return CliRunner().invoke(main, [str(arg) for arg in (*args, *extra)], env=env)


def received(smtp: Recorder) -> dict[str, list]:
    """Envelope recipient -> the messages it received."""
    found: dict[str, list] = {}
    for recipients, _, message in smtp.messages:
        for address in recipients:
            found.setdefault(address, []).append(message)
    return found


def test_each_organisation_whose_approval_is_not_current_gets_its_link_and_the_proofs_once(root, smtp):
    dry = proof(root)
    assert dry.exit_code == 0, dry.output
    assert smtp.messages == [] and not (root / "letters/march-2020/ledger.sqlite").exists()
    for organisation, why in WAITING.items():
        assert f"- {organisation}: would send to {contact(organisation)} ({why})" in dry.output
    assert "- amnesty-international: approved every current proof: not sent" in dry.output
    assert "- civil-rights-defenders: withdrew from the letter: not sent" in dry.output

    first = proof(root, port=smtp.port)
    assert first.exit_code == 0, first.output
    assert "Traceback" not in first.output
    mail = received(smtp)
    assert set(mail) == {contact(organisation) for organisation in WAITING}
    secret = load_secret(root.parent / "secret", root)
    folder = root / "out" / f"{CAMPAIGN}.proof"
    proofs = {path.name: path.read_bytes() for path in folder.glob("*.pdf")}
    assert len(proofs) == 3
    for organisation in WAITING:
        [message] = mail[contact(organisation)]
        assert message["To"] == contact(organisation) and message["X-Unsent"] is None and message["Date"]
        text = message.get_body(("plain",)).get_content()
        [link] = re.findall(rf"{re.escape(BASE)}/review/{CAMPAIGN}/(\S+)", text)
        record = find_organisation(secret, root / "letters" / CAMPAIGN, CAMPAIGN, link)
        assert record is not None and record.organisation == organisation  # its own private link, and it opens
        attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
        assert {name: data for name, data in attached.items() if name.endswith(".pdf")} == proofs
    assert (folder / "review" / "omct.eml").is_file()  # the drafts stay, for a mail client

    second = proof(root, port=smtp.port)
    assert second.exit_code == 0, second.output
    assert len(smtp.messages) == 3  # nothing more
    assert "omct: sent for this round already" in second.output
    assert "0 sent, 0 waiting for a later run" in second.output


def test_an_organisation_gets_its_review_email_in_the_first_language_it_reads_that_the_letter_is_in(root, smtp):
    edit(root / "signatories/fidh.yaml", "contact: fidh@example.org", "contact: fidh@example.org\n"
         "review_languages: [kk, ru, en]  # no Kazakh letter: Russian")
    edit(root / "signatories/omct.yaml", "contact: omct@example.org", "contact: omct@example.org\n"
         "review_languages: [de]  # not a language of the letter: the original's")
    assert proof(root, port=smtp.port).exit_code == 0
    mail = received(smtp)
    [russian], [english] = mail[contact("fidh")], mail[contact("omct")]
    assert russian["Subject"].startswith("На согласование: ")
    text = russian.get_body(("plain",)).get_content()
    assert text.splitlines()[0] == "Уважаемые коллеги из Международная федерация за права человека (FIDH)!"
    assert english["Subject"].startswith("For approval: ")
    languages = {item.recipient: item.language for item in read_status(root / "letters" / CAMPAIGN).reviews}
    assert languages["fidh"] == "ru" and languages["omct"] == "en"


def test_a_new_proof_round_sends_again_to_those_whose_state_changed(root, smtp, cli):
    assert proof(root, port=smtp.port).exit_code == 0
    first = {recipients[0]: message_id for recipients, message_id, _ in smtp.messages}
    edit(root / "letters/march-2020/letter.en.md", "a very challenging time", "a very difficult time")
    from coalition.usecases import open_campaign

    new = open_campaign(root, CAMPAIGN, final=False).proof_ids["en"]
    assert cli("proof", CAMPAIGN, "--root", root, "--out", root / "out").exit_code == 0  # a proof to approve
    approved = cli("approve", CAMPAIGN, "amnesty-international", new, "--by", "Agnès Callamard", "--root", root)
    assert approved.exit_code == 0, approved.output
    again = proof(root, port=smtp.port)
    assert again.exit_code == 0, again.output
    second = {recipients[0]: message_id for recipients, message_id, _ in smtp.messages[3:]}
    stale = {"committee-to-protect-journalists", "front-line-defenders", "helsinki-foundation-for-human-rights",
             "international-partnership-for-human-rights"}  # approved the earlier English: now stale
    assert set(second) == {contact(organisation) for organisation in (*WAITING, *stale)}
    assert all(second[address] != first[address] for address in first)  # a new round, a new message
    assert "amnesty-international: approved every current proof: not sent" in again.output
    assert proof(root, port=smtp.port).exit_code == 0
    assert len(smtp.messages) == 3 + len(second)


def test_review_emails_are_kept_apart_from_the_letters_in_the_ledger_status_and_send(root, smtp, cli, tmp_path):
    assert proof(root, port=smtp.port).exit_code == 0
    ledger = root / "letters" / CAMPAIGN / "ledger.sqlite"
    with closing(sqlite3.connect(f"{ledger.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT recipient, kind FROM deliveries").fetchall()
    assert sorted(rows) == sorted((organisation, "review") for organisation in WAITING)
    status = read_status(ledger.parent)
    assert status.deliveries == () and {item.recipient for item in status.reviews} == set(WAITING)
    shown = cli("status", CAMPAIGN, "--root", root, "--out", tmp_path / "final")
    deliveries, reviews = shown.output.split("e-mail:")[1].split("review e-mails (the latest to each organisation):")
    assert "addresses: 0 delivered" in deliveries and "review" not in deliveries
    assert all(f"  {organisation}: sent to {contact(organisation)} on " in reviews for organisation in WAITING)
    built = cli("build", CAMPAIGN, "--root", root, "--out", tmp_path / "final", "--drop-pending")
    assert built.exit_code == 0, built.output
    dry = cli("send", CAMPAIGN, "--root", root, "--out", tmp_path / "final")
    assert dry.exit_code == 0, dry.output
    assert "- president: would send;" in dry.output and "done" not in dry.output


def test_a_configuration_failure_stops_the_run_after_one_login_and_a_later_run_sends_everything(root):
    handler = Recorder()
    controller = start_recorder(handler, password="right", auth_required=True)
    try:
        wrong = proof(root, port=handler.port, env={"COALITION_SMTP_USER": "coordinator",
                                                    "COALITION_SMTP_PASSWORD": "wrong"})
        assert wrong.exit_code == 1 and "Traceback" not in wrong.output
        assert "error:" in wrong.output and handler.auth_attempts == 1 and handler.messages == []
        assert {record.state.value for item in read_status(root / "letters" / CAMPAIGN).reviews
                for record in item.addresses} <= {"planned"}
        right = proof(root, port=handler.port, env={"COALITION_SMTP_USER": "coordinator",
                                                    "COALITION_SMTP_PASSWORD": "right"})
        assert right.exit_code == 0, right.output
        assert handler.auth_attempts == 2  # one login per run
        assert sorted(recipients for recipients, _, _ in handler.messages) == sorted(
            (contact(organisation),) for organisation in WAITING)
    finally:
        controller.stop()


def test_refused_deferred_and_in_doubt_are_reported_and_only_a_deferred_one_goes_in_a_later_run(root, smtp, cli):
    smtp.refuse.add(contact("fidh"))
    smtp.defer.add(contact("omct"))
    smtp.drop_after_data.add(contact("human-rights-watch"))  # stored, then the line is cut before the reply
    first = proof(root, "--retries", "0", port=smtp.port)
    assert first.exit_code == 3, first.output
    assert "REFUSED fidh@example.org (550" in first.output and "deferred omct@example.org (451" in first.output
    assert "human-rights-watch: IN DOUBT human-rights-watch@example.org" in first.output
    assert ("ask human-rights-watch whether it arrived, then 'coalition confirm march-2020 human-rights-watch "
            "--review --by NAME'; it is not sent again for this round") in first.output
    smtp.refuse.clear()
    smtp.defer.clear()
    smtp.drop_after_data.clear()
    second = proof(root, "--retries", "0", port=smtp.port)
    assert second.exit_code == 3  # fidh's refusal and the message in doubt need a person
    assert "human-rights-watch: in doubt for this round already" in second.output
    assert "fidh: the server refused fidh@example.org" in second.output and "signatories/fidh.yaml" in second.output
    assert {address: len(messages) for address, messages in received(smtp).items()} == {
        contact("human-rights-watch"): 1, contact("omct"): 1}
    edit(root / "signatories/fidh.yaml", "contact: fidh@example.org", "contact: review@fidh.example.org")
    third = proof(root, port=smtp.port)
    assert third.exit_code == 3, third.output  # still the one in doubt
    assert {address: len(messages) for address, messages in received(smtp).items()} == {
        contact("human-rights-watch"): 1, contact("omct"): 1, "review@fidh.example.org": 1}
    status = cli("status", CAMPAIGN, "--root", root, "--out", root / "out")
    assert "human-rights-watch: in doubt (to human-rights-watch@example.org): ask human-rights-watch" in status.output
    assert "fidh: sent to review@fidh.example.org on " in status.output and "omct: sent to omct@" in status.output
    not_a_letter = cli("confirm", CAMPAIGN, "human-rights-watch", "--by", "Coordinator", "--root", root)
    assert not_a_letter.exit_code == 1 and "no message to 'human-rights-watch' is in doubt" in not_a_letter.output
    confirmed = cli("confirm", CAMPAIGN, "human-rights-watch", "--review", "--by", "Coordinator", "--root", root)
    assert confirmed.exit_code == 0 and "recorded as arrived at 1 address(es)" in confirmed.output
    fourth = proof(root, port=smtp.port)
    assert fourth.exit_code == 0, fourth.output  # nothing is left for a person, and nothing more is sent
    assert sum(len(messages) for messages in received(smtp).values()) == 3
    status = cli("status", CAMPAIGN, "--root", root, "--out", root / "out")
    assert "human-rights-watch: sent to human-rights-watch@example.org (confirmed arrived by Coordinator)" in \
        status.output
    assert re.search(r"fidh: sent to review@fidh\.example\.org on \d{4}-\d\d-\d\d\n", status.output)
    assert "None" not in status.output


def test_refused_before_anything_without_links_or_with_a_revoked_link(root, smtp, cli):
    no_link = CliRunner().invoke(main, ["proof", CAMPAIGN, "--root", str(root), "--out", str(root / "out"),
                                        "--send-reviews"], env={"COALITION_BASE_URL": ""})
    assert no_link.exit_code == 1 and "--send-reviews: each review e-mail carries" in no_link.output
    assert not (root / "out").exists()
    assert cli("proof", CAMPAIGN, "--root", root, "--yes").exit_code == 2
    assert cli("links", CAMPAIGN, "--root", root, "--secret-file", root.parent / "secret").exit_code == 0
    revoked = cli("links", CAMPAIGN, "--root", root, "--secret-file", root.parent / "secret", "--revoke", "omct")
    assert revoked.exit_code == 0, revoked.output
    refused = proof(root, port=smtp.port)
    assert refused.exit_code == 1 and "omct: its private link is revoked" in refused.output
    assert "Traceback" not in refused.output and smtp.messages == []
    assert read_status(root / "letters" / CAMPAIGN).reviews == ()


def test_a_version_2_ledger_of_letters_is_read_and_becomes_version_3_with_its_first_review(tmp_path):
    ledger = Ledger.open(tmp_path, writable=True)
    assert ledger is not None
    ledger.db.execute("PRAGMA user_version=2")
    ledger.plan("president", "<letter@example.org>", Kind.LETTER, "en", b"draft", [("p@gov.example.org", Role.TO)])
    assert ledger.db.execute("PRAGMA user_version").fetchone()[0] == 2
    ledger.close()
    assert [item.recipient for item in read_status(tmp_path).deliveries] == ["president"]
    ledger = Ledger.open(tmp_path, writable=True)
    assert ledger is not None
    ledger.plan("omct", "<review@example.org>", Kind.REVIEW, "en", b"draft", [("omct@example.org", Role.TO)])
    assert ledger.db.execute("PRAGMA user_version").fetchone()[0] == 3
    ledger.close()
    status = read_status(tmp_path)
    assert [item.recipient for item in status.deliveries] == ["president"]
    assert [item.recipient for item in status.reviews] == ["omct"]



def test_two_runs_at_once_send_each_organisation_its_review_once(root, smtp):
    import os
    import subprocess
    import sys

    from helpers import REPO

    args = [sys.executable, "-m", "coalition", "proof", CAMPAIGN, "--root", str(root), "--out", str(root / "out"),
            "--send-reviews", "--yes", "--base-url", BASE, "--secret-file", str(root.parent / "secret"),
            "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port), "--smtp-security", "none", "--rate", "100000",
            "--wait"]
    runs = [subprocess.Popen(args, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (stdout, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stdout + stderr
        assert "Traceback" not in stderr
    assert sorted(recipients for recipients, _, _ in smtp.messages) == sorted(
        (contact(organisation),) for organisation in WAITING)
