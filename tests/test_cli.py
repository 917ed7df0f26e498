"""The command line: exit codes, one-line messages naming file and line, nothing written on bad data."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from helpers import REPO, edit, line_of

CAMPAIGN_YAML = Path("letters/march-2020/campaign.yaml")
LETTER = Path("letters/march-2020/letter.en.md")


def build(cli, project: Path, out: Path):
    return cli("build", "march-2020", "--root", project, "--out", out)


def test_build_writes_the_pdf_and_a_manifest_of_what_it_wrote(cli, project, tmp_path):
    result = build(cli, project, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "5 letters for 2 recipients in 3 languages" in result.output
    folder = tmp_path / "out" / "march-2020"
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["files"][0]
    assert entry["path"] == "president/march-2020-president-en.pdf"
    assert (entry["recipient"], entry["language"], entry["kind"]) == ("president", "en", "letter")
    written = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert written == sorted(["manifest.json", *(entry["path"] for entry in manifest["files"])])
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]


def test_unknown_signatory_is_named_with_its_line_and_nothing_is_written(cli, project, tmp_path):
    edit(project / CAMPAIGN_YAML, "  - human-rights-watch", "  - human-right-watch")
    result = build(cli, project, tmp_path / "out")
    line = line_of(project / CAMPAIGN_YAML, "human-right-watch")
    assert result.exit_code == 1
    assert (f"error: {CAMPAIGN_YAML}:{line}: unknown signatory 'human-right-watch': there is no "
            "signatories/human-right-watch.yaml (did you mean 'human-rights-watch'?)") in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "march-2020").exists()


def test_unknown_reference_key(cli, project, tmp_path):
    edit(project / LETTER, "[@mandela-rules]", "[@mandela-rule]")
    result = build(cli, project, tmp_path / "out")
    line = line_of(project / LETTER, "[@mandela-rule]")
    assert result.exit_code == 1
    assert (f"{LETTER}:{line}: unknown reference [@mandela-rule] (did you mean [@mandela-rules]?)"
            in result.stderr)


def test_footnote_called_but_not_defined(cli, project, tmp_path):
    edit(project / LETTER, "Michelle Bachelet,[^3]", "Michelle Bachelet,[^4]")
    result = build(cli, project, tmp_path / "out")
    call = line_of(project / LETTER, "[^4]")
    definition = line_of(project / LETTER, "[^3]:")
    assert result.exit_code == 1
    assert f"{LETTER}:{call}: footnote [^4] is called but not defined" in result.stderr
    assert f"{LETTER}:{definition}: footnote [^3] is defined but never called" in result.stderr


def test_yaml_syntax_error_names_its_line(cli, project, tmp_path):
    edit(project / CAMPAIGN_YAML, "place:\n  en: Brussels", "place:\n  en: Brussels: Belgium")
    result = build(cli, project, tmp_path / "out")
    assert result.exit_code == 1
    line = line_of(project / CAMPAIGN_YAML, "Brussels: Belgium")
    assert f"error: {CAMPAIGN_YAML}:{line}: YAML syntax error" in result.stderr


def test_missing_required_field(cli, project, tmp_path):
    text = (project / CAMPAIGN_YAML).read_text(encoding="utf-8")
    start, end = text.index("subject:"), text.index("place:")
    (project / CAMPAIGN_YAML).write_text(text[:start] + text[end:], encoding="utf-8")
    result = build(cli, project, tmp_path / "out")
    assert result.exit_code == 1
    assert "missing required field 'subject'" in result.stderr
    assert "add 'subject:' to campaign" in result.stderr


def test_every_problem_of_a_run_is_reported_together(cli, project, tmp_path):
    edit(project / CAMPAIGN_YAML, "  - fidh", "  - fdih")
    edit(project / CAMPAIGN_YAML, "style: coalition", "style: coalitoin")
    edit(project / "letters/march-2020/letter.ru.md", "[@spt-covid-advice|url]", "[@spt-covid|url]")
    edit(project / "signatories/omct.yaml", "contact: omct@example.org", "contact: omct-at-example.org")
    result = build(cli, project, tmp_path / "out")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4, result.stderr
    assert "4 problems found; nothing was written." in result.stderr


def test_a_failed_build_leaves_the_previous_build_in_place(cli, project, tmp_path):
    out = tmp_path / "out"
    assert build(cli, project, out).exit_code == 0
    before = (out / "march-2020" / "manifest.json").read_bytes()
    edit(project / LETTER, "[@mandela-rules]", "[@nothing]")
    assert build(cli, project, out).exit_code == 1
    assert (out / "march-2020" / "manifest.json").read_bytes() == before
    assert sorted(path.name for path in out.iterdir()) == [".cache", "march-2020"]


def test_unknown_campaign_and_unsafe_ids(cli, project, tmp_path):
    result = cli("build", "march-2021", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "no campaign 'march-2021'" in result.stderr and "did you mean 'march-2020'?" in result.stderr
    result = cli("build", "../letters", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "is not a campaign id" in result.stderr


def test_usage_errors_exit_2(cli):
    assert cli("build").exit_code == 2
    assert cli("build", "march-2020", "--frobnicate").exit_code == 2


def test_check_reports_without_writing(cli, project, tmp_path):
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 0
    assert "march-2020: no problems found (5 letters to build; 6 PDFs laid out, address pages included)." in \
        result.output
    assert sorted(path.name for path in project.iterdir()) == ["letters", "signatories", "styles"]


def test_check_lays_out_every_letter_and_finds_text_the_build_would_refuse(cli, project):
    with (project / "styles/coalition/letter.css").open("a") as css:
        css.write("\n.body p { white-space: nowrap }\n")  # approved text, a style gone wrong
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1, result.output
    assert "letters/march-2020/letter.en.md: the en letter of campaign 'march-2020' to 'president': text runs off " \
           "page 1" in result.stderr
    assert "letter.ru.md" in result.stderr and "letter.ky.md" in result.stderr
    quick = cli("check", "march-2020", "--root", project, "--no-layout")
    assert quick.exit_code == 0 and "pages not laid out (--no-layout)" in quick.output


def test_check_warns_of_each_approval_still_missing(cli, project, monkeypatch):
    history = project / "letters/march-2020/approvals.yaml"
    history.write_text("".join(line for line in history.read_text().splitlines(True)
                               if "organisation: omct, language: en," not in line))
    monkeypatch.chdir(project / "letters")  # the warning names the file relative to the project, from anywhere
    result = cli("check", "march-2020", "--root", "..", "--no-layout")
    assert result.exit_code == 0, result.output
    assert re.search(r"^warning: letters/march-2020/approvals\.yaml(:\d+)?: omct has not approved the current en proof en-"
                     r"\w+; the final build stops on it \(send it the proof", result.stderr, re.MULTILINE), result.stderr
    assert "fidh has not approved" not in result.stderr


def test_python_dash_m_and_help(tmp_path):
    done = subprocess.run([sys.executable, "-m", "coalition", "--help"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("build", "check"):
        assert command in done.stdout


def test_weasyprint_is_not_imported_to_start_the_cli():
    code = "import sys, coalition.cli; print('weasyprint' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.strip() == "False"
