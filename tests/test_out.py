"""--out can never destroy: the tool replaces only a folder it made, never a source folder (issue 12, point 3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import approve_current_proofs

SOURCES = ("letters", "signatories", "styles")


def tree(folder: Path) -> dict:
    """Every entry under `folder`: files by their bytes, symlinks by their target, folders by name."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            entries[relative] = ("link", str(path.readlink()))
        elif path.is_file():
            entries[relative] = ("file", path.read_bytes())
        else:
            entries[relative] = ("folder",)
    return entries


def sources(project: Path) -> dict:
    """The project's source folders, byte for byte."""
    return {name: tree(project / name) for name in SOURCES}


def test_out_letters_is_refused_and_changes_nothing(project, cli, monkeypatch):
    monkeypatch.chdir(project)
    before = sources(project)
    result = cli("build", "march-2020", "--root", ".", "--out", "letters")
    assert result.exit_code == 1
    assert "refusing to write the build to letters/march-2020: --out letters is letters" in result.output
    assert sources(project) == before


def test_a_campaign_named_like_a_source_folder_built_into_the_project_root_is_refused(project, cli, monkeypatch):
    shutil.copytree(project / "letters" / "march-2020", project / "letters" / "signatories")
    monkeypatch.chdir(project)
    before = sources(project)
    result = cli("build", "signatories", "--root", ".", "--out", ".")
    assert result.exit_code == 1 and "refusing to write the build" in result.output, result.output
    assert sources(project) == before


@pytest.mark.parametrize("out", ["letters/march-2020", "letters/march-2020/build", "styles/coalition/out",
                                 "signatories", ".."])
def test_an_out_that_is_inside_or_contains_a_source_folder_is_refused(project, cli, out):
    before = sources(project)
    result = cli("build", "march-2020", "--root", project, "--out", project / out)
    assert result.exit_code == 1 and "refusing to write the build" in result.output, result.output
    assert sources(project) == before


def test_an_out_that_is_a_symlink_to_a_source_folder_is_refused(project, cli, tmp_path):
    (tmp_path / "innocent").symlink_to(project / "letters")
    before = sources(project)
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "innocent")
    assert result.exit_code == 1 and "is " in result.output and "letters" in result.output, result.output
    assert sources(project) == before


def test_a_folder_the_tool_did_not_make_is_never_replaced(project, cli, tmp_path):
    mine = tmp_path / "documents"
    (mine / "march-2020").mkdir(parents=True)
    (mine / "march-2020" / "my notes.txt").write_text("the coordinator's own notes")
    (mine / "march-2020" / "manifest.json").write_text(json.dumps({"campaign": "march-2020", "files": []}))
    (mine / "budget.ods").write_bytes(b"spreadsheet")
    before = tree(mine)
    result = cli("build", "march-2020", "--root", project, "--out", mine, "--no-cache")
    assert result.exit_code == 1 and "it was not made by this tool" in result.output, result.output
    assert tree(mine) == before


def test_a_user_folder_gains_the_build_and_keeps_its_own_files(project, cli, tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "budget.ods").write_bytes(b"spreadsheet")
    for _ in range(2):  # the second build replaces the first, which the tool made
        result = cli("build", "march-2020", "--root", project, "--out", mine, "--no-cache")
        assert result.exit_code == 0, result.output
    assert (mine / "budget.ods").read_bytes() == b"spreadsheet"
    assert sorted(path.name for path in mine.iterdir()) == ["budget.ods", "march-2020"]
    assert json.loads((mine / "march-2020" / "manifest.json").read_text())["made_by"] == "coalition-letters"


def test_a_symlinked_output_folder_is_published_through_the_link(project, cli, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "shared-drive"
    out.mkdir()
    elsewhere.mkdir()
    assert cli("build", "march-2020", "--root", project, "--out", elsewhere, "--no-cache").exit_code == 0
    (out / "march-2020").symlink_to(elsewhere / "march-2020")
    (project / "letters/march-2020/campaign.yaml").write_text(
        (project / "letters/march-2020/campaign.yaml").read_text().replace("Mr. Sooronbay", "H.E. Sooronbay"))
    approve_current_proofs(project)  # the recipient's name is part of the proofs
    result = cli("build", "march-2020", "--root", project, "--out", out, "--no-cache")
    assert result.exit_code == 0, result.output
    assert (out / "march-2020").is_symlink()
    assert sorted(path.name for path in elsewhere.iterdir()) == ["march-2020"]  # no staging left beside it
    listing = json.loads((elsewhere / "march-2020" / "manifest.json").read_text())
    assert listing["made_by"] == "coalition-letters" and (out / "march-2020" / "manifest.json").is_file()


def test_a_symlinked_output_folder_pointing_into_the_sources_is_refused(project, cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "march-2020").symlink_to(project / "letters" / "march-2020")
    before = sources(project)
    result = cli("build", "march-2020", "--root", project, "--out", out)
    assert result.exit_code == 1 and "refusing to write the build" in result.output, result.output
    assert sources(project) == before
