"""The catalogue of bad inputs (tests/catalogue.yaml): each edit to a fresh copy of the project must make
`coalition check` (or `build`) exit 1, without a traceback, with the expected message naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CATALOGUE = Path(__file__).with_name("catalogue.yaml")
CASES = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["cases"]  # a trusted fixture file
CASE_KEYS = {"name", "file", "replace", "write", "append", "delete", "encoding", "edits", "command", "campaign",
             "expect", "reject", "line", "lines", "xfail"}
EDIT_KEYS = {"file", "replace", "write", "append", "delete", "encoding"}


def edits_of(case: dict) -> list[dict]:
    """The case's edits: its own top-level `file` edit, then those under `edits`."""
    own = [{key: case[key] for key in EDIT_KEYS if key in case}] if "file" in case else []
    return own + list(case.get("edits", []))


def apply_edit(project: Path, edit: dict) -> None:
    """One edit of one file; `replace` insists that the old text is there, so a stale case fails loudly."""
    assert set(edit) <= EDIT_KEYS, f"unknown edit keys {set(edit) - EDIT_KEYS}"
    path = project / edit["file"]
    if edit.get("delete"):
        path.unlink()
        return
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "write" in edit:
        text = edit["write"]
    for old, new in pairs(edit.get("replace")):
        assert old in text, f"{old!r} not in {edit['file']}"
        text = text.replace(old, new, 1)
    text += edit.get("append", "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(edit.get("encoding", "utf-8")))


def pairs(replace) -> list:
    """`replace: [old, new]` or a list of such pairs."""
    if not replace:
        return []
    return [replace] if isinstance(replace[0], str) else replace


def line_in(path: Path, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle` (the file may be in any encoding Latin-1 can read)."""
    for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def expected_messages(case: dict, project: Path) -> list[str]:
    """The expected texts with each {name} placeholder replaced by the line of its needle.

    `line: NEEDLE` defines {line}; `lines: {name: NEEDLE}` defines {name}; a needle is searched in the case's
    first edited file unless written as [file, NEEDLE]. The FIRST line that contains the needle counts.
    """
    needles = dict(case.get("lines", {}))
    if "line" in case:
        needles["line"] = case["line"]
    default = edits_of(case)[0]["file"] if edits_of(case) else None
    numbers = {}
    for name, needle in needles.items():
        file, text = (needle if isinstance(needle, list) else (default, needle))
        numbers[name] = str(line_in(project / file, text))
    result = []
    for message in texts(case["expect"]):
        for name, number in numbers.items():
            message = message.replace("{" + name + "}", number)
        result.append(message)
    return result


def texts(value) -> list[str]:
    """One text or a list of them."""
    return [value] if isinstance(value, str) else list(value)


def params():
    for case in CASES:
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
        yield pytest.param(case, id=case["name"], marks=marks)


def test_the_catalogue_is_large_and_well_formed():
    names = [case["name"] for case in CASES]
    assert len(names) >= 60
    assert len(set(names)) == len(names), "case names must be unique"
    for case in CASES:
        assert set(case) <= CASE_KEYS, f"{case['name']}: unknown keys {set(case) - CASE_KEYS}"
        assert case.get("command", "check") in ("check", "build"), case["name"]
        assert case["expect"], case["name"]


@pytest.mark.parametrize("case", list(params()))
def test_bad_input(case, project, cli, tmp_path):
    for edit in edits_of(case):
        apply_edit(project, edit)
    command = case.get("command", "check")
    campaign = case.get("campaign", "march-2020")
    out = tmp_path / "out"
    args = [command, campaign, "--root", project]
    if command == "build":
        args += ["--out", out]
    result = cli(*args)
    output = result.output + result.stderr
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1, output
    for message in expected_messages(case, project):
        assert message in result.stderr, f"expected {message!r} in:\n{result.stderr}"
    for message in texts(case.get("reject", [])):
        assert message not in result.stderr, f"did not expect {message!r} in:\n{result.stderr}"
    if command == "build":
        written = [path for path in out.rglob("*") if path.is_file()] if out.exists() else []
        assert written == [], written
