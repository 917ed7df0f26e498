"""Where text landed in a built PDF, read back with pypdfium2: each page's text and its characters' boxes.

Test letters tag their footnotes so that they can be found in the PDF: the word before call N is `CALL<N>x`, and
note N starts with `NOTE<N>x`. The call then prints as `CALL<N>x<N>` (the number WeasyPrint raises) and the note
as `<N>. NOTE<N>x` (its marker).
"""

from __future__ import annotations

import re

import pypdfium2 as pdfium


def call_tag(number: int) -> str:
    """The word written just before footnote call `number`."""
    return f"CALL{number}x"


def note_tag(number: int) -> str:
    """The word footnote `number` starts with."""
    return f"NOTE{number}x"


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text, white space removed (lines break anywhere in a long note)."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [re.sub(r"\s+", "", page.get_textpage().get_text_range()) for page in document]
    finally:
        document.close()


def footnote_pages(pdf: bytes, count: int) -> tuple[list[int], list[int]]:
    """The pages on which each footnote's call (tag and number) and its note (marker and tag) are printed.

    A number is the 1-based page, 0 where it is not found; a call or note found on two pages lists the first.
    """
    texts = page_texts(pdf)

    def page_of(pattern: str) -> int:
        return next((number for number, text in enumerate(texts, start=1) if pattern in text), 0)

    calls = [page_of(f"{call_tag(number)}{number}") for number in range(1, count + 1)]
    notes = [page_of(f"{number}.{note_tag(number)}") for number in range(1, count + 1)]
    return calls, notes


def characters_off_page(pdf: bytes, tolerance: float = 0.5) -> list[tuple[int, str]]:
    """Every visible character whose box is not wholly inside its page, as (page number, character)."""
    off = []
    document = pdfium.PdfDocument(pdf)
    try:
        for number, page in enumerate(document, start=1):
            width, height = page.get_width(), page.get_height()
            text = page.get_textpage()
            for index in range(text.count_chars()):
                character = text.get_text_range(index, 1)
                if not character.strip():
                    continue
                left, bottom, right, top = text.get_charbox(index)
                if left < -tolerance or bottom < -tolerance or right > width + tolerance or top > height + tolerance:
                    off.append((number, character))
    finally:
        document.close()
    return off
