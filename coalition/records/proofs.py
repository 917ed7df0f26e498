"""Proof IDs and the proof history: what each language's signatories are asked to approve, kept for change reports.

A proof ID is a short hash of everything a signatory is asked to approve in one language: the body with its
footnotes and citations as rendered, the subject, place, date and closing, and everything else the letters in that
language print: for each recipient who reads it, the text the style's template and strings put around the body
(letterhead, address, salutation, closing, copies), and the text the style's CSS prints (`content:`). The
signatory list is printed on the proof but is not part of the ID, so a late co-signer does not make everyone
approve again. Each proof is kept in letters/<campaign>/proofs/<id>.json (it survives deleting out/), so that a
change report can be made between any two proofs.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import Problems
from ..files import write_atomically
from ..schema import PROOF_ID
from ..model import Campaign, Letter
from ..printed import BODY_PLACE, letter_date, stylesheet_texts, visible_text

HISTORY = "proofs"


@dataclass(frozen=True)
class Proof:
    """The text one language's signatories approve, as a record that outlives the build."""

    id: str
    language: str
    subject: str
    place: str
    date: str
    closing: str
    paragraphs: tuple[str, ...]
    footnotes: tuple[str, ...]
    signatories: tuple[str, ...]  # printed on the proof, not part of the ID
    frames: tuple[tuple[str, str], ...] = ()  # ("letter to <recipient>", the text printed around the body)
    styled: str = ""  # the text the style's CSS prints (`content:` values)

    def units(self) -> list[tuple[str, str]]:
        """Everything approved, as (label, text): the heading lines, each paragraph, each footnote, the text
        around the body in each recipient's letter, and what the stylesheets print."""
        return ([("subject", self.subject), ("place and date", f"{self.place}, {self.date}")]
                + [(f"paragraph {number}", text) for number, text in enumerate(self.paragraphs, start=1)]
                + [("closing", self.closing)]
                + [(f"footnote {number}", text) for number, text in enumerate(self.footnotes, start=1)]
                + list(self.frames)
                + ([("text printed by the style's stylesheets", self.styled)] if self.styled else []))


def language_of(proof_id: str) -> str:
    """The language a proof ID is of ('zh-Hant-0123456789' -> 'zh-Hant')."""
    return proof_id.rsplit("-", 1)[0]


def proof_of(campaign: Campaign, letter: Letter) -> Proof:
    """The proof of `letter`, with its ID."""
    language = letter.language
    frames, inline_css = letter_frames(campaign, letter)
    styled = " | ".join(dict.fromkeys((*(stylesheet_texts(campaign.style) if campaign.style else ()), *inline_css)))
    approved: dict[str, object] = {
        "language": language,
        "subject": campaign.subject.get(language),
        "place": campaign.place.get(language),
        "date": letter_date(campaign, language),
        "closing": campaign.closing.get(language),
        "body": letter.body_html,  # footnotes and citations are inline in it, as rendered
        "frames": [list(frame) for frame in frames],
        "styled": styled,
    }
    digest = hashlib.sha256(json.dumps(approved, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Proof(f"{language}-{digest[:10]}", language, campaign.subject.get(language),
                 campaign.place.get(language), letter_date(campaign, language), campaign.closing.get(language),
                 tuple(unit.text for unit in letter.paragraphs), tuple(unit.text for unit in letter.footnotes),
                 tuple(signatory.name.get(language) for signatory in campaign.signatories), frames, styled)


def letter_frames(campaign: Campaign, letter: Letter) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """For each recipient who reads the letter's language, the text its letter prints around the body (the
    letterhead, the address, the salutation, the closing, copies), rendered with the style's own template; and
    the `content:` values of the <style> elements the template writes.

    Rendered without signatories (they are not part of the ID) and without proof marks; a template that fails
    gives no frame here, its problem is reported by the template check.
    """
    from ..render import Renderer  # rendering is a later stage than the records; imported only when needed

    if campaign.style is None or not campaign.style.template:
        return (), ()
    unsigned = dataclasses.replace(campaign, signatories=())
    renderer = Renderer(unsigned, Problems(campaign.folder))
    placeholder = dataclasses.replace(letter, body_html=BODY_PLACE)
    frames: list[tuple[str, str]] = []
    inline_css: list[str] = []
    for recipient in campaign.recipients:
        if letter.language not in recipient.languages:
            continue
        html = renderer.html(placeholder, recipient)
        if html is not None:
            text, css = visible_text(html)
            if recipient.cc and recipient.channel == "email":  # not printed, but the letter goes to them too
                text += " | Cc: " + ", ".join(recipient.cc)
            frames.append((f"letter to {recipient.name.get(letter.language)} ({recipient.id})", text))
            inline_css += css
    return tuple(frames), tuple(dict.fromkeys(inline_css))


def history_folder(campaign: Campaign) -> Path:
    """Where the campaign's proofs are kept."""
    return campaign.folder / HISTORY


def record_proof(campaign: Campaign, proof: Proof, made: datetime.datetime) -> Path:
    """Keep `proof` in the history (once: a proof made again keeps the date it was first made)."""
    path = history_folder(campaign) / f"{proof.id}.json"
    if path.exists():
        return path
    record = {"id": proof.id, "language": proof.language, "made": made.isoformat(timespec="seconds"),
              "subject": proof.subject, "place": proof.place, "date": proof.date, "closing": proof.closing,
              "paragraphs": list(proof.paragraphs), "footnotes": list(proof.footnotes),
              "signatories": list(proof.signatories), "frames": [list(frame) for frame in proof.frames],
              "styled": proof.styled}
    write_atomically(path, (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode())
    return path


def read_proof(campaign: Campaign, proof_id: str) -> tuple[Proof, str] | None:
    """A proof from the history and the time it was made, or None if it was never made."""
    path = history_folder(campaign) / f"{proof_id}.json"
    if not PROOF_ID.match(proof_id) or not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    proof = Proof(record["id"], record["language"], record["subject"], record["place"], record["date"],
                  record["closing"], tuple(record["paragraphs"]), tuple(record["footnotes"]),
                  tuple(record["signatories"]),
                  # proofs made before the ID covered the whole printed letter have neither
                  tuple((str(label), str(text)) for label, text in record.get("frames", [])),
                  str(record.get("styled", "")))
    return proof, record["made"]


def previous_proof(campaign: Campaign, proof: Proof) -> Proof | None:
    """The proof of the same language made most recently before `proof` (other than `proof` itself)."""
    found = []
    for path in history_folder(campaign).glob(f"{proof.language}-*.json"):
        entry = read_proof(campaign, path.stem)
        if entry and entry[0].id != proof.id and entry[0].language == proof.language:
            found.append((entry[1], entry[0]))
    return max(found, key=lambda pair: pair[0])[1] if found else None
