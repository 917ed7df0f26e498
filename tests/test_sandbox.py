"""Hostile templates: a letterhead or a campaign's cover template executes nothing and leaks nothing."""

from __future__ import annotations

import os

import pytest

from helpers import edit, line_of, page_texts

PASSWORD = "smtp-password-must-not-leak-9931"

# Each payload, if the sandbox let it through, would run a shell command creating MARKER or print a secret.
CODE_PAYLOADS = [
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ page.__class__.__init__.__globals__['os'].system('touch MARKER') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ page.strings.__class__.__subclasses__() }}",
    "{{ lipsum.__globals__['os'].environ['COALITION_SMTP_PASSWORD'] }}",
    "{{ range.__self__.__import__('os').system('touch MARKER') }}",
    "{{ page.body.__html__.__globals__['os'].system('touch MARKER') }}",
    "{% set x = page.strings.update({'letterhead': 'changed'}) %}{{ x }}",
]


@pytest.fixture
def hostile(project, tmp_path, monkeypatch):
    """The project, run from a scratch folder, with a secret in the environment."""
    monkeypatch.setenv("COALITION_SMTP_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)
    return project


def assert_nothing_leaked(result, out, marker) -> None:
    """No command ran, and the secret is in no output file and no message."""
    assert not marker.exists(), "the template ran a shell command"
    assert PASSWORD not in result.output + result.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
            if path.suffix == ".pdf":
                assert PASSWORD not in "".join(page_texts(path)), path


@pytest.mark.parametrize("payload", CODE_PAYLOADS)
def test_a_hostile_letter_template_runs_nothing_and_fails_at_its_line(payload, cli, hostile, tmp_path):
    template = hostile / "styles/coalition/letter.html.j2"
    edit(template, '<p class="subject">', f'{payload}\n  <p class="subject">')
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", hostile, "--out", out)
    assert_nothing_leaked(result, out, tmp_path / "MARKER")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output + result.stderr
    assert f"styles/coalition/letter.html.j2:{line_of(template, payload[:20])}: template" in result.stderr


def test_probing_for_internals_prints_nothing(cli, hostile, tmp_path):
    """Payloads that only print what they reach, if they reach it: the letter builds, and shows none of it."""
    template = hostile / "styles/coalition/letter.html.j2"
    probes = ["page.__class__", "page.__init__", "page.__dict__", "cycler", "lipsum", "config", "namespace", "joiner",
              "self._TemplateReference__context", "range.__self__"]
    edit(template, '<p class="subject">',
         "".join(f"{{% if {probe} is defined %}}LEAK[{{{{ {probe} }}}}]{{% endif %}}" for probe in probes)
         + '\n  <p class="subject">')
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", hostile, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert_nothing_leaked(result, out, tmp_path / "MARKER")
    pdfs = list(out.rglob("*.pdf"))
    assert pdfs and not any("LEAK" in "".join(page_texts(path)) for path in pdfs)


def test_a_symlinked_include_to_a_file_outside_is_refused(cli, hostile, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text(PASSWORD)
    os.symlink(secret, hostile / "styles/coalition/notes.html.j2")
    template = hostile / "styles/coalition/letter.html.j2"
    edit(template, '<p class="subject">', '{% include "notes.html.j2" %}\n  <p class="subject">')
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", hostile, "--out", out)
    assert_nothing_leaked(result, out, tmp_path / "MARKER")
    assert result.exit_code == 1
    assert "notes.html.j2" in result.stderr and "outside the style's and campaign's folders" in result.stderr


@pytest.mark.parametrize("name", ["../../letters/march-2020/campaign.yaml", "/etc/passwd",
                                  "fonts/../../../letters/references.yaml"])
def test_an_include_by_path_out_of_the_chain_is_refused(name, cli, hostile, tmp_path):
    template = hostile / "styles/coalition/letter.html.j2"
    edit(template, '<p class="subject">', f'{{% include "{name}" %}}\n  <p class="subject">')
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", hostile, "--out", out)
    assert result.exit_code == 1
    assert not (out / "march-2020").exists()
    assert "root:" not in result.stderr and "not found" in result.stderr


def test_a_hostile_cover_template_in_the_campaign_runs_nothing(cli, hostile, tmp_path):
    cover = hostile / "letters/march-2020/cover.txt.j2"
    cover.write_text("{{ cover.salutation }}\n{{ cover.__class__.__init__.__globals__['os'].system('touch MARKER') }}\n")
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", hostile, "--out", out)
    assert_nothing_leaked(result, out, tmp_path / "MARKER")
    assert result.exit_code == 1
    assert "letters/march-2020/cover.txt.j2:2: template" in result.stderr


def test_a_string_cannot_reach_into_its_values(cli, hostile, tmp_path):
    """{placeholders} in the style's strings are plain substitution, not str.format: no attribute walks."""
    edit(hostile / "styles/base/style.yaml", '"{count} organisation"', '"{count.__class__.__mro__} organisation"')
    edit(hostile / "styles/base/style.yaml", '"{count} organisations"',
         '"{count.__init__.__globals__} {count} organisations"')
    out = tmp_path / "out"
    result = cli("build", "march-2020", "--root", hostile, "--out", out)
    assert result.exit_code == 0, result.stderr
    cover = next(out.rglob("*.eml")).read_bytes().decode()
    assert "{count.__init__.__globals__}" in cover and "<class" not in cover


def test_a_template_failing_at_run_time_is_reported_at_its_own_file_and_line(cli, project, tmp_path):
    template = project / "styles/base/proof.html.j2"
    edit(template, '<div class="proof-id">', '{{ page.strings["no_such_string"] }}\n<div class="proof-id">')
    result = cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert f"styles/base/proof.html.j2:{line_of(template, 'no_such_string')}: template uses an undefined value" \
        in result.stderr
