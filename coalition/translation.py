"""The translation guard: each translation records what it was translated from, one fingerprint per paragraph.

When the original changes, the build names the translations made from the old text and the paragraphs that
changed (a warning for proofs, an error for the final build). Footnote parity: every translation cites the same
references in the same order as the original.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from . import schema
from .compose import PARSER
from .errors import CoalitionError, Problems
from .model import Campaign, Letter, LetterSource
from .yamlfile import YamlDocument


@dataclass(frozen=True)
class Unit:
    """A paragraph (or list, quote, heading) of the body, or a footnote: what a translator translates as one."""

    label: str  # "paragraph 3", "footnote [^1]"
    line: int
    text: str

    @property
    def fingerprint(self) -> str:
        """A short hash of the unit's text with white space folded, so re-wrapping a line changes nothing."""
        return hashlib.sha256(" ".join(self.text.split()).encode()).hexdigest()[:12]


def units(source: LetterSource) -> list[Unit]:
    """The body's top-level blocks in order, then its footnote definitions in order."""
    lines = source.text.splitlines()
    body, notes, in_notes, note_label = [], [], False, None
    for token in PARSER.parse(source.text):
        if token.type == "footnote_block_open":
            in_notes = True
        elif token.type == "footnote_open":
            note_label = token.meta["label"]
        elif in_notes and token.map and token.level == 1 and token.nesting == 1 and note_label:
            start, end = token.map
            text = FOOTNOTE_PREFIX.sub("", "\n".join(lines[start:end]), count=1)
            notes.append(Unit(f"footnote [^{note_label}]", start + 1, text))
            note_label = None
        elif not in_notes and token.map and token.level == 0 and token.nesting in (0, 1) \
                and token.type != "front_matter":
            start, end = token.map
            body.append(Unit(f"paragraph {len(body) + 1}", start + 1, "\n".join(lines[start:end])))
    return body + notes


FOOTNOTE_PREFIX = re.compile(r"^ {0,3}\[\^[^\]\s]+\]:\s*")


def fingerprints(source: LetterSource) -> tuple[str, ...]:
    """The fingerprint of every unit of `source`, in order."""
    return tuple(unit.fingerprint for unit in units(source))


def check_translations(campaign: Campaign, letters: dict, problems: Problems, final: bool) -> None:
    """Stale translations (an error when `final`, else a warning) and footnote parity, for every translation."""
    original = campaign.sources[0] if campaign.sources else None
    if original is None or original.language != campaign.languages[0]:
        return
    for source in campaign.sources[1:]:
        if not source.front_matter_readable:
            continue
        record = translation_record(source, campaign, problems)
        if record is None:
            continue
        check_fresh(source, original, record, problems, final)
        if source.language in letters and original.language in letters:
            check_parity(letters[original.language], letters[source.language], source, problems)


def translation_record(source: LetterSource, campaign: Campaign, problems: Problems) -> dict | None:
    """The translation's front matter, checked against schema.TRANSLATION."""
    document = source.front_matter or YamlDocument(source.path, {}, {(): 1})
    values = schema.check_record(document, schema.TRANSLATION, problems)
    if values and values["translated_from"] != campaign.languages[0]:
        problems.add(source.path, 2, f"translated_from: {values['translated_from']!r} is not the original language "
                     f"({campaign.languages[0]!r})", "translate from the original, the campaign's first language")
        return None
    return values


def check_fresh(source: LetterSource, original: LetterSource, record: dict, problems: Problems, final: bool) -> None:
    """The translation was made from the original as it is now; else name the paragraphs that changed."""
    report = problems.add if final else problems.warn
    line = source.front_matter.line(("source_fingerprints",)) if source.front_matter else 1
    recorded = record["source_fingerprints"]
    command = f"coalition translated {source.path.parent.name} {source.language}"
    if recorded is None:
        report(source.path, line, "the translation does not record which text of the original it was made from",
               f"check it against letter.{original.language}.md, then run '{command}'")
        return
    current = units(original)
    changes = difflib.SequenceMatcher(a=list(recorded), b=[unit.fingerprint for unit in current], autojunk=False)
    changed = [unit for tag, _, _, start, end in changes.get_opcodes() if tag != "equal"
               for unit in current[start:end]]
    removed = sum(end - start for tag, start, end, _, _ in changes.get_opcodes() if tag == "delete")
    if not changed and not removed:
        return
    what = "; ".join(f"{unit.label} (line {unit.line}: {summary(unit.text)})" for unit in changed)
    if removed:
        what += ("; " if what else "") + f"{removed} unit(s) removed"
    report(source.path, line, f"stale translation: letter.{original.language}.md changed since it was translated: {what}",
           f"update the translation, then run '{command}'")


def check_parity(original: Letter, translation: Letter, source: LetterSource, problems: Problems) -> None:
    """The translation cites the same references in the same order as the original."""
    known = original.campaign.references or {}
    if original.cited == translation.cited or not all(known.get(key) for key in original.cited + translation.cited):
        return  # an unknown or broken key is reported where it stands
    for index, (expected, found) in enumerate(zip(original.cited, translation.cited)):
        if expected != found:
            problems.add(source.path, translation.citation_lines[index], f"citation {index + 1} is [@{found}] where "
                         f"the original cites [@{expected}]", "cite the same references in the same order")
            return
    shorter, longer = sorted((original.cited, translation.cited), key=len)
    adds = len(translation.cited) > len(original.cited)
    extra = ", ".join(f"[@{key}]" for key in longer[len(shorter):])
    # where the difference shows: the first extra citation, or after the translation's last one
    line = translation.citation_lines[len(shorter)] if adds else (translation.citation_lines or [0])[-1]
    problems.add(source.path, line, f"the translation {'adds' if adds else 'is missing'} citation(s) {extra} "
                 "compared with the original", "cite the same references in the same order")


def summary(text: str, width: int = 48) -> str:
    """The start of a paragraph, for a message."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def record_fingerprints(root: Path, campaign_id: str, language: str) -> Path:
    """Write the original's current fingerprints into letter.<language>.md's front matter; return its path."""
    from .load import load_campaign

    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    problems.check()
    if language not in campaign.languages[1:]:
        raise CoalitionError(f"{language!r} is not a translation of {campaign_id}: its translations are "
                             f"{', '.join(campaign.languages[1:]) or 'none'}")
    source, original = campaign.source(language), campaign.sources[0]
    value = "[" + ", ".join(fingerprints(original)) + "]"
    text = source.text
    if source.front_matter is None:
        text = f"---\ntranslated_from: {original.language}\n---\n" + text
    head, separator, body = text[4:].partition("\n---\n")
    kept, skipping = [], False
    for line in head.splitlines():
        # drop the old value, including a block list under it
        skipping = line.startswith("source_fingerprints:") or (skipping and line[:1] in (" ", "-"))
        if not skipping:
            kept.append(line)
    kept.append(f"source_fingerprints: {value}")
    source.path.write_text("---\n" + "\n".join(kept) + "\n---\n" + body, encoding="utf-8")
    return source.path
