"""The translation guard: stale translations named with their changed paragraphs; footnote parity."""

from __future__ import annotations

from pathlib import Path

from coalition.compose import compose_letters
from coalition.errors import Problems
from coalition.load import load_campaign
from coalition.checks.translations import check_translations, units
from helpers import edit, line_of

LETTER = Path("letters/march-2020/letter.en.md")
CHANGED = "We thank you for your attention to this urgent matter."


def guard(project: Path, final: bool) -> Problems:
    problems = Problems(project)
    campaign = load_campaign(project, "march-2020", problems)
    check_translations(campaign, compose_letters(campaign, problems), problems, final=final)
    return problems


def test_units_are_the_paragraphs_then_the_footnotes(project):
    problems = Problems(project)
    campaign = load_campaign(project, "march-2020", problems)
    letters = compose_letters(campaign, problems)
    labels = [unit.label for unit in units(letters["en"])]
    assert labels == [f"paragraph {number}" for number in range(1, 11)] + [f"footnote {n}" for n in (1, 2, 3)]
    assert [unit.label for unit in units(letters["ru"])] == labels


def test_an_edited_english_paragraph_makes_the_final_build_name_each_translation_and_the_paragraph(project, cli,
                                                                                                    tmp_path):
    edit(project / LETTER, CHANGED, "We thank you for your kind attention to this urgent matter.")
    line = line_of(project / LETTER, "kind attention")
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    for language in ("ru", "ky"):
        path = f"letters/march-2020/letter.{language}.md"
        record = line_of(project / path, "source_fingerprints:")
        assert (f"{path}:{record}: stale translation: letter.en.md changed since it was translated: paragraph 10 "
                f"(line {line}: We thank you for your kind attention") in result.stderr
        assert f"(update the translation, then run 'coalition translated march-2020 {language}')" in result.stderr
    assert not (tmp_path / "out" / "march-2020").exists()


def test_a_proof_build_only_warns(project):
    edit(project / LETTER, CHANGED, "We thank you for your kind attention to this urgent matter.")
    problems = guard(project, final=False)
    assert problems.found == []
    assert sorted(warning.file for warning in problems.warnings) == ["letters/march-2020/letter.ky.md",
                                                                      "letters/march-2020/letter.ru.md"]


def test_rewrapping_a_paragraph_is_no_change(project):
    edit(project / LETTER, "the humanitarian imperative of", "the humanitarian imperative\nof")
    assert guard(project, final=True).found == []


def test_recording_the_fingerprints_makes_the_translation_current_again(project, cli):
    edit(project / LETTER, CHANGED, "We thank you for your kind attention to this urgent matter.")
    assert cli("translated", "march-2020", "ru", "--root", project).exit_code == 0
    problems = guard(project, final=True)
    assert [problem.file for problem in problems.found] == ["letters/march-2020/letter.ky.md"]
    assert "reviewed: false" in (project / "letters/march-2020/letter.ru.md").read_text(encoding="utf-8")


def test_a_translation_citing_other_references_is_named_where_it_differs(project):
    path = project / "letters/march-2020/letter.ru.md"
    edit(path, "[^3]: [@ohchr-detention-statement]", "[^3]: [@hrc-askarov-2016]")
    problems = guard(project, final=True)
    line = line_of(path, "[@hrc-askarov-2016]")
    assert [str(problem) for problem in problems.found] == [
        f"letters/march-2020/letter.ru.md:{line}: citation 4 is [@hrc-askarov-2016] where the original cites "
        "[@ohchr-detention-statement] (cite the same references in the same order)"]


def test_a_translation_without_a_record_of_its_source(project):
    path = project / "letters/march-2020/letter.ky.md"
    text = path.read_text(encoding="utf-8")
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("source_fingerprints")) + "\n",
                    encoding="utf-8")
    [problem] = guard(project, final=True).found
    assert str(problem).startswith("letters/march-2020/letter.ky.md:2: the translation does not record which text")


def test_recording_keeps_windows_line_endings_comments_and_the_body(project, cli):
    path = project / "letters/march-2020/letter.ru.md"
    text = path.read_text(encoding="utf-8")
    head, body = text.split("\n---\n", 1)
    head = head.replace("reviewed: false", "reviewed: false  # a second reader is still wanted")
    path.write_bytes((head + "\n---\n" + body).replace("\n", "\r\n").encode())
    edit(project / LETTER, CHANGED, "We thank you for your kind attention to this urgent matter.")
    assert cli("translated", "march-2020", "ru", "--root", project).exit_code == 0
    written = path.read_bytes().decode()
    assert "\n" not in written.replace("\r\n", "")  # every line still ends in CRLF
    front, rest = written.split("\r\n---\r\n", 1)
    assert front.startswith("---\r\ntranslated_from: en\r\n")
    assert "reviewed: false  # a second reader is still wanted" in front and "source_fingerprints: [" in front
    assert rest == body.replace("\n", "\r\n")  # the letter itself untouched
    assert [problem.file for problem in guard(project, final=True).found] == ["letters/march-2020/letter.ky.md"]
    assert not [name for name in path.parent.iterdir() if name.name.startswith(".")]  # no temporary file left
