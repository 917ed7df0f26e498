"""Change reports: what differs between two proofs of one language, unit by unit and word by word."""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .records.proofs import Proof

TEMPLATES = Path(__file__).parent / "templates"
# Scripts written without spaces between words: there a change is marked character by character.
UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[{UNSPACED}]|\s+|[^\s{UNSPACED}]+")


class Mark(enum.StrEnum):
    """How a run of text fared between two proofs."""

    SAME = "same"
    REMOVED = "removed"
    ADDED = "added"


@dataclass(frozen=True)
class Change:
    """One unit that differs between two proofs: its label, and the old and new text (None: added or removed)."""

    label: str
    old: str | None
    new: str | None

    def runs(self) -> list[tuple[Mark, str]]:
        """The change as marked runs: the whole unit added or removed, or a word-by-word difference."""
        if self.old is None:
            return [(Mark.ADDED, self.new or "")]
        if self.new is None:
            return [(Mark.REMOVED, self.old)]
        return word_diff(self.old, self.new)


def changes(old: Proof, new: Proof) -> list[Change]:
    """What differs between two proofs of one language, unit by unit."""
    old_units, new_units = old.units(), new.units()
    matcher = difflib.SequenceMatcher(a=[text for _, text in old_units], b=[text for _, text in new_units],
                                      autojunk=False)
    found = []
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        olds, news = old_units[a_start:a_end], new_units[b_start:b_end]
        for index in range(max(len(olds), len(news))):
            before = olds[index] if index < len(olds) else None
            after = news[index] if index < len(news) else None
            label = (after or before or ("", ""))[0]
            found.append(Change(label, before[1] if before else None, after[1] if after else None))
    return found


def word_diff(old: str, new: str) -> list[tuple[Mark, str]]:
    """The two texts as marked runs: by word where the script spaces its words, by character where it does not."""
    old_tokens, new_tokens = TOKEN.findall(old), TOKEN.findall(new)
    runs: list[tuple[Mark, str]] = []
    for tag, a_start, a_end, b_start, b_end in difflib.SequenceMatcher(
            a=old_tokens, b=new_tokens, autojunk=False).get_opcodes():
        if tag == "equal":
            runs.append((Mark.SAME, "".join(old_tokens[a_start:a_end])))
            continue
        if a_end > a_start:
            runs.append((Mark.REMOVED, "".join(old_tokens[a_start:a_end])))
        if b_end > b_start:
            runs.append((Mark.ADDED, "".join(new_tokens[b_start:b_end])))
    return runs


def signatory_changes(old: Proof, new: Proof) -> tuple[list[str], list[str]]:
    """Who joined and who left between two proofs."""
    return ([name for name in new.signatories if name not in old.signatories],
            [name for name in old.signatories if name not in new.signatories])


def change_report_text(old: Proof, new: Proof) -> str:
    """The change report in plain text: [-removed-] and {+added+}."""
    marked = {Mark.SAME: "{}", Mark.REMOVED: "[-{}-]", Mark.ADDED: "{{+{}+}}"}
    lines = [f"Changes from proof {old.id} to proof {new.id}", ""]
    found = changes(old, new)
    for change in found:
        lines.append(f"{change.label}:")
        lines.append("  " + "".join(marked[mark].format(text) for mark, text in change.runs()))
        lines.append("")
    if not found:
        lines += ["The text is the same.", ""]
    joined, left = signatory_changes(old, new)
    for verb, names in (("joined", joined), ("left", left)):
        if names:
            lines.append(f"Signatories who {verb}: {', '.join(names)}")
    return "\n".join(lines).rstrip() + "\n"


_ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def change_report_html(old: Proof, new: Proof) -> str:
    """The change report as a readable HTML page: removed words struck through in red, added words in green."""
    joined, left = signatory_changes(old, new)
    return _ENVIRONMENT.get_template("change-report.html.j2").render(
        old=old, new=new, changes=changes(old, new), joined=joined, left=left)
