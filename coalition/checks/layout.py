"""Layout, verified on WeasyPrint's laid-out pages: every footnote on its call's page, no text off the page.

pdf.py reads the facts off the boxes (the only module that knows WeasyPrint); this module judges them and says
what is wrong in the coordinator's words. A letter with a fault is refused, never printed with a note on the
wrong page or words cut off at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LaidOutPage:
    """What one laid-out page holds: footnote calls and notes (by footnote number) and any text off the page."""

    number: int  # 1-based
    calls: tuple[int, ...]
    notes: tuple[int, ...]
    notes_cut: tuple[int, ...]  # notes whose box runs past the page's edges (taller than the room for notes)
    stray_text: tuple[str, ...]  # the start of each run of text that lies, wholly or partly, outside the page


@dataclass(frozen=True)
class LayoutFault:
    """One thing printed in the wrong place: which footnote (None for body text) and on which pages."""

    footnote: int | None
    pages: tuple[int, ...]
    message: str
    hint: str


MOVE_CALL = "shorten the note or the text around its call, or move the call"


def layout_faults(pages: tuple[LaidOutPage, ...]) -> tuple[LayoutFault, ...]:
    """Every footnote whose note is not on its call's page, cut, or missing; every text run off its page."""
    call_pages: dict[int, int] = {}
    note_pages: dict[int, list[int]] = {}
    faults = []
    for page in pages:
        for number in page.calls:
            call_pages.setdefault(number, page.number)
        for number in page.notes:
            note_pages.setdefault(number, []).append(page.number)
    for number, call_page in sorted(call_pages.items()):
        printed = note_pages.get(number, [])
        if not printed:
            faults.append(LayoutFault(number, (call_page,), f"footnote {number} (called on page {call_page}) "
                                      "is not printed", MOVE_CALL))
        elif printed != [call_page]:
            where = ", ".join(str(page) for page in printed)
            faults.append(LayoutFault(number, (call_page, *printed), f"footnote {number} is called on page "
                                      f"{call_page} but printed on page {where}", MOVE_CALL))
    for page in pages:
        for number in page.notes_cut:
            faults.append(LayoutFault(number, (page.number,), f"footnote {number} is longer than the room for "
                                      f"notes on page {page.number}: part of it would be cut off",
                                      "shorten the footnote, or split it into two"))
        if page.stray_text:
            more = f" and {len(page.stray_text) - 1} more runs of text" if len(page.stray_text) > 1 else ""
            faults.append(LayoutFault(None, (page.number,), f"text runs off page {page.number}: "
                                      f"{page.stray_text[0]!r}{more}", "break the text with spaces, or shorten it"))
    return tuple(faults)
