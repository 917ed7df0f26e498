"""Review e-mails sent by the tool: each organisation whose approval is not current gets its review e-mail, with
its private link, once per proof round.

A proof round is the set of current proof IDs. The drafts `coalition proof` wrote to out/<campaign>.proof/review/
are checked first (addressed to the organisation's contact, from the campaign's sender, carrying its private link
and this round's proofs); then each goes through the letters' SMTP layer (smtp.Session, send.Run: deadlines, one
login, a configuration failure stops the run) and ledger (records/ledger.py, kind 'review', claimed by
compare-and-set under the campaign's send lock). Its Message-ID names the campaign, the organisation and the round,
and the ledger holds each Message-ID once: a second run of the same round sends nothing, a new round sends again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from .checked import CheckedCampaign
from .errors import CoalitionError
from .model import Campaign, FileKind, Manifest, ManifestEntry, Signatory
from .records.approvals import ApprovalState, State
from .records.ledger import SENDABLE, DeliveryRecord, DeliveryState, Kind, Ledger, LedgerStatus, Role, read_status
from .send import Refused, SendOptions, addresses_of, deliver, os_errors, parse_draft, send_lock, sha256
from .smtp import Session, SmtpSettings, check_security

REVIEWS = "review"  # the drafts' folder under out/<campaign>.proof/


@dataclass(frozen=True)
class ReviewEmail:
    """One organisation's review e-mail of this round, checked, as the ledger keeps and the server gets it."""

    organisation: str
    contact: str
    message_id: str  # the round's: <campaign.review.organisation.round-…@domain>
    draft: bytes  # the draft in out/, with the round's Message-ID
    path: Path
    attachments: tuple[tuple[str, int], ...]  # (file name, bytes)


@dataclass(frozen=True)
class ReviewDecision:
    """What a run does for one signatory organisation: send it `email`, or not, and why."""

    organisation: str
    waiting_on: tuple[ApprovalState, ...]  # the languages whose approval is not current
    email: ReviewEmail | None  # None: nothing to send this time
    note: str  # for people: why it goes, or why not
    latest: DeliveryRecord | None = None  # this round's review e-mail in the ledger, if planned before
    attention: bool = False  # not sent, and a person must look: refused, or in doubt


@dataclass(frozen=True)
class ReviewReport:
    """The outcome: a line per organisation or transaction, the summary, and whether every e-mail went out."""

    lines: tuple[str, ...]
    summary: str
    complete: bool


def proof_round(proof_ids: dict[str, str]) -> str:
    """The round's name: a hash of the set of current proof IDs (the same set, the same round)."""
    return hashlib.sha256("\n".join(sorted(proof_ids.values())).encode()).hexdigest()[:12]


def round_message_id(campaign: Campaign, organisation: str, round_: str) -> str:
    """The Message-ID of an organisation's review e-mail of one round."""
    assert campaign.sender is not None
    return f"<{campaign.id}.review.{organisation}.round-{round_}@{campaign.sender.address.rpartition('@')[2]}>"


def waiting_on(checked: CheckedCampaign, organisation: str) -> tuple[ApprovalState, ...]:
    """The organisation's approvals that are not current (pending, of an earlier text, changes requested)."""
    return tuple(checked.approvals[(organisation, language)] for language in checked.proofs
                 if not checked.approvals[(organisation, language)].is_current)


# ---------------------------------------------------------------------------------------------------------------
# Deciding, from the approvals, the drafts and the ledger (no writes)


def decide(checked: CheckedCampaign, folder: Path, links: dict[str, str | None],
           status: LedgerStatus) -> list[ReviewDecision]:
    """What a run does for each signatory organisation; raises Refused naming every draft unfit to send."""
    campaign = checked.campaign
    if campaign.sender is None:
        raise Refused("campaign.yaml has no 'sender:': write the coordinator's name and address; nothing was sent")
    proofs = _proof_files(checked, folder)
    round_ = proof_round(checked.proof_ids)
    decisions: list[ReviewDecision] = []
    refusals: list[str] = []
    for signatory in campaign.signatories:
        waiting = waiting_on(checked, signatory.id)
        identifier = round_message_id(campaign, signatory.id, round_)
        latest = next((item for item in status.reviews if item.message_id == identifier), None)
        if any(checked.approvals[(signatory.id, language)].state is State.WITHDRAWN for language in checked.proofs):
            decisions.append(ReviewDecision(signatory.id, waiting, None, "withdrew from the letter: not sent"))
        elif not waiting:
            decisions.append(ReviewDecision(signatory.id, waiting, None, "approved every current proof: not sent"))
        elif latest is not None and latest.out:
            how = "sent" if latest.complete else "in doubt"
            decisions.append(ReviewDecision(signatory.id, waiting, None, f"{how} for this round already "
                                            f"({latest.message_id}, {latest.sent_on or latest.planned_at[:10]}): "
                                            "not sent again", latest, attention=not latest.complete))
        elif latest is not None and signatory.contact in {item.address for item in latest.refused}:
            [refused] = [item for item in latest.refused if item.address == signatory.contact]
            decisions.append(ReviewDecision(signatory.id, waiting, None, f"the server refused {refused.address} "
                                            f"({refused.reply}): correct its contact in {signatory.source}, then run "
                                            "again", latest, attention=True))
        else:
            email = _checked_draft(checked, signatory, folder, links.get(signatory.id), proofs, identifier, refusals)
            if email is not None:
                decisions.append(ReviewDecision(signatory.id, waiting, email, "", latest))
    if refusals:
        raise Refused("refusing to send the review e-mails; nothing was sent:\n  " + "\n  ".join(refusals))
    return decisions


def _proof_files(checked: CheckedCampaign, folder: Path) -> dict[str, ManifestEntry]:
    """The proof run's manifest files by path, once it is known to be of the current proofs and unchanged."""
    path = folder / "manifest.json"
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
        files = {entry.path: entry for entry in manifest.files}
        made = manifest.proofs
    except (OSError, ValueError) as error:
        raise Refused(f"{path}: no readable proof manifest ({error}): run 'coalition proof "
                      f"{checked.campaign.id}' again; nothing was sent") from error
    if made != checked.proof_ids:
        raise Refused(f"the proofs in {folder} ({', '.join(made.values())}) are not of the current text "
                      f"({', '.join(checked.proof_ids.values())}): run 'coalition proof {checked.campaign.id}' again; "
                      "nothing was sent")
    return files


def _checked_draft(checked: CheckedCampaign, signatory: Signatory, folder: Path, link: str | None,
                   files: dict[str, ManifestEntry], identifier: str, refusals: list[str]) -> ReviewEmail | None:
    """An organisation's draft, read and compared with its contact, its link and the round's proofs; refusals are
    appended."""
    campaign, organisation = checked.campaign, signatory.id
    assert campaign.sender is not None
    name = f"{REVIEWS}/{organisation}.eml"
    path, entry = folder / name, files.get(name)
    if link is None:
        refusals.append(f"{organisation}: its private link is revoked: give it a new one with 'coalition links "
                        f"{campaign.id} --regenerate {organisation}', then run 'coalition proof' again")
        return None
    if entry is None or not path.is_file() or sha256(path.read_bytes()) != entry.sha256:
        refusals.append(f"{path} is missing or changed since 'coalition proof' made it: run it again")
        return None
    data = path.read_bytes()
    message = parse_draft(data, path)
    checks = [("To", addresses_of(message, "To"), (signatory.contact,)), ("Cc", addresses_of(message, "Cc"), ()),
              ("Bcc", addresses_of(message, "Bcc"), ()),
              ("From", addresses_of(message, "From"), (campaign.sender.address,))]
    for header, found, expected in checks:
        if list(found) != list(expected):
            refusals.append(f"{path}: {header} is {', '.join(found) or 'empty'} but should be "
                            f"{', '.join(expected) or 'empty'}: run 'coalition proof {campaign.id}' again")
    body = message.get_body(("plain",))
    if body is None or link not in body.get_content():
        refusals.append(f"{path}: does not carry {organisation}'s private link: run 'coalition proof {campaign.id} "
                        "--base-url URL' again")
    attached = {part.get_filename() or "": sha256(_octets(part)) for part in message.iter_attachments()}
    for proof_name, proof in files.items():
        if proof.kind == FileKind.PROOF and attached.get(proof_name) != proof.sha256:
            refusals.append(f"{path}: does not have the proof {proof_name} attached: run 'coalition proof "
                            f"{campaign.id}' again")
    del message["Message-ID"]
    message["Message-ID"] = identifier
    draft = message.as_bytes(policy=policy.default.clone(utf8=not data.split(b"\n\n", 1)[0].isascii()))
    return ReviewEmail(organisation, signatory.contact, identifier, draft, path,
                       tuple((part.get_filename() or "", len(_octets(part))) for part in message.iter_attachments()))


def _octets(part: EmailMessage) -> bytes:
    """An attachment's content as bytes, whatever its type (a change report is text)."""
    content = part.get_content()
    return content.encode() if isinstance(content, str) else content


def _why(decision: ReviewDecision) -> str:
    """Why an organisation is sent its review e-mail: each language and where its approval stands."""
    return ", ".join(f"{state.language} {state.state.value}" for state in decision.waiting_on)


# ---------------------------------------------------------------------------------------------------------------
# Dry run and run


def dry_run(checked: CheckedCampaign, folder: Path, links: dict[str, str | None]) -> ReviewReport:
    """Who would be sent a review e-mail this round and who not, and why; connects to nothing, writes nothing."""
    with os_errors():
        decisions = decide(checked, folder, links, read_status(checked.campaign.folder))
    campaign = checked.campaign
    lines = []
    for decision in decisions:
        email = decision.email
        if email is None:
            lines.append(f"- {decision.organisation}: {decision.note}")
            continue
        lines.append(f"- {decision.organisation}: would send to {email.contact} ({_why(decision)}); "
                     f"{email.message_id}")
        lines += [f"    {name} ({size / 1000:.0f} kB)" for name, size in email.attachments]
    going = sum(1 for decision in decisions if decision.email)
    return ReviewReport(tuple(lines), f"{campaign.id}: proof round {proof_round(checked.proof_ids)} "
                        f"({', '.join(checked.proof_ids.values())}): {going} review e-mail{'' if going == 1 else 's'} "
                        "to send. Dry run: nothing is sent (add --yes to send)", True)


def send_reviews(checked: CheckedCampaign, folder: Path, links: dict[str, str | None], settings: SmtpSettings,
                 options: SendOptions = SendOptions(),
                 report: Callable[[str], None] = lambda line: None) -> ReviewReport:
    """Send this round's review e-mail to each organisation whose approval is not current, each at most once;
    `report` gets a line as each transaction ends. Refuses before connecting if a draft is unfit, and stops at once
    on a configuration failure (a CoalitionError naming it)."""
    check_security(settings)
    with os_errors():
        return _send_reviews(checked, folder, links, settings, options, report)


def _send_reviews(checked: CheckedCampaign, folder: Path, links: dict[str, str | None], settings: SmtpSettings,
                  options: SendOptions, report: Callable[[str], None]) -> ReviewReport:
    """The run itself, under the campaign's send lock."""
    campaign = checked.campaign
    with send_lock(campaign, options.wait):
        decisions = decide(checked, folder, links, read_status(campaign.folder))
        going = [decision for decision in decisions if decision.email is not None]
        notes = [f"{decision.organisation}: {decision.note}" for decision in decisions if decision.email is None]
        for note in notes:
            report(note)
        if not going:
            return _report(checked, decisions, read_status(campaign.folder), notes)
        assert campaign.sender is not None
        ledger = Ledger.open(campaign.folder, writable=True)
        assert ledger is not None
        session = Session(settings)
        try:
            ledger.release_stale_claims()
            for decision in going:
                email = decision.email
                assert email is not None
                if decision.latest is None:
                    signatory = next(item for item in campaign.signatories if item.id == email.organisation)
                    ledger.plan(email.organisation, email.message_id, Kind.REVIEW,
                                signatory.review_language(campaign.languages), email.draft, [(email.contact, Role.TO)])
                else:  # planned in an earlier run of this round and not sent: the same message, to today's contact
                    ledger.update_addresses(decision.latest.id, [(email.contact, Role.TO)], email.draft)
            wanted = {decision.email.message_id for decision in going if decision.email}
            todo = [delivery for delivery in ledger.status().reviews
                    if delivery.message_id in wanted and delivery.having(*SENDABLE)]
            drafts = {decision.organisation: decision.email.path for decision in going if decision.email}
            lines = deliver(ledger, session, todo, campaign.sender.address, options, report,
                            lambda organisation: f"ask {organisation} whether it arrived, then 'coalition confirm "
                                                 f"{campaign.id} {organisation} --review --by NAME'; it is not sent "
                                                 f"again for this round (the draft is {drafts[organisation]}, for "
                                                 "your own mail client)")
            status = ledger.status()
        finally:
            session.close()
            ledger.close()
    return _report(checked, decisions, status, notes + lines)


def _report(checked: CheckedCampaign, decisions: list[ReviewDecision], status: LedgerStatus,
            lines: list[str]) -> ReviewReport:
    """The summary: this round's review e-mails by state, and who needed none."""
    wanted = {decision.email.message_id for decision in decisions if decision.email}
    counts = {state: 0 for state in DeliveryState}
    for delivery in status.reviews:
        if delivery.message_id in wanted:
            for record in delivery.addresses:
                counts[record.state] += 1
    sent = counts[DeliveryState.SENT] + counts[DeliveryState.CONFIRMED]
    waiting = counts[DeliveryState.PLANNED] + counts[DeliveryState.SENDING] + counts[DeliveryState.DEFERRED]
    skipped = len(decisions) - len(wanted)
    summary = (f"review e-mails of proof round {proof_round(checked.proof_ids)}: {sent} sent, {waiting} waiting for a "
               f"later run, {counts[DeliveryState.REFUSED]} refused, {counts[DeliveryState.IN_DOUBT]} in doubt; "
               f"{skipped} organisations not sent one (see above)")
    attention = any(decision.attention for decision in decisions)
    return ReviewReport(tuple(lines), summary, sent == len(wanted) and not attention)


def check_reviews_possible(base_url: str | None, settings: SmtpSettings | None) -> None:
    """Refuse --send-reviews without the links' address, or with an unsafe server setting, before any work."""
    if not base_url:
        raise CoalitionError("--send-reviews: each review e-mail carries the organisation's private link, so give "
                             "--base-url URL (or COALITION_BASE_URL), the address 'coalition serve' is reached at")
    if settings is not None:
        check_security(settings)
