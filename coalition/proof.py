"""Approvals: letters/<campaign>/approvals.yaml records which organisation approved which proof, per language."""

from __future__ import annotations

import datetime
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from . import schema
from .errors import Problems
from .files import write_atomically
from .model import Campaign
from .records.proofs import language_of
from .yamlfile import load_yaml

APPROVALS = "approvals.yaml"


# ---------------------------------------------------------------------------------------------------------------
# Approvals: letters/<campaign>/approvals.yaml


@dataclass(frozen=True)
class Approval:
    """An organisation's approval of one proof."""

    signatory: str
    language: str
    proof: str
    date: datetime.date
    by: str
    line: int


def load_approvals(campaign: Campaign, problems: Problems) -> dict:
    """(signatory id, language) -> Approval, from approvals.yaml (none if the file does not exist yet)."""
    path = campaign.folder / APPROVALS
    if not path.exists():
        return {}
    document = load_yaml(path, problems)
    values = schema.check_record(document, schema.APPROVALS, problems) if document else None
    if not values:
        return {}
    ids = {signatory.id for signatory in campaign.signatories}
    approvals = {}
    for signatory, by_language in (values["approvals"] or {}).items():
        if signatory not in ids:
            line = document.line(("approvals", signatory))
            if (campaign.folder.parent.parent / "signatories" / f"{signatory}.yaml").is_file():
                problems.warn(path, line, f"{signatory!r} approved a proof but does not sign this campaign (any more)",
                              "remove the entry, or add it back to the campaign's 'signatories'")
            else:
                close = difflib.get_close_matches(signatory, sorted(ids), n=1)
                problems.add(path, line, f"{signatory!r} is not an organisation (no signatories/{signatory}.yaml)",
                             f"did you mean {close[0]!r}?" if close else "fix the id")
            continue
        for language, entry in by_language.items():
            if not entry["proof"].startswith(f"{language}-"):
                problems.add(path, document.line(("approvals", signatory, language)), f"{signatory}: proof "
                             f"{entry['proof']!r} is not a proof in {language!r}", "copy the ID from the proof's foot")
                continue
            approvals[(signatory, language)] = Approval(signatory, language, entry["proof"], entry["date"],
                                                        entry["by"], document.line(("approvals", signatory, language)))
    return approvals


def pending(campaign: Campaign, proofs: dict, approvals: dict) -> list[tuple[str, str, str, Approval | None]]:
    """(signatory id, language, current proof ID, its approval if of another proof) for each missing approval."""
    missing = []
    for signatory in campaign.signatories:
        for language, proof in proofs.items():
            approval = approvals.get((signatory.id, language))
            if approval is None or approval.proof != proof.id:
                missing.append((signatory.id, language, proof.id, approval))
    return missing


def record_approval(campaign: Campaign, signatory: str, proof_id: str, by: str, date: datetime.date) -> Path:
    """Add or replace `signatory`'s approval of `proof_id` in approvals.yaml."""
    problems = Problems(campaign.folder.parent.parent)
    approvals = load_approvals(campaign, problems)
    problems.check()
    language = language_of(proof_id)
    approvals[(signatory, language)] = Approval(signatory, language, proof_id, date, by, 0)
    order = [item.id for item in campaign.signatories]
    lines = ["# Who approved which proof: per organisation and language, the proof ID, when and by whom.",
             "# Written by 'coalition approve'; fields are documented in coalition/schema.py (APPROVALS).",
             "approvals:"]
    for signatory_id in sorted({key[0] for key in approvals}, key=lambda item: (item not in order, order.index(item)
                                                                                   if item in order else 0, item)):
        lines.append(f"  {signatory_id}:")
        for (owner, language_), approval in sorted(approvals.items()):
            if owner == signatory_id:
                lines.append(f"    {language_}: {{proof: {approval.proof}, date: {approval.date.isoformat()}, "
                             f"by: {json.dumps(approval.by, ensure_ascii=False)}}}")
    path = campaign.folder / APPROVALS
    write_atomically(path, ("\n".join(lines) + "\n").encode())
    return path

