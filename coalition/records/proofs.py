"""Proof IDs and the proof history: what each language's signatories are asked to approve, kept for change reports.

A proof ID is a short hash of everything a signatory is asked to approve in one language: the body with its
footnotes and citations as rendered, the subject, place, date and closing. The signatory list is printed on the
proof but is not part of the ID, so a late co-signer does not make everyone approve again. Each proof is kept in
letters/<campaign>/proofs/<id>.json (it survives deleting out/), so that a change report can be made between any
two proofs.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..files import write_atomically
from ..schema import PROOF_ID
from ..model import Campaign, Letter
from ..printed import letter_date

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

    def units(self) -> list[tuple[str, str]]:
        """Everything approved, as (label, text): the heading lines, each paragraph, each footnote."""
        return ([("subject", self.subject), ("place and date", f"{self.place}, {self.date}")]
                + [(f"paragraph {number}", text) for number, text in enumerate(self.paragraphs, start=1)]
                + [("closing", self.closing)]
                + [(f"footnote {number}", text) for number, text in enumerate(self.footnotes, start=1)])


def language_of(proof_id: str) -> str:
    """The language a proof ID is of ('zh-Hant-0123456789' -> 'zh-Hant')."""
    return proof_id.rsplit("-", 1)[0]


def proof_of(campaign: Campaign, letter: Letter) -> Proof:
    """The proof of `letter`, with its ID."""
    language = letter.language
    approved = {
        "language": language,
        "subject": campaign.subject.get(language),
        "place": campaign.place.get(language),
        "date": letter_date(campaign, language),
        "closing": campaign.closing.get(language),
        "body": letter.body_html,  # footnotes and citations are inline in it, as rendered
    }
    digest = hashlib.sha256(json.dumps(approved, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Proof(f"{language}-{digest[:10]}", language, approved["subject"], approved["place"], approved["date"],
                 approved["closing"], tuple(unit.text for unit in letter.paragraphs),
                 tuple(unit.text for unit in letter.footnotes),
                 tuple(signatory.name.get(language) for signatory in campaign.signatories))


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
              "signatories": list(proof.signatories)}
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
                  tuple(record["signatories"]))
    return proof, record["made"]


def previous_proof(campaign: Campaign, proof: Proof) -> Proof | None:
    """The proof of the same language made most recently before `proof` (other than `proof` itself)."""
    found = []
    for path in history_folder(campaign).glob(f"{proof.language}-*.json"):
        entry = read_proof(campaign, path.stem)
        if entry and entry[0].id != proof.id and entry[0].language == proof.language:
            found.append((entry[1], entry[0]))
    return max(found, key=lambda pair: pair[0])[1] if found else None
