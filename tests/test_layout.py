"""Layout: every footnote on its call's page, no text off the page, nothing silently dropped (issue 12).

Letters are rendered in-process from Markdown written here (tests/letters_in_process.py) and read back from the
PDF with pypdfium2's character boxes.
"""

from __future__ import annotations

import pytest

import coalition.pdf
from coalition.compose import compose
from coalition.errors import Problems
from coalition.model import LetterSource
from helpers import copy_project
from letters_in_process import LetterPress
from pdf_boxes import call_tag, characters_off_page, footnote_pages, note_tag, page_texts

FILLER = {
    "en": "the government must release the detained defender at once and ensure his medical care",
    "ru": "правительство должно немедленно освободить задержанного правозащитника и обеспечить помощь",
    "fr": "le gouvernement doit libérer immédiatement le défenseur détenu et garantir ses soins médicaux",
    "de": "die Regierung muss den inhaftierten Verteidiger sofort freilassen und seine Versorgung sichern",
}


def words(language: str, count: int) -> str:
    """`count` words of plausible text in `language`, as a sentence."""
    vocabulary = FILLER[language].split()
    return " ".join(vocabulary[index % len(vocabulary)] for index in range(count)).capitalize() + "."


def call_near_the_foot(language: str) -> str:
    """A letter whose first note is long and called near the foot of page 1: the case WeasyPrint gets wrong."""
    return (f"{words(language, 250)}\n\n{words(language, 40)} {call_tag(1)}[^1] {words(language, 10)}\n\n"
            f"{words(language, 100)} {call_tag(2)}[^2]\n\n{words(language, 200)}\n\n"
            f"[^1]: {note_tag(1)} {words(language, 120)}\n\n[^2]: {note_tag(2)} {words(language, 60)}\n")


@pytest.fixture(scope="module")
def presses(tmp_path_factory):
    """A LetterPress per shipped letterhead."""
    root = tmp_path_factory.mktemp("layout")
    return {style: LetterPress(copy_project(root / style), style) for style in ("coalition", "urgent-action")}


@pytest.mark.parametrize("style", ["coalition", "urgent-action"])
@pytest.mark.parametrize("language", ["en", "ru", "fr", "de"])
def test_a_long_note_called_near_the_foot_of_a_page_is_printed_on_that_page(presses, style, language):
    result, problems = presses[style].render(call_near_the_foot(language), language)
    assert not problems.found and not result.layout
    calls, notes = footnote_pages(result.pdf, 2)
    assert calls == notes, f"calls on pages {calls}, notes on pages {notes}"
    assert not characters_off_page(result.pdf)


def test_without_the_pipeline_stylesheet_and_repairs_the_check_sees_notes_on_the_wrong_page(tmp_path, monkeypatch):
    """The reproduction: WeasyPrint on its own moves notes away; the box check names them and the pages."""
    empty = tmp_path / "none.css"
    empty.write_text("")
    monkeypatch.setattr(coalition.pdf, "PIPELINE_CSS", empty)
    monkeypatch.setattr(coalition.pdf, "REPAIRS", 0)
    misplaced = []
    for style in ("coalition", "urgent-action"):
        press = LetterPress(copy_project(tmp_path / style), style)
        for language in ("en", "ru", "fr", "de"):
            result, problems = press.render(call_near_the_foot(language), language)
            calls, notes = footnote_pages(result.pdf, 2)
            wrong = [number for number in (1, 2) if calls[number - 1] != notes[number - 1]]
            # what the PDF shows, the box check must have seen, naming the letter, the note's line and the pages
            assert [fault.footnote for fault in result.layout] == wrong
            for number in wrong:
                misplaced.append((style, language, number))
                line = {1: 9, 2: 11}[number]
                assert any(f"letter.{language}.md:{line}: the {language} letter to 'president': footnote {number} "
                           f"is called on page {calls[number - 1]} but printed on page {notes[number - 1]}"
                           in str(problem) for problem in problems.found), problems.found
    assert misplaced  # the reproduction still reproduces: otherwise this test proves nothing


@pytest.mark.parametrize("body", [
    "A word of ten thousand letters: " + "x" * 10_000 + " ends here.\n",
    "An address: https://example.org/" + "a" * 2_000 + " ends here.\n",
    "> " + "y" * 3_000 + "\n",
    "- " + "z" * 3_000 + "\n",
])
def test_long_words_and_urls_in_the_body_wrap_instead_of_running_off_the_page(presses, body):
    result, problems = presses["coalition"].render(body, "en")
    assert not problems.found and not result.layout
    assert not characters_off_page(result.pdf)


def test_a_footnote_longer_than_a_page_is_an_error_at_its_line(presses):
    body = "A short letter.[^long]\n\n[^long]: " + " ".join(["a note that never ends"] * 900) + "\n"
    result, problems = presses["coalition"].render(body, "en")
    assert any(fault.footnote == 1 and "longer than the room for notes" in fault.message for fault in result.layout)
    assert any(problem.file.endswith("letter.en.md") and problem.line == 3 and "footnote 1 is longer" in
               problem.message for problem in problems.found), problems.found


@pytest.mark.parametrize("body, line", [
    ("Intro.\n\n" + "\n".join("  " * depth + f"- level {depth}" for depth in range(12)) + "\n", 12),
    ("Intro.\n\n" + ">" * 25 + " deep\n", 3),
    ("Intro.[^1]\n\n[^1]: note\n\n" + "\n".join("  " * depth + f"- level {depth}" for depth in range(11)) + "\n", 14),
])
def test_blocks_nested_past_the_parsers_limit_are_an_error_at_their_line(presses, body, line):
    press = presses["coalition"]
    problems = Problems(press.campaign.folder.parent.parent)
    compose(press.campaign, LetterSource("en", press.campaign.folder / "letter.en.md", body, None, 1), problems)
    assert [(problem.line, "nested too deep" in problem.message) for problem in problems.found] == [(line, True)]


def test_nesting_within_the_parsers_limit_is_kept(presses):
    body = "\n".join("  " * depth + f"- level{depth}" for depth in range(9)) + "\n\n" + ">" * 19 + " quoted\n"
    result, problems = presses["coalition"].render(body, "en")
    assert not problems.found
    text = "".join(page_texts(result.pdf)).replace("\u2011", "")
    assert all(f"level{depth}" in text for depth in range(9)) and "quoted" in text
