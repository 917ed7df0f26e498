"""Markdown to letter HTML: footnotes inline at their calls, citations from the library, raw HTML refused."""

from __future__ import annotations

import dataclasses

import pytest

from coalition.compose import compose
from coalition.errors import Problems
from coalition.load import load_campaign
from coalition.model import LetterSource
from helpers import frozen_project


@pytest.fixture(scope="module")
def campaign():
    return load_campaign(frozen_project(), "march-2020", Problems(frozen_project()))


def letter_of(campaign, text: str):
    source = LetterSource("en", campaign.folder / "letter.en.md", text, {}, 1)
    problems = Problems(frozen_project())
    return compose(campaign, source, problems), [str(problem) for problem in problems.found]


def test_footnotes_become_inline_notes_and_the_endnote_list_is_dropped(campaign):
    letter, problems = letter_of(campaign, "Text.[^a] More.[^b]\n\n[^a]: First.\n[^b]: Second [@mandela-rules|url].\n")
    assert problems == []
    assert letter.body_html == (
        '<p>Text.<span class="footnote">First.</span> More.<span class="footnote">Second <a class="url" '
        'href="https://www.un.org/ga/search/viewm_doc.asp?symbol=A/RES/70/175">'
        "https://www.un.org/ga/search/viewm_doc.asp?symbol=A/RES/70/175</a>.</span></p>\n")
    assert [unit.text for unit in letter.footnotes] == [
        "First.", "Second https://www.un.org/ga/search/viewm_doc.asp?symbol=A/RES/70/175."]
    assert letter.cited == ("mandela-rules",)
    assert "footnote-ref" not in letter.body_html and "<hr" not in letter.body_html


def test_the_seed_footnotes_come_out_as_the_seed_has_them(campaign):
    source = campaign.source("en")
    problems = Problems(frozen_project())
    letter = compose(campaign, source, problems)
    assert problems.found == []
    assert letter.footnotes[1].text == ("See statement of March 25, "
                                   "https://www.ohchr.org/Documents/HRBodies/OPCAT/AdviceStatePartiesCoronavirusPandemic2020.pdf")
    assert letter.footnotes[0].text.startswith("Committee on Economic, Social and Cultural Rights, General Comment No. 14 "
                                          "on the right to health, para. 34; UN Standard Minimum Rules")
    assert letter.cited == ("cescr-gc14", "mandela-rules", "spt-covid-advice", "ohchr-detention-statement")


@pytest.mark.parametrize("text, expected", [
    ("One.[^1]\n\n[^1]: a\n[^1]: b\n", "letter.en.md:4: footnote [^1] is defined twice (first on line 3)"),
    ("One.\n\n[^9]: never called\n", "letter.en.md:3: footnote [^9] is defined but never called"),
    ("One.[^2]\n", "letter.en.md:1: footnote [^2] is called but not defined"),
    ("One.[^1] Two.[^1]\n\n[^1]: a\n", "letter.en.md:1: footnote [^1] is called twice"),
    ("First.\n\nSecond <script>alert(1)</script>.\n", "letter.en.md:3: raw HTML refused: '<script>'"),
    ("<div>block</div>\n", "letter.en.md:1: raw HTML refused: '<div>block</div>'"),
    ("See [@no-such-key].\n", "letter.en.md:1: unknown reference [@no-such-key]"),
    ("A [link](javascript:alert(1)).\n", "letter.en.md:1: link to"),
    ("Logo ![x](logo.png).\n", "letter.en.md:1: image 'logo.png' refused"),
    ("\n\n", "letter.en.md:1: the letter is empty"),
])
def test_mistakes_are_named_with_their_line(campaign, text, expected):
    _, problems = letter_of(campaign, text)
    assert any(problem.startswith(f"letters/march-2020/{expected}") for problem in problems), problems


def test_text_is_escaped_never_passed_through(campaign):
    letter, problems = letter_of(campaign, "Fish & chips < 5 > 3 \"quoted\".\n")
    assert problems == []
    assert letter.body_html == '<p>Fish &amp; chips &lt; 5 &gt; 3 "quoted".</p>\n'


def test_citation_titles_follow_the_language(campaign):
    source = LetterSource("ru", campaign.folder / "letter.ru.md", "Текст.[^1]\n\n[^1]: [@mandela-rules|title]\n", {}, 1)
    problems = Problems(frozen_project())
    letter = compose(dataclasses.replace(campaign, languages=("en", "ru")), source, problems)
    assert [unit.text for unit in letter.footnotes] == [
        "Минимальные стандартные правила Организации Объединенных Наций в отношении обращения с заключенными "
        "(Правила Нельсона Манделы), резолюция, принятая Генеральной Ассамблеей 17 декабря 2015 года, A/RES/70/175"]
