"""Sending through a real SMTP server on 127.0.0.1 (aiosmtpd), with faults injected: exactly once, none lost."""

from __future__ import annotations

import email
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from helpers import REPO, edit

MINISTER = """
  - id: minister
    name: Minister of Foreign Affairs
    salutation: Your Excellency,
    email: [minister@mfa.example.org, office@mfa.example.org]
    cc: [desk@mfa.example.org]
    languages: [en]
"""


class Server:
    """An SMTP server's handler that stores what it accepts and misbehaves on request."""

    def __init__(self):
        self.messages: list[tuple[tuple[str, ...], str]] = []
        self.data_replies: list[str] = []  # replies to give at the end of DATA before accepting again
        self.refuse: set[str] = set()
        self.drop_after_data: set[str] = set()  # stores the message, then cuts the line before replying

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((tuple(envelope.rcpt_tos), str(message["Message-ID"])))
        if set(envelope.rcpt_tos) & self.drop_after_data:
            server.transport.close()
            return "250 never heard"
        return f"250 2.0.0 queued as {len(self.messages)}"

    def copies(self, address: str) -> int:
        return sum(address in recipients for recipients, _ in self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def built(project, cli, tmp_path):
    """march-2020 with a second e-mail recipient (two To addresses and a Cc), built."""
    edit(project / "letters/march-2020/campaign.yaml", "\n  # Seed 000", MINISTER + "\n  # Seed 000")
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", project, "--out", out)
    assert result.exit_code == 0, result.output
    return project, out


def send(cli, built, smtp, *extra):
    project, out = built
    return cli("send", "march-2020", "--root", project, "--out", out, "--yes", "--smtp-host", "127.0.0.1",
               "--smtp-port", smtp.port, "--smtp-security", "none", "--rate", "6000", "--backoff", "0.01", *extra)


def ledger(project: Path) -> dict:
    with sqlite3.connect(project / "letters/march-2020/ledger.sqlite") as db:
        return dict(db.execute("SELECT recipient, state FROM deliveries").fetchall())


def test_dry_run_connects_to_nothing(cli, built, smtp):
    project, out = built
    result = cli("send", "march-2020", "--root", project, "--out", out)
    assert result.exit_code == 0
    assert "Dry run: nothing is sent" in result.output and "minister: would send" in result.output
    assert "embassy-washington: post only" in result.output
    assert smtp.messages == [] and not (project / "letters/march-2020/ledger.sqlite").exists()


def test_each_official_gets_one_message_and_a_rerun_sends_nothing(cli, built, smtp):
    result = send(cli, built, smtp)
    assert result.exit_code == 0, result.output
    assert sorted(recipients for recipients, _ in smtp.messages) == [
        ("minister@mfa.example.org", "office@mfa.example.org", "desk@mfa.example.org"),
        ("pisma@mail.gov.kg", "oip@adm.gov.kg")]
    assert "president: sent (250 2.0.0 queued as" in result.output
    assert send(cli, built, smtp).exit_code == 0
    assert len(smtp.messages) == 2
    assert ledger(built[0]) == {"president": "sent", "minister": "sent"}


def test_the_sent_message_is_the_approved_draft_with_a_date_and_without_x_unsent(cli, built, smtp):
    received = []
    original = smtp.handle_DATA

    async def keep(server, session, envelope):
        received.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return await original(server, session, envelope)

    smtp.handle_DATA = keep
    assert send(cli, built, smtp).exit_code == 0
    draft = email.message_from_bytes((built[1] / "march-2020/president/march-2020-president.eml").read_bytes(),
                                     policy=policy.default)
    [message] = [item for item in received if "pisma@mail.gov.kg" in str(item["To"])]
    assert message["Message-ID"] == draft["Message-ID"] and message["X-Unsent"] is None and message["Date"]
    assert [part.get_content() for part in message.iter_attachments()] == \
        [part.get_content() for part in draft.iter_attachments()]


def test_a_connection_lost_after_data_leaves_the_recipient_in_doubt_and_it_is_never_resent_alone(cli, built, smtp):
    smtp.drop_after_data = {"pisma@mail.gov.kg"}
    result = send(cli, built, smtp)
    assert result.exit_code == 3
    assert ledger(built[0]) == {"president": "in-doubt", "minister": "sent"}
    smtp.drop_after_data = set()
    assert send(cli, built, smtp).exit_code == 3
    assert smtp.copies("pisma@mail.gov.kg") == 1 and smtp.copies("minister@mfa.example.org") == 1
    result = send(cli, built, smtp, "--resend-in-doubt", "president")
    assert result.exit_code == 0, result.output
    assert smtp.copies("pisma@mail.gov.kg") == 2  # a person checked and asked for it
    assert len({message_id for recipients, message_id in smtp.messages if "pisma@mail.gov.kg" in recipients}) == 1


@pytest.mark.parametrize("reply", ["421 4.3.2 service shutting down", "451 4.3.0 try again later"])
def test_temporary_refusals_are_retried_with_backoff(cli, built, smtp, reply):
    smtp.data_replies = [reply, reply]
    result = send(cli, built, smtp)
    assert result.exit_code == 0, result.output
    assert smtp.copies("pisma@mail.gov.kg") == 1 and smtp.copies("minister@mfa.example.org") == 1


def test_temporary_refusals_past_the_retries_leave_it_failed_temporary_and_a_rerun_sends_it(cli, built, smtp):
    smtp.data_replies = ["451 4.3.0 try again later"] * 3
    result = send(cli, built, smtp, "--retries", "2")
    assert result.exit_code == 3
    states = ledger(built[0])
    assert sorted(states.values()) == ["failed-temporary", "sent"]
    assert send(cli, built, smtp).exit_code == 0
    assert smtp.copies("pisma@mail.gov.kg") == 1 and smtp.copies("minister@mfa.example.org") == 1


def test_550_on_one_of_two_addresses_sends_to_the_other_and_records_the_refusal(cli, built, smtp):
    smtp.refuse = {"office@mfa.example.org"}
    result = send(cli, built, smtp)
    assert result.exit_code == 0, result.output
    assert smtp.copies("minister@mfa.example.org") == 1 and smtp.copies("office@mfa.example.org") == 0
    assert "refused: office@mfa.example.org" in result.output
    with sqlite3.connect(built[0] / "letters/march-2020/ledger.sqlite") as db:
        [(refused,)] = db.execute("SELECT refused FROM deliveries WHERE recipient = 'minister'").fetchall()
    assert json.loads(refused) == {"office@mfa.example.org": "550 5.1.1 no such user here"}


def test_a_permanent_refusal_is_not_retried_and_the_others_go_on(cli, built, smtp):
    smtp.data_replies = ["554 5.7.1 message refused"]
    result = send(cli, built, smtp)
    assert result.exit_code == 3
    assert sorted(ledger(built[0]).values()) == ["failed-permanent", "sent"]
    assert len(smtp.messages) == 1
    assert send(cli, built, smtp).exit_code == 3 and len(smtp.messages) == 1


def test_starttls_required_but_not_offered_is_refused_never_falling_back(cli, built, smtp):
    project, out = built
    result = cli("send", "march-2020", "--root", project, "--out", out, "--yes", "--smtp-host", "127.0.0.1",
                 "--smtp-port", smtp.port, "--smtp-security", "starttls")
    assert result.exit_code == 1
    assert "does not offer STARTTLS; refusing to send unencrypted" in result.stderr
    assert smtp.messages == []
    assert set(ledger(project).values()) == {"planned"}


def test_no_encryption_only_to_this_machine(cli, built):
    project, out = built
    result = cli("send", "march-2020", "--root", project, "--out", out, "--yes", "--smtp-host", "mail.example.org",
                 "--smtp-security", "none")
    assert result.exit_code == 1 and "allowed only to this machine" in result.stderr


def test_a_tampered_build_or_an_unapproved_text_is_refused_before_connecting(cli, built, smtp):
    project, out = built
    pdf = out / "march-2020/president/march-2020-president-en.pdf"
    original = pdf.read_bytes()
    pdf.write_bytes(original + b"%")
    result = send(cli, built, smtp)
    assert result.exit_code == 1 and "does not match the manifest" in result.stderr
    pdf.write_bytes(original)
    approvals = project / "letters/march-2020/approvals.yaml"
    text = approvals.read_text(encoding="utf-8")
    approvals.write_text(re.sub(r"(organisation: omct, language: en, proof: en-)[0-9a-f]{10}",
                                r"\g<1>0000000000", text),
                         encoding="utf-8")
    result = send(cli, built, smtp)
    assert result.exit_code == 1 and "omct has not approved proof en-" in result.stderr
    assert smtp.messages == [] and not (project / "letters/march-2020/ledger.sqlite").exists()


def test_a_send_killed_between_two_recipients_resumes_without_a_second_copy(built, smtp):
    project, out = built
    command = [sys.executable, "-m", "coalition", "send", "march-2020", "--root", str(project), "--out", str(out),
               "--yes", "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port), "--smtp-security", "none"]
    process = subprocess.Popen([*command, "--rate", "3"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 30
    ledger_path = project / "letters/march-2020/ledger.sqlite"
    while time.monotonic() < deadline:  # wait until the first message is recorded as sent, then kill
        try:
            if ledger_path.exists() and "sent" in ledger(project).values():
                break
        except sqlite3.OperationalError:  # created but its tables not yet
            pass
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(smtp.messages) == 1  # killed during the wait between the two
    done = subprocess.run([*command, "--rate", "6000"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert smtp.copies("pisma@mail.gov.kg") == 1 and smtp.copies("minister@mfa.example.org") == 1
    states = ledger(project)
    assert states == {"president": "sent", "minister": "sent"}
