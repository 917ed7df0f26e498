"""The translation guard: each translation records what it was translated from, one fingerprint per unit.

A unit is a paragraph or a footnote of the original, as compose numbers them. When the original changes, the
build names the translations made from the old text and the units that changed (a warning for proofs, an error
for the final build). Footnote parity: every translation cites the same references in the same order.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import re
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .. import schema
from ..errors import CoalitionError, Problems
from ..files import write_atomically
from ..model import Campaign, Letter, LetterSource, Unit
from ..yamlfile import YamlDocument

FRONT_MATTER = re.compile(r"\A---(\r?\n)(.*?)(?:\r?\n)---(?:\r?\n|\Z)", re.DOTALL)


def fingerprint(unit: Unit) -> str:
    """A short hash of the unit's Markdown with white space folded, so re-wrapping a line changes nothing."""
    return hashlib.sha256(" ".join(unit.source.split()).encode()).hexdigest()[:12]


def units(letter: Letter) -> tuple[Unit, ...]:
    """Every unit a translator translates: the paragraphs, then the footnotes."""
    return letter.paragraphs + letter.footnotes


def check_translations(campaign: Campaign, letters: dict[str, Letter], problems: Problems, final: bool) -> None:
    """Stale translations (an error when `final`, else a warning) and footnote parity, for every translation."""
    original = campaign.sources[0] if campaign.sources else None
    if original is None or original.language != campaign.languages[0] or original.language not in letters:
        return
    for source in campaign.sources[1:]:
        if not source.front_matter_readable:
            continue
        record = translation_record(source, campaign, problems)
        if record is None:
            continue
        check_fresh(source, letters[original.language], record, problems, final)
        if source.language in letters:
            check_parity(letters[original.language], letters[source.language], source, problems)


def translation_record(source: LetterSource, campaign: Campaign, problems: Problems) -> dict | None:
    """The translation's front matter, checked against schema.TRANSLATION."""
    document = source.front_matter if isinstance(source.front_matter, YamlDocument) else \
        YamlDocument(source.path, {}, {(): 1})
    values = schema.check_record(document, schema.TRANSLATION, problems)
    if values and values["translated_from"] != campaign.languages[0]:
        problems.add(source.path, 2, f"translated_from: {values['translated_from']!r} is not the original language "
                     f"({campaign.languages[0]!r})", "translate from the original, the campaign's first language")
        return None
    return values


def check_fresh(source: LetterSource, original: Letter, record: dict, problems: Problems, final: bool) -> None:
    """The translation was made from the original as it is now; else name the units that changed."""
    report = problems.add if final else problems.warn
    front = source.front_matter if isinstance(source.front_matter, YamlDocument) else None
    line = front.line(("source_fingerprints",)) if front else 1
    recorded = record["source_fingerprints"]
    command = f"coalition translated {source.path.parent.name} {source.language}"
    if recorded is None:
        report(source.path, line, "the translation does not record which text of the original it was made from",
               f"check it against letter.{original.language}.md, then run '{command}'")
        return
    current = units(original)
    matcher = difflib.SequenceMatcher(a=list(recorded), b=[fingerprint(unit) for unit in current], autojunk=False)
    changed = [unit for tag, _, _, start, end in matcher.get_opcodes() if tag != "equal"
               for unit in current[start:end]]
    removed = sum(end - start for tag, start, end, _, _ in matcher.get_opcodes() if tag == "delete")
    if not changed and not removed:
        return
    what = "; ".join(f"{unit.label} (line {unit.line}: {summary(unit.text)})" for unit in changed)
    if removed:
        what += ("; " if what else "") + f"{removed} unit(s) removed"
    report(source.path, line, f"stale translation: letter.{original.language}.md changed since it was translated: "
           f"{what}", f"update the translation, then run '{command}'")


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


def record_fingerprints(source: LetterSource, original: Letter) -> Path:
    """Write the original's current fingerprints into the translation's front matter, keeping all else as it was.

    Comments, key order and the file's line endings survive; the file is replaced in one step.
    """
    raw = source.path.read_bytes().decode("utf-8")
    newline = "\r\n" if "\r\n" in raw else "\n"
    match = FRONT_MATTER.match(raw)
    yaml = YAML()  # round trip: comments and layout are kept
    yaml.width = 4096
    try:
        head = yaml.load(match[2]) if match else None
    except YAMLError as error:
        raise CoalitionError(f"{source.path}: its front matter is not readable YAML ({error}); fix it, then run "
                             "'coalition translated' again") from error
    if head is None:
        head = CommentedMap()
    if not isinstance(head, CommentedMap):
        raise CoalitionError(f"{source.path}: its front matter is not a mapping of fields; see "
                             "'coalition fields' (translation front matter)")
    if "translated_from" not in head:
        head.insert(0, "translated_from", original.language)
    values = CommentedSeq(fingerprint(unit) for unit in units(original))
    values.fa.set_flow_style()
    head["source_fingerprints"] = values
    buffer = io.StringIO()
    yaml.dump(head, buffer)
    front = buffer.getvalue().rstrip("\n").replace("\n", newline)
    body = raw[match.end():] if match else raw
    write_atomically(source.path, f"---{newline}{front}{newline}---{newline}{body}".encode())
    return source.path
