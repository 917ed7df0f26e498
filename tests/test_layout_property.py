"""The done-when of issue 12: generated letters, each read back from its PDF, every note on its call's page.

Letters of random paragraph and footnote lengths, calls anywhere, in en/ru/fr/de, with both shipped letterheads.
Each is rendered in-process and read back with pypdfium2. LAYOUT_EXAMPLES sets how many (default 300).
Six long notes called on one line may need more than a page between them: no layout can place those, and the
build must refuse them. So a refusal is accepted only where the notes called on one page are too long to share it,
and only if it names exactly the notes the PDF shows away from their calls.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import copy_project
from letters_in_process import LANGUAGES, STYLES, LetterPress
from pdf_boxes import call_tag, characters_off_page, footnote_pages, note_tag
from test_layout import FILLER

EXAMPLES = int(os.environ.get("LAYOUT_EXAMPLES", "300"))
# Notes of this many words in all fit on one page with room to spare, in either letterhead and any of the four
# languages (a page's foot holds about 450 Russian words of notes when its body has three lines).
WORDS_THAT_FIT_ON_A_PAGE = 300


@st.composite
def letters(draw):
    """(style, language, Markdown, number of footnotes): paragraphs of 3-220 words, notes of 2-110, calls anywhere."""
    language = draw(st.sampled_from(LANGUAGES))
    style = draw(st.sampled_from(STYLES))
    vocabulary = FILLER[language].split()
    paragraphs = [draw(st.integers(3, 220)) for _ in range(draw(st.integers(1, 7)))]
    notes = draw(st.lists(st.integers(2, 110), max_size=6))
    placed = sorted((draw(st.integers(0, len(paragraphs) - 1)), draw(st.floats(0, 1))) for _ in notes)
    start = draw(st.integers(0, len(vocabulary) - 1))
    words = [[vocabulary[(start + index) % len(vocabulary)] for index in range(length)] for length in paragraphs]
    calls: list[list[tuple[int, int]]] = [[] for _ in paragraphs]
    for number, (paragraph, where) in enumerate(placed, start=1):
        calls[paragraph].append((round(where * len(words[paragraph])), number))
    blocks = []
    for text, inserted in zip(words, calls):
        for position, number in sorted(inserted, reverse=True):  # from the end, so positions stay valid
            text = text[:position] + [f"{call_tag(number)}[^{number}]"] + text[position:]
        sentence = " ".join(text)
        blocks.append(sentence[0].upper() + sentence[1:] + ".")
    return style, language, "\n\n".join(blocks + note_blocks(notes, vocabulary)) + "\n", notes


def note_blocks(notes: list[int], vocabulary: list[str]) -> list[str]:
    """The footnote definitions: note N tagged, then as many words as `notes` gives it."""
    return [f"[^{number}]: {note_tag(number)} " + " ".join(vocabulary[index % len(vocabulary)]
                                                          for index in range(length)) + "."
            for number, length in enumerate(notes, start=1)]


def crowded_letter(style: str, language: str) -> tuple[str, str, str, list[int]]:
    """Six notes called on the first line whose text together needs more than a page: unplaceable, so refused."""
    vocabulary = FILLER[language].split()
    notes = [60, 60, 110, 110, 110, 110]
    body = " ".join(f"{call_tag(number)}[^{number}]" for number in range(1, 7)) + " " + " ".join(vocabulary[:40])
    return style, language, "\n\n".join([body + "."] + note_blocks(notes, vocabulary)) + "\n", notes


@pytest.fixture(scope="module")
def presses(tmp_path_factory):
    """A LetterPress per shipped letterhead."""
    root = tmp_path_factory.mktemp("property")
    return {style: LetterPress(copy_project(root / style), style) for style in STYLES}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(letter=letters())
@example(letter=crowded_letter("coalition", "ru"))
def test_every_generated_letter_prints_each_note_on_its_calls_page(presses, letter):
    style, language, markdown, note_lengths = letter
    result, problems = presses[style].render(markdown, language)
    calls, notes = footnote_pages(result.pdf, len(note_lengths))
    assert all(calls) and all(notes), f"calls on pages {calls}, notes on pages {notes}"
    misplaced = {number for number, (call, note) in enumerate(zip(calls, notes), start=1) if call != note}
    refused = {fault.footnote for fault in result.layout}
    assert refused == misplaced, f"refused notes {refused}, but calls on pages {calls}, notes on pages {notes}"
    words_called_on = {page: sum(length for length, call in zip(note_lengths, calls) if call == page)
                       for page in set(calls)}
    if all(words <= WORDS_THAT_FIT_ON_A_PAGE for words in words_called_on.values()):
        assert not problems.found, "\n".join(str(problem) for problem in problems.found)
    assert not characters_off_page(result.pdf)
