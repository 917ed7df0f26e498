"""Proofs and sign-off: no organisation's name goes on text it has not approved.

A proof ID is a short hash of everything a signatory is asked to approve in one language: the body with its
footnotes and citations as rendered, the subject, place, date and closing. The signatory list is printed on the
proof but is not part of the ID, so a late co-signer does not make everyone approve again. Each proof is kept
in letters/<campaign>/proofs/<id>.json (it survives deleting out/), so that a change report can be made
between any two proofs; approvals.yaml records who approved which proof.
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import schema
from .errors import CoalitionError, Problems
from .files import write_atomically
from .model import Campaign, Letter
from .render import letter_date
from .yamlfile import load_yaml

PROOF_ID = re.compile(r"[a-z]{2,3}-[0-9a-f]{10}\Z")
APPROVALS = "approvals.yaml"
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
                 approved["closing"], letter.paragraphs, letter.footnotes,
                 tuple(signatory.name.get(language) for signatory in campaign.signatories))


# ---------------------------------------------------------------------------------------------------------------
# History: letters/<campaign>/proofs/<id>.json


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
        if entry and entry[0].id != proof.id:
            found.append((entry[1], entry[0]))
    return max(found, key=lambda pair: pair[0])[1] if found else None


# ---------------------------------------------------------------------------------------------------------------
# Change reports


@dataclass(frozen=True)
class Change:
    """One unit that differs between two proofs: its label, and the old and new text (None: added or removed)."""

    label: str
    old: str | None
    new: str | None


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
            label = (after or before)[0]
            found.append(Change(label, before[1] if before else None, after[1] if after else None))
    return found


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The two texts as (kind, words) runs, kind being 'same', 'removed' or 'added'."""
    old_words, new_words = old.split(" "), new.split(" ")
    runs = []
    for tag, a_start, a_end, b_start, b_end in difflib.SequenceMatcher(
            a=old_words, b=new_words, autojunk=False).get_opcodes():
        if tag == "equal":
            runs.append(("same", " ".join(old_words[a_start:a_end])))
            continue
        if a_end > a_start:
            runs.append(("removed", " ".join(old_words[a_start:a_end])))
        if b_end > b_start:
            runs.append(("added", " ".join(new_words[b_start:b_end])))
    return runs


def signatory_changes(old: Proof, new: Proof) -> tuple[list[str], list[str]]:
    """Who joined and who left between two proofs."""
    return ([name for name in new.signatories if name not in old.signatories],
            [name for name in old.signatories if name not in new.signatories])


def change_report_text(old: Proof, new: Proof) -> str:
    """The change report in plain text: [-removed-] and {+added+}."""
    lines = [f"Changes from proof {old.id} to proof {new.id}", ""]
    found = changes(old, new)
    for change in found:
        lines.append(f"{change.label}:")
        if change.old is None:
            lines.append(f"  added: {{+{change.new}+}}")
        elif change.new is None:
            lines.append(f"  removed: [-{change.old}-]")
        else:
            marked = {"same": "{}", "removed": "[-{}-]", "added": "{{+{}+}}"}
            lines.append("  " + " ".join(marked[kind].format(words) for kind, words in word_diff(change.old,
                                                                                                  change.new)))
        lines.append("")
    if not found:
        lines += ["The text is the same.", ""]
    joined, left = signatory_changes(old, new)
    for verb, names in (("joined", joined), ("left", left)):
        if names:
            lines.append(f"Signatories who {verb}: {', '.join(names)}")
    return "\n".join(lines).rstrip() + "\n"


def change_report_html(old: Proof, new: Proof) -> str:
    """The change report as a readable HTML page: removed words struck through in red, added words in green."""
    escape = html.escape
    parts = []
    for change in changes(old, new):
        if change.old is None:
            body = f"<ins>{escape(change.new)}</ins>"
        elif change.new is None:
            body = f"<del>{escape(change.old)}</del>"
        else:
            tags = {"same": "{}", "removed": "<del>{}</del>", "added": "<ins>{}</ins>"}
            body = " ".join(tags[kind].format(escape(words)) for kind, words in word_diff(change.old, change.new))
        parts.append(f"<section><h2>{escape(change.label)}</h2><p>{body}</p></section>")
    if not parts:
        parts.append("<p>The text is the same.</p>")
    joined, left = signatory_changes(old, new)
    for verb, names in (("joined", joined), ("left", left)):
        if names:
            parts.append(f"<p class='signatories'>Signatories who {verb}: {escape(', '.join(names))}</p>")
    return (f"<!DOCTYPE html>\n<html lang=\"{escape(new.language)}\"><head><meta charset=\"utf-8\">"
            f"<title>Changes from proof {escape(old.id)} to proof {escape(new.id)}</title><style>"
            "body{font:15px/1.5 Georgia,serif;max-width:46em;margin:2em auto;color:#111}"
            "h1{font-size:1.3em}h2{font-size:1em;margin:1.5em 0 .2em;color:#555}"
            "del{background:#fdd;color:#900}ins{background:#dfd;color:#060;text-decoration:none}"
            "</style></head><body>"
            f"<h1>Changes from proof {escape(old.id)} to proof {escape(new.id)}</h1>\n"
            + "\n".join(parts) + "\n</body></html>\n")


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
    language = proof_id.rsplit("-", 1)[0]  # zh-Hans-0123456789
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


# ---------------------------------------------------------------------------------------------------------------
# The commands' library side: approve and status


def current_proofs(root: Path, campaign_id: str) -> tuple[Campaign, dict, dict]:
    """The campaign, its current proof per language, and its approvals."""
    from .compose import compose_letters
    from .load import load_campaign

    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    approvals = load_approvals(campaign, problems)
    problems.check()
    return campaign, {language: proof_of(campaign, letter) for language, letter in letters.items()}, approvals


def approve(campaign_id: str, signatory: str, proof_id: str, by: str, date: datetime.date | None,
            root: Path = Path(".")) -> Path:
    """Record `signatory`'s approval of `proof_id`, which must be a proof of the campaign that was sent out."""
    from .load import load_campaign

    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    problems.check()
    ids = [item.id for item in campaign.signatories]
    if signatory not in ids:
        close = difflib.get_close_matches(signatory, ids, n=1)
        raise CoalitionError(f"{signatory!r} does not sign {campaign_id}" + (f": did you mean {close[0]!r}?" if close
                                                                             else f" (signatories: {', '.join(ids)})"))
    if read_proof(campaign, proof_id) is None:
        raise CoalitionError(f"{proof_id!r} is not a proof of {campaign_id}: proofs are made by 'coalition proof "
                             f"{campaign_id}' and their IDs are printed at the foot of every page")
    return record_approval(campaign, signatory, proof_id, by, date or datetime.date.today())


def status_table(campaign_id: str, root: Path = Path(".")) -> str:
    """Organisation × language: the approved proof ID and whether it is current, stale or pending."""
    campaign, proofs, approvals = current_proofs(root, campaign_id)
    width = max(len(signatory.id) for signatory in campaign.signatories)
    lines = [f"{campaign_id}: current proofs " + ", ".join(proof.id for proof in proofs.values()), ""]
    lines.append(f"{'organisation':<{width}}  " + "  ".join(f"{language:<27}" for language in proofs).rstrip())
    waiting = 0
    for signatory in campaign.signatories:
        cells = []
        for language, proof in proofs.items():
            approval = approvals.get((signatory.id, language))
            if approval is None:
                cells.append("pending")
            elif approval.proof == proof.id:
                cells.append(f"{approval.proof} current")
            else:
                cells.append(f"{approval.proof} stale")
            waiting += not cells[-1].endswith("current")
        lines.append(f"{signatory.id:<{width}}  " + "  ".join(f"{cell:<27}" for cell in cells).rstrip())
    lines += ["", "every organisation has approved every current proof" if not waiting else
              f"{waiting} approval(s) missing: the final build will stop until they are recorded"]
    from .send import ledger_lines

    lines += ["", "sending:"] + [f"  {line}" for line in ledger_lines(campaign.folder)]
    return "\n".join(lines)
