"""What the web pages show and do, without the web: the reviewer's page, its actions, and proof page previews."""

from __future__ import annotations

import datetime
import functools
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from babel import Locale

from ..errors import CoalitionError, Problems
from ..changes import Change, changes
from ..model import Campaign, Signatory
from .. import usecases
from ..records.proofs import Proof, read_proof
from ..records.approvals import Action, ApprovalState, Event, Via, approval_states, record
from ..records.links import LinkRecord

PREVIEW_SCALE = 1.4  # 72 dpi × 1.4: readable on a phone, a page under ~150 kB
_PDFIUM = threading.Lock()  # pdfium is not thread-safe


class ProofChanged(CoalitionError):
    """The text changed after the page was loaded: the reviewer approved something that is no longer current."""


class NotSigning(CoalitionError):
    """The link's organisation no longer signs the campaign."""


@dataclass(frozen=True)
class ChangeView:
    """One changed unit of the letter, with its word-level runs ('same', 'removed', 'added')."""

    label: str
    runs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LanguageReview:
    """One language of the reviewer's page."""

    language: str
    name: str  # the language's name in English
    proof: str  # the current proof ID
    proofed: bool  # the proof of the current text was made ('coalition proof'), so it can be approved
    pages: int  # pages of the proof PDF (0: not made)
    state: ApprovalState
    since: str | None  # the proof the change report starts from (this organisation's last approval)
    changes: tuple[ChangeView, ...]
    printed_as: str  # the organisation's name and qualifier as printed in this language
    others: tuple[str, ...]  # the other signatories, as printed
    recipients: tuple[str, ...]  # whom the letter goes to in this language
    subject: str


@dataclass(frozen=True)
class ReviewPage:
    """Everything one organisation's private page shows."""

    campaign: str
    subject: str
    organisation: str
    name: str
    languages: tuple[LanguageReview, ...]

    def language(self, code: str) -> LanguageReview | None:
        """The page of one language, or None if the campaign has no such language."""
        return next((item for item in self.languages if item.language == code), None)


def open_campaign(root: Path, campaign_id: str) -> tuple[Campaign, dict[str, Proof]]:
    """The campaign and its current proof per language, checked as every command checks it (DataError if not)."""
    opened = usecases.open_campaign(root, campaign_id, final=False)
    return opened.campaign, opened.proofs


def proof_pdf(out: Path, campaign_id: str, proof_id: str) -> Path:
    """Where 'coalition proof' wrote the proof PDF."""
    return out / f"{campaign_id}.proof" / f"{campaign_id}-proof-{proof_id}.pdf"


def review_page(root: Path, out: Path, campaign_id: str, link: LinkRecord) -> ReviewPage:
    """The private page of the organisation that `link` belongs to."""
    campaign, proofs = open_campaign(root, campaign_id)
    problems = Problems(root.resolve())
    states = approval_states(campaign, {language: proof.id for language, proof in proofs.items()}, problems)
    problems.check()
    signatory = signatory_of(campaign, link)
    english = Locale.parse("en")
    languages = []
    for language, proof in proofs.items():
        state = states[(signatory.id, language)]
        since: str | None = None
        found: tuple[ChangeView, ...] = ()
        if state.approved and state.approved.proof != proof.id:
            entry = read_proof(campaign, state.approved.proof)
            if entry:
                since = entry[0].id
                found = tuple(_view(change) for change in changes(entry[0], proof))
        pdf = proof_pdf(out, campaign.id, proof.id)
        proofed = read_proof(campaign, proof.id) is not None and pdf.is_file()
        qualifier = f", {signatory.qualifier.get(language)}" if signatory.qualifier else ""
        readers = [recipient for recipient in campaign.recipients if language in recipient.languages]
        languages.append(LanguageReview(
            language, english.languages.get(language, language), proof.id, proofed,
            page_count(pdf) if proofed else 0, state, since, found, signatory.name.get(language) + qualifier,
            tuple(other.name.get(language) for other in campaign.signatories if other.id != signatory.id),
            tuple(", ".join(part for part in (recipient.name.get(language),
                                              recipient.title.get(language) if recipient.title else "") if part)
                  for recipient in readers),
            campaign.subject.get(language)))
    return ReviewPage(campaign.id, campaign.subject.get(campaign.languages[0]), signatory.id,
                      signatory.name.get(campaign.languages[0]), tuple(languages))


def signatory_of(campaign: Campaign, link: LinkRecord) -> Signatory:
    """The signatory the link belongs to; NotSigning if it was taken off the campaign."""
    found = next((item for item in campaign.signatories if item.id == link.organisation), None)
    if found is None:
        raise NotSigning("Your organisation no longer signs this letter, so this page is closed. Ask the "
                         "coordinator if this is a mistake.")
    return found


def _view(change: Change) -> ChangeView:
    return ChangeView(change.label, tuple(change.runs()))


def act(root: Path, out: Path, campaign_id: str, link: LinkRecord, language: str, action: Action, shown_proof: str,
        by: str, role: str, comment: str, ip: str, agent: str) -> Event:
    """Record what `link`'s organisation said about `language`'s proof as shown; ProofChanged if the text moved on."""
    # CoalitionError for anything else refused. A withdrawal is from the whole letter: one event per language.
    campaign, proofs = open_campaign(root, campaign_id)
    signatory_of(campaign, link)
    if language not in proofs:
        raise CoalitionError(f"{campaign_id} has no {language!r} text")
    current = proofs[language].id
    if shown_proof != current and action is not Action.WITHDRAWN:
        raise ProofChanged(f"The {language} text changed after you opened the page: you saw proof {shown_proof}, "
                           f"the current proof is {current}. Nothing was recorded. Reload the page to review the "
                           "new text and what changed.")
    if action is Action.APPROVED and (read_proof(campaign, current) is None
                                      or not proof_pdf(out, campaign_id, current).is_file()):
        raise CoalitionError(f"proof {current} has not been made yet, so it cannot be approved: ask the "
                             "coordinator to make the proofs")
    if action is Action.APPROVED and not role.strip():
        raise CoalitionError("give your role in the organisation with your name")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    via = Via(link=link.id, ip=ip[:64] or None, agent=" ".join(agent.split())[:300] or None)
    targets = proofs.items() if action is Action.WITHDRAWN else [(language, proofs[language])]
    event = None
    for code, proof in targets:
        event = Event(now, link.organisation, code, proof.id, action, by, role, comment, via)
        record(campaign, event, now)
    assert event is not None
    return event


def page_count(pdf: Path) -> int:
    """How many pages the PDF has."""
    return len(_pages(str(pdf), pdf.stat().st_mtime_ns))


def page_png(pdf: Path, index: int) -> bytes | None:
    """Page `index` (0-based) of the PDF as PNG, or None if there is no such page."""
    pages = _pages(str(pdf), pdf.stat().st_mtime_ns)
    return pages[index] if 0 <= index < len(pages) else None


@functools.lru_cache(maxsize=16)
def _pages(path: str, mtime_ns: int) -> tuple[bytes, ...]:
    """Every page of a PDF as PNG (cached per file version)."""
    import pypdfium2

    with _PDFIUM:
        document = pypdfium2.PdfDocument(path)
        try:
            images = []
            for page in document:
                image = page.render(scale=PREVIEW_SCALE).to_pil()
                buffer = io.BytesIO()
                image.save(buffer, format="PNG", optimize=True)
                images.append(buffer.getvalue())
                page.close()
            return tuple(images)
        finally:
            document.close()
