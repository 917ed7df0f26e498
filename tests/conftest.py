"""Shared fixtures: a breakable copy of the project, and march-2020 built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from coalition.cli import main
from helpers import copy_project, frozen_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of letters/, signatories/ and styles/ in a temporary folder."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def march_build(tmp_path_factory) -> Path:
    """out/march-2020 built from the fixture project."""
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(main, ["build", "march-2020", "--root", str(frozen_project()), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "march-2020"


@pytest.fixture
def cli():
    """Run the command line in-process; returns click's Result (exit_code, stdout, stderr)."""

    def run(*args: str):
        return CliRunner().invoke(main, [str(arg) for arg in args])

    return run
