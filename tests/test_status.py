"""What the coordinator sees: CampaignStatus from approvals, proofs, translations, the build and the ledger."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coalition.records.approvals import State
from coalition.status import BuildState
from coalition.usecases import status as campaign_status
from helpers import edit, frozen_project
from sending import CAMPAIGN, send_template, sendable, smtp  # noqa: F401


def test_a_built_and_approved_campaign_is_ready_to_send(march_build):
    status = campaign_status("march-2020", frozen_project(), march_build.parent)
    assert status.count(State.APPROVED) == 27 and len(status.approvals) == 27
    assert status.build.state is BuildState.CURRENT
    assert [item.fresh for item in status.translations] == [True, True]
    assert {item.recipient: item.summary for item in status.deliveries} == {
        "president": "not sent", "embassy-washington": "post: not recorded as mailed yet"}
    assert status.next_step.startswith("Send the letters (1 recipient(s) not yet delivered)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.next_step = "x"  # type: ignore[misc]


def test_status_names_stale_translations_pending_approvals_and_the_outdated_build(cli, project, march_build):
    out = march_build.parent
    shutil_copy_build(out, project)
    edit(project / "letters/march-2020/letter.en.md", "a very challenging time", "a very difficult time")
    status = campaign_status("march-2020", project, project / "out")
    assert [(item.language, item.fresh) for item in status.translations] == [("ru", False), ("ky", False)]
    assert "stale translation" in status.translations[0].detail
    assert status.next_step.startswith("Update the ru, ky translation(s)")
    assert status.state("omct", "en").state is State.STALE and status.state("omct", "ru").state is State.APPROVED
    assert status.build.state is BuildState.OUTDATED and "text of en changed" in status.build.detail
    for language in ("ru", "ky"):
        assert cli("translated", "march-2020", language, "--root", project).exit_code == 0
    status = campaign_status("march-2020", project, project / "out")
    assert status.next_step.startswith("Make the proofs of the current text (en, ru, ky)")
    result = cli("status", "march-2020", "--root", project, "--out", project / "out")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    omct = next(line for line in lines if line.startswith("omct "))
    assert omct.split()[1:] == ["approved", "an", "earlier", "text", "approved", "approved"]
    assert "18 of 27 approvals current" in result.output
    assert "build: outdated (the text of en changed since the build)" in result.output
    assert "next step: Make the proofs" in result.output


def test_deliveries_come_from_the_ledger_after_a_real_send(sendable, smtp):
    assert sendable.send(smtp.port).exit_code == 0
    status = campaign_status(CAMPAIGN, sendable.root, sendable.out)
    [president] = [item for item in status.deliveries if item.recipient == "president"]
    assert president.done and president.summary == "3 of 3 addresses delivered"
    assert status.next_step.startswith("Print and mail the post-only bundles (embassy-washington)")
    assert any(line.startswith("e-mail: 8 of 8 recipients complete") for line in status.sending)


def shutil_copy_build(out: Path, project: Path) -> None:
    """Put a copy of the session's march-2020 build under the project's out/."""
    import shutil

    shutil.copytree(out / "march-2020", project / "out" / "march-2020")
