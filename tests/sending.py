"""A built campaign to send, copied fresh for each test, and ways to run `coalition send` and read its ledger."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import sqlite3
from contextlib import closing
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coalition.cli import main
from helpers import REPO, approve_current_proofs, copy_project, edit
from mta import Recorder, start_recorder

CAMPAIGN = "march-2020"
COORDINATOR = "coordinator@example.org"
OFFICIALS = 6  # extra one-language recipients, each with a To and a Cc


def officials(count: int) -> str:
    """campaign.yaml entries for `count` one-language e-mail recipients."""
    return "".join(f"""
  - id: official-{number}
    name: Official {number}
    salutation: Dear Official,
    email: [official-{number}@gov.example.org]
    cc: [desk-{number}@gov.example.org]
    languages: [en]
""" for number in range(1, count + 1))


MINISTER = """
  - id: minister
    name: Minister of Foreign Affairs
    salutation: Your Excellency,
    email: [minister@mfa.example.org, office@mfa.example.org]
    cc: [desk@mfa.example.org]
    languages: [en]
"""


@pytest.fixture(scope="session")
def send_template(tmp_path_factory) -> Path:
    """march-2020 with a minister (two To, one Cc) and six officials (a To and a Cc each), built once."""
    root = copy_project(tmp_path_factory.mktemp("send") / "project")
    edit(root / "letters/march-2020/campaign.yaml", "\n  # Seed 000",
         MINISTER + officials(OFFICIALS) + "\n  # Seed 000")
    approve_current_proofs(root)  # the recipients are part of the proofs
    result = CliRunner().invoke(main, ["build", CAMPAIGN, "--root", str(root), "--out", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root


class Project:
    """A fresh copy of the built campaign."""

    def __init__(self, root: Path):
        self.root, self.out = root, root / "out"
        self.folder = root / "letters" / CAMPAIGN
        self.ledger = self.folder / "ledger.sqlite"

    def build(self) -> None:
        """Build again (after an edit), the edited proofs approved by everyone first."""
        approve_current_proofs(self.root)
        result = CliRunner().invoke(main, ["build", CAMPAIGN, "--root", str(self.root), "--out", str(self.out)])
        assert result.exit_code == 0, result.output

    def args(self, port: int, *extra) -> list[str]:
        """The arguments of a real send to 127.0.0.1:`port`, fast (no waits between messages or retries)."""
        return ["send", CAMPAIGN, "--root", str(self.root), "--out", str(self.out), "--yes", "--smtp-host",
                "127.0.0.1", "--smtp-port", str(port), "--smtp-security", "none", "--rate", "100000", "--backoff",
                "0", *[str(item) for item in extra]]

    def send(self, port: int, *extra):
        """`coalition send --yes` in this process; click's Result."""
        return CliRunner().invoke(main, self.args(port, *extra))

    def command(self, *args):
        """Any command in this process; click's Result."""
        return CliRunner().invoke(main, [str(arg) for arg in args])

    def process(self, port: int, *extra, **popen) -> subprocess.Popen:
        """`coalition send --yes` in a process of its own."""
        return subprocess.Popen([sys.executable, "-m", "coalition", *self.args(port, *extra)], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, **popen)

    def states(self) -> dict[tuple[str, str], str]:
        """(recipient, address) -> state of its latest delivery, read straight from the ledger file."""
        if not self.ledger.exists():
            return {}
        with closing(sqlite3.connect(f"{self.ledger.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT d.recipient, a.address, a.state FROM addresses a JOIN deliveries d ON "
                              "d.id = a.delivery ORDER BY d.id").fetchall()
        return {(recipient, address): state for recipient, address, state in rows}

    def by_message(self) -> dict[tuple[str, str], str]:
        """(Message-ID, address) -> state, over every delivery."""
        if not self.ledger.exists():
            return {}
        with closing(sqlite3.connect(f"{self.ledger.as_uri()}?mode=ro", uri=True)) as db:
            return {(message_id, address): state for message_id, address, state in db.execute(
                "SELECT d.message_id, a.address, a.state FROM addresses a JOIN deliveries d ON d.id = a.delivery")}

    def deliveries(self) -> list[tuple[str, str, str, str | None]]:
        """(recipient, Message-ID, kind, replaces) of every delivery."""
        with closing(sqlite3.connect(f"{self.ledger.as_uri()}?mode=ro", uri=True)) as db:
            return db.execute("SELECT recipient, message_id, kind, replaces FROM deliveries ORDER BY id").fetchall()


@pytest.fixture
def sendable(send_template, tmp_path) -> Project:
    """A fresh copy of the built campaign (project data and out/), nothing sent yet."""
    root = tmp_path / "project"
    shutil.copytree(send_template, root)
    return Project(root)


@pytest.fixture
def smtp():
    """aiosmtpd on a free loopback port with a Recorder handler."""
    handler = Recorder()
    controller = start_recorder(handler)
    yield handler
    controller.stop()


def ask_for_changes(project: Project, organisation: str, language: str = "en") -> None:
    """Append to approvals.yaml that `organisation` asked for changes to the current `language` proof."""
    approvals = project.folder / "approvals.yaml"
    text = approvals.read_text(encoding="utf-8")
    pattern = rf"organisation: {organisation}, language: {language}, proof: ({language}-[0-9a-f]{{10}})"
    proof = re.findall(pattern, text)[-1]
    at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # after every approval
    approvals.write_text(text + f"- {{at: {at}, organisation: {organisation}, language: {language}, proof: {proof}, "
                         f'action: changes-requested, by: "Reviewer", comment: "not yet", '
                         f'via: {{command-line: "the test"}}}}\n', encoding="utf-8")


def all_addresses(project: Project) -> set[str]:
    """Every address the campaign e-mails, the coordinator's copy included."""
    return {address for _, address in project.states()} or set()
