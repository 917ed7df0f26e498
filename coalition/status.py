"""What the coordinator sees: approvals, proofs, translations, the build and deliveries, and the next step.

`campaign_status` gathers it into one CampaignStatus; `coalition status` prints it with `status_text` and the
dashboard of `coalition serve` shows the same value.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

from .errors import Problems
from .checks.translations import check_fresh, translation_record
from .model import Campaign, Channel, Letter, Manifest
from .records.ledger import DeliveryState, LedgerStatus, RecipientStatus, describe, read_status, recipients_status
from .records.proofs import read_proof
from .records.approvals import ApprovalState, State


class BuildState(enum.Enum):
    """Whether the final build in out/ is of the current text and approvals."""

    NONE = "not built"
    CURRENT = "current"
    OUTDATED = "outdated"


@dataclass(frozen=True)
class ProofInfo:
    """The current proof of one language and whether `coalition proof` has made it (history and PDF)."""

    language: str
    id: str
    made: str | None  # when it entered the proof history; None: 'coalition proof' has not been run on this text
    pdf: Path | None  # the proof PDF under out/<campaign>.proof/, if there


@dataclass(frozen=True)
class Organisation:
    """A signatory as the dashboard lists it."""

    id: str
    name: str


@dataclass(frozen=True)
class Translation:
    """A translation's freshness against the original."""

    language: str
    fresh: bool
    detail: str


@dataclass(frozen=True)
class Build:
    """The final build found under out/<campaign>/."""

    state: BuildState
    detail: str


@dataclass(frozen=True)
class ReviewEmail:
    """The latest review e-mail to one organisation, as the ledger has it."""

    campaign: str
    organisation: str
    address: str
    state: DeliveryState
    planned_on: str  # YYYY-MM-DD
    sent_on: str | None
    reply: str | None

    @property
    def summary(self) -> str:
        """One line for people: where it stands and, when a person must act, what to do."""
        if self.state is DeliveryState.CONFIRMED:  # it went out in doubt, so the ledger has no day it arrived
            return f"sent to {self.address} ({self.reply})" if self.reply else f"sent to {self.address} (confirmed)"
        if self.state.done:
            return f"sent to {self.address} on {self.sent_on}"
        if self.state is DeliveryState.IN_DOUBT:
            return (f"in doubt (to {self.address}): ask {self.organisation} whether it arrived, then 'coalition "
                    f"confirm {self.campaign} {self.organisation} --review --by NAME'")
        if self.state is DeliveryState.REFUSED:
            return (f"refused for {self.address} ({self.reply}): correct the organisation's contact, then "
                    f"'coalition proof {self.campaign} --send-reviews --yes'")
        return f"not sent yet (planned on {self.planned_on}): 'coalition proof {self.campaign} --send-reviews --yes'"


@dataclass(frozen=True)
class CampaignStatus:
    """Everything the coordinator needs to see about one campaign, and the next step."""

    campaign: str
    subject: str
    proofs: tuple[ProofInfo, ...]
    organisations: tuple[Organisation, ...]
    approvals: dict  # (organisation id, language) -> ApprovalState
    translations: tuple[Translation, ...]
    build: Build
    deliveries: tuple[RecipientStatus, ...]  # every recipient, in campaign order
    sending: tuple[str, ...]  # the ledger for people: counts first, each address, then what to do
    next_step: str
    reviews: tuple[ReviewEmail, ...] = ()  # the latest review e-mail per organisation that was sent one

    def state(self, organisation: str, language: str) -> ApprovalState:
        """One cell of the matrix."""
        return self.approvals[(organisation, language)]

    def count(self, state: State) -> int:
        """How many cells are in `state`."""
        return sum(1 for cell in self.approvals.values() if cell.state is state)


def campaign_status(root: Path, campaign: Campaign, letters: dict[str, Letter], current: dict[str, str],
                    approvals: dict[tuple[str, str], ApprovalState], out: Path) -> CampaignStatus:
    """The status of an opened campaign, given its letters, current proof IDs and approval states."""
    proofs = tuple(_proof_info(campaign, language, proof_id, out) for language, proof_id in current.items())
    organisations = tuple(Organisation(signatory.id, signatory.name.get(campaign.languages[0]))
                          for signatory in campaign.signatories)
    translations = _translations(campaign, letters, root)
    build = _build(campaign, current, approvals, out)
    emails = tuple(recipient.id for recipient in campaign.recipients if recipient.channel != Channel.POST)
    post = tuple(recipient.id for recipient in campaign.recipients if recipient.channel == Channel.POST)
    ledger = read_status(campaign.folder)
    status = CampaignStatus(campaign.id, campaign.subject.get(campaign.languages[0]), proofs, organisations,
                            approvals, translations, build, recipients_status(ledger, emails, post),
                            tuple(describe(ledger, emails, post, campaign.id)), "",
                            _reviews(campaign, ledger))
    return dataclasses.replace(status, next_step=next_step(status))


def _reviews(campaign: Campaign, ledger: LedgerStatus) -> tuple[ReviewEmail, ...]:
    latest = {delivery.recipient: delivery for delivery in ledger.reviews}  # oldest first: the last one stays
    found = []
    for signatory in campaign.signatories:
        delivery = latest.get(signatory.id)
        if delivery is None or not delivery.addresses:
            continue
        address = delivery.addresses[0]  # a review e-mail goes to the organisation's one contact
        found.append(ReviewEmail(campaign.id, signatory.id, address.address, address.state,
                                 delivery.planned_at[:10], delivery.sent_on, address.reply))
    return tuple(found)


def _proof_info(campaign: Campaign, language: str, proof_id: str, out: Path) -> ProofInfo:
    entry = read_proof(campaign, proof_id)
    pdf = out / f"{campaign.id}.proof" / f"{campaign.id}-proof-{proof_id}.pdf"
    return ProofInfo(language, proof_id, entry[1] if entry else None, pdf if pdf.is_file() else None)


def _translations(campaign: Campaign, letters: dict[str, Letter], root: Path) -> tuple[Translation, ...]:
    found = []
    original = campaign.sources[0]
    for source in campaign.sources[1:]:
        problems = Problems(root.resolve())
        record = translation_record(source, campaign, problems) if source.front_matter_readable else None
        if record is not None:
            check_fresh(source, letters[original.language], record, problems, final=False)
        said = problems.found + problems.warnings
        found.append(Translation(source.language, not said, "; ".join(problem.message for problem in said)
                                 or f"made from letter.{original.language}.md as it is now"))
    return tuple(found)


def _build(campaign: Campaign, current: dict, approvals: dict, out: Path) -> Build:
    path = out / campaign.id / "manifest.json"
    if not path.is_file():
        return Build(BuildState.NONE, f"no final build in {out / campaign.id}")
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Build(BuildState.OUTDATED, f"{path} cannot be read: build again")
    built, signatories = manifest.proofs, list(manifest.signatories or ())
    changed = sorted(language for language, proof in built.items() if current.get(language) != proof)
    if changed:
        return Build(BuildState.OUTDATED, f"the text of {', '.join(changed)} changed since the build")
    for language in built:
        approved = [signatory.id for signatory in campaign.signatories
                    if approvals[(signatory.id, language)].is_current]
        signing = list(manifest.signed_in(language))
        if approved != signing:
            return Build(BuildState.OUTDATED, f"the {language} letters are signed by {len(signing)} "
                         f"organisations; {len(approved)} have approved the current text now")
    return Build(BuildState.CURRENT, f"of proofs {', '.join(built.values())}, signed by {len(signatories)} "
                 "organisations")


def next_step(status: CampaignStatus) -> str:
    """The one thing the coordinator should do now."""
    campaign = status.campaign
    stale = [item.language for item in status.translations if not item.fresh]
    if stale:
        return (f"Update the {', '.join(stale)} translation(s), then run 'coalition translated {campaign} "
                f"LANGUAGE' for each.")
    asked = sorted({cell.organisation for cell in status.approvals.values() if cell.state is State.CHANGES_REQUESTED})
    if asked:
        return f"Answer the changes requested by {', '.join(asked)}: edit the letter and make new proofs."
    withdrawn = sorted({cell.organisation for cell in status.approvals.values() if cell.state is State.WITHDRAWN})
    if withdrawn:
        return (f"{', '.join(withdrawn)} withdrew: remove them from the campaign's signatories, or build with "
                "--drop-pending.")
    waiting = sorted({cell.organisation for cell in status.approvals.values() if not cell.is_current})
    unproofed = [proof.language for proof in status.proofs if proof.made is None or proof.pdf is None]
    if waiting and unproofed:
        return (f"Make the proofs of the current text ({', '.join(unproofed)}) and the review e-mails with the "
                f"private links: 'coalition proof {campaign} --base-url URL'.")
    if waiting:
        return (f"Wait for {len(waiting)} organisation(s) to approve the current proofs ({', '.join(waiting)}); "
                "remind them with their private link.")
    if status.build.state is not BuildState.CURRENT:
        return f"Build the final letters: 'coalition build {campaign}'."
    unsent = [item.recipient for item in status.deliveries if not item.post and not item.done]
    if unsent:
        return (f"Send the letters ({len(unsent)} recipient(s) not yet delivered): 'coalition send {campaign} --yes' "
                "(the deliveries above say what is refused or in doubt).")
    unmailed = [item.recipient for item in status.deliveries if item.post and not item.done]
    if unmailed:
        return (f"Print and mail the post-only bundles ({', '.join(unmailed)}), then 'coalition mailed {campaign} "
                "RECIPIENT --by NAME'.")
    return "Nothing left to do: every organisation approved, the letters are built and delivered."


def status_text(status: CampaignStatus) -> str:
    """The status as plain text for a terminal: the matrix, then translations, build, deliveries, next step."""
    languages = [proof.language for proof in status.proofs]
    width = max([len("organisation")] + [len(item.id) for item in status.organisations])
    cell = max(len(state.value) for state in State) + 1
    lines = [f"{status.campaign}: {status.subject}",
             "current proofs: " + ", ".join(f"{proof.id}" + ("" if proof.made else " (not yet proofed)")
                                            for proof in status.proofs), ""]
    lines.append(f"{'organisation':<{width}}  " + "  ".join(f"{language:<{cell}}" for language in languages).rstrip())
    for organisation in status.organisations:
        cells = [status.state(organisation.id, language) for language in languages]
        lines.append(f"{organisation.id:<{width}}  " + "  ".join(
            f"{(item.state.value + ('*' if item.state is State.CHANGES_REQUESTED else '')):<{cell}}"
            for item in cells).rstrip())
    approved = status.count(State.APPROVED)
    total = len(status.approvals)
    lines += ["", "every organisation has approved every current proof" if approved == total else
              f"{approved} of {total} approvals current: the final build stops until the rest are recorded"]
    requests = [item for item in status.approvals.values() if item.state is State.CHANGES_REQUESTED and item.last]
    for item in requests:
        lines.append(f"  * {item.organisation} ({item.language}), {item.last.by}: {item.last.comment}")
    lines += ["", "translations:"] + [f"  {item.language}: {'fresh' if item.fresh else 'STALE'} ({item.detail})"
                                      for item in status.translations]
    if not status.translations:
        lines.append("  none")
    lines += ["", f"build: {status.build.state.value} ({status.build.detail})", "", "deliveries:"]
    lines += [f"  {line}" for line in status.sending]
    if status.reviews:
        lines += ["", "review e-mails (the latest to each organisation):"]
        lines += [f"  {item.organisation}: {item.summary}" for item in status.reviews]
    lines += ["", f"next step: {status.next_step}"]
    return "\n".join(lines)
