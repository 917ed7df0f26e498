"""Approvals: an append-only history whose state is derived by one function, written under a lock."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

from coalition.records.approvals import Action, Event, State, Via, state_of
from helpers import REPO

HISTORY = Path("letters/march-2020/approvals.yaml")
EN = "en-d2d6d81eea"  # the shipped English proof
SIGNATORIES = ["amnesty-international", "civil-rights-defenders", "committee-to-protect-journalists",
               "front-line-defenders", "helsinki-foundation-for-human-rights", "human-rights-watch", "fidh",
               "international-partnership-for-human-rights", "omct"]


def at(day: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=datetime.timezone.utc)


def event(when: datetime.datetime, proof: str, action: Action = Action.APPROVED, line: int = 0,
          comment: str = "") -> Event:
    return Event(when, "omct", "en", proof, action, "A. Person", "", comment, Via(command_line="test"), line)


def newer_proof(project: Path) -> str:
    """A second English proof in the history, made after the shipped one (same text, another ID)."""
    folder = project / "letters/march-2020/proofs"
    record = json.loads((folder / f"{EN}.json").read_text())
    record["id"], record["made"] = "en-aaaaaaaaaa", "2999-01-01T00:00:00+00:00"
    (folder / "en-aaaaaaaaaa.json").write_text(json.dumps(record))
    return "en-aaaaaaaaaa"


def test_each_state_follows_from_the_history():
    ages = {"en-1111111111": "2026-01-01T00:00:00+00:00", "en-2222222222": "2026-01-05T00:00:00+00:00"}
    old, new = "en-1111111111", "en-2222222222"

    def state(*events: Event):
        return state_of(tuple(events), "omct", "en", new, ages)

    assert state().state is State.PENDING
    assert state(event(at(2), old)).state is State.STALE
    assert state(event(at(2), old), event(at(6), new)).state is State.APPROVED
    asked = state(event(at(6), new, Action.CHANGES_REQUESTED, comment="paragraph 3"))
    assert asked.state is State.CHANGES_REQUESTED and asked.last.comment == "paragraph 3"
    assert state(event(at(6), new), event(at(7), new, Action.WITHDRAWN)).state is State.WITHDRAWN
    assert state(event(at(7), new, Action.WITHDRAWN), event(at(8), new)).state is State.APPROVED
    # a request for changes on an older text, once a newer one exists, leaves the organisation to review it
    assert state(event(at(2), old, Action.CHANGES_REQUESTED, comment="x")).state is State.PENDING


def test_an_older_proof_approved_after_a_newer_one_never_displaces_it():
    ages = {"en-1111111111": "2026-01-01T00:00:00+00:00", "en-2222222222": "2026-01-05T00:00:00+00:00"}
    history = (event(at(6), "en-2222222222", line=1), event(at(9), "en-1111111111", line=2))
    result = state_of(history, "omct", "en", "en-2222222222", ages)
    assert result.state is State.APPROVED and result.approved.proof == "en-2222222222"
    # the order of events is their time, not the order of lines a merge left them in
    shuffled = (event(at(9), "en-2222222222", line=1), event(at(3), "en-1111111111", line=2))
    assert state_of(shuffled, "omct", "en", "en-2222222222", ages).state is State.APPROVED


def test_the_command_refuses_an_older_proof_a_future_date_and_an_empty_name(cli, project):
    newer = newer_proof(project)
    assert cli("approve", "march-2020", "omct", newer, "--by", "A. Person", "--root", project).exit_code == 0
    before = (project / HISTORY).read_bytes()
    result = cli("approve", "march-2020", "omct", EN, "--by", "A. Person", "--root", project)
    assert result.exit_code == 1
    assert f"omct already approved {newer}, a newer text than {EN}" in result.stderr
    result = cli("approve", "march-2020", "fidh", EN, "--by", "A. Person", "--date", "2999-01-01", "--root", project)
    assert result.exit_code == 1 and "is in the future" in result.stderr
    for name in ("", "   "):
        result = cli("approve", "march-2020", "fidh", EN, "--by", name, "--root", project)
        assert result.exit_code == 1 and "name of the person who acted for the organisation is empty" in result.stderr
    assert (project / HISTORY).read_bytes() == before


def test_approving_appends_one_line_and_keeps_comments_and_line_endings(cli, project):
    path = project / HISTORY
    text = path.read_text().replace("\n", "\r\n", 3).replace("- {at: 2020-03-30T12:00:00Z, organisation: fidh",
                                                            "# fidh confirmed by phone\n- {at: 2020-03-30T12:00:00Z, "
                                                            "organisation: fidh", 1)
    path.write_bytes(text.encode())
    before = path.read_bytes()
    result = cli("approve", "march-2020", "omct", EN, "--by", "Ann\u2028O'Neil", "--role", "Director",
                 "--root", project)
    assert result.exit_code == 1 and "by contains a control character" in result.stderr
    assert cli("approve", "march-2020", "omct", EN, "--by", "Ann \"Nan\" O'Neil", "--role", "Director: Europe",
               "--root", project).exit_code == 0
    after = path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1
    added = after[len(before):].decode()
    assert added.endswith("\r\n") and added.startswith("- {at: ")
    assert 'by: "Ann \\"Nan\\" O\'Neil", role: "Director: Europe", via: {command-line: "' in added
    result = cli("status", "march-2020", "--root", project)
    assert result.exit_code == 0 and "every organisation has approved every current proof" in result.output


def test_nine_concurrent_approvals_are_all_kept(project):
    commands = [[sys.executable, "-m", "coalition", "approve", "march-2020", signatory, EN, "--by", f"Person {n}",
                 "--root", str(project)] for n, signatory in enumerate(SIGNATORIES)]
    before = (project / HISTORY).read_text().splitlines()
    processes = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for command in commands]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    after = (project / HISTORY).read_text().splitlines()
    assert after[:len(before)] == before
    added = after[len(before):]
    assert sorted(line.split("by: ")[1].split(",")[0] for line in added) == [f'"Person {n}"' for n in range(9)]


def test_the_build_refuses_an_organisation_that_withdrew_or_asked_for_changes(cli, project, tmp_path):
    path = project / HISTORY
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # after every approval
    path.write_text(path.read_text() + f"- {{at: {now}, organisation: omct, language: ru, proof: "
                    "ru-608337855e, action: withdrawn, by: \"B\", via: {command-line: \"test\"}}\n"
                    f"- {{at: {now}, organisation: fidh, language: en, proof: en-d2d6d81eea, action: "
                    "changes-requested, by: \"C\", comment: \"paragraph 2\", via: {command-line: \"test\"}}\n")
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "omct has not approved the current ru proof ru-608337855e (it withdrew from the letter) (take omct out " \
           "of the signatories in campaign.yaml, or build with --drop-pending" in result.stderr
    assert "fidh has not approved the current en proof en-d2d6d81eea (it asked for changes) (send it the proof" \
        in result.stderr


def test_the_old_format_is_named_and_upgraded_with_the_same_meaning(cli, project):
    path = project / HISTORY
    path.write_text("approvals:\n" + "".join(
        f"  {signatory}:\n" + "".join(f"    {language}: {{proof: {proof}, date: 2020-03-30, by: \"X\"}}\n"
                                      for language, proof in (("en", EN), ("ru", "ru-608337855e"),
                                                              ("ky", "ky-5dd18639ed")))
        for signatory in SIGNATORIES))
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1 and "approvals.yaml is in the old format" in result.stderr
    assert "coalition upgrade-approvals march-2020" in result.stderr
    result = cli("upgrade-approvals", "march-2020", "--root", project)
    assert result.exit_code == 0 and "27 approvals written as events" in result.output
    assert "every organisation has approved every current proof" in cli("status", "march-2020", "--root",
                                                                        project).output


def test_two_branches_approving_merge_in_git_keeping_both(cli, project):
    git = shutil.which("git")
    assert git
    shutil.copy(REPO / ".gitattributes", project / ".gitattributes")

    def run(*args: str) -> None:
        subprocess.run([git, "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=project,
                       check=True, capture_output=True)

    run("init", "-q", "-b", "main")
    run("add", "-A")
    run("commit", "-qm", "start")
    run("checkout", "-qb", "other")
    assert cli("approve", "march-2020", "omct", EN, "--by", "On other", "--root", project).exit_code == 0
    run("commit", "-qam", "other")
    run("checkout", "-q", "main")
    assert cli("approve", "march-2020", "fidh", EN, "--by", "On main", "--root", project).exit_code == 0
    run("commit", "-qam", "main")
    run("merge", "-q", "other", "-m", "merge")
    text = (project / HISTORY).read_text()
    assert '"On other"' in text and '"On main"' in text and "<<<<<<<" not in text
    assert cli("check", "march-2020", "--root", project).exit_code == 0
