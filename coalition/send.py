"""Stage 5, send: every final letter reaches each of its addresses exactly once.

The gate first: only a final build whose files match its manifest, whose inputs have not changed since, whose
e-mails are addressed exactly as campaign.yaml says with exactly the manifest's PDFs attached, and whose proofs
every signatory on it approved, is sent. Then the run, under a campaign-wide lock: each delivery is planned in
the ledger (coalition/records/ledger.py), each address claimed before its transaction (coalition/smtp.py),
and its outcome committed as soon as the server answers. A dry run and `status` only read.
"""

from __future__ import annotations

import datetime
import email
import fcntl
import getpass
import hashlib
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from babel.dates import format_date

from .checked import CheckedCampaign
from .errors import CoalitionError
from .model import Campaign, FileKind, Manifest, ManifestEntry, Recipient
from .records.ledger import (
    SENDABLE,
    DeliveryRecord,
    DeliveryState,
    Kind,
    Ledger,
    LedgerStatus,
    Role,
    read_status,
)
from .smtp import (
    Envelope,
    Session,
    SmtpConfigurationError,
    SmtpInDoubt,
    SmtpSettings,
    SmtpUnavailable,
    check_security,
)

LOCK = "send.lock"
REPLACES = {  # the cover line of a correction, per language; others get the English one
    "en": "This letter replaces our letter of {date}, which it corrects.",
    "ru": "Настоящее письмо заменяет и исправляет наше письмо от {date}.",
}


class Refused(CoalitionError):
    """The build or the request is not fit to send; nothing was sent and the ledger was not touched."""


@dataclass(frozen=True)
class Email:
    """One recipient's cover e-mail from the final build, checked against campaign.yaml and the manifest."""

    recipient: Recipient
    message_id: str
    draft: bytes
    path: Path
    attachments: tuple[tuple[str, int], ...]  # (file name, bytes)

    @property
    def language(self) -> str:
        """The cover's language."""
        return self.recipient.languages[0]


@dataclass(frozen=True)
class FinalBuild:
    """What may be sent: the checked e-mails, the post-only recipients, who signs and who was left off."""

    campaign: Campaign
    folder: Path
    emails: tuple[Email, ...]
    post: tuple[Recipient, ...]
    proofs: dict
    signatories: tuple[str, ...]  # every organisation that signs at least one language
    dropped: dict  # language -> the organisations left off its letters (--drop-pending)

    @property
    def sender(self) -> str:
        """The envelope sender: the campaign's sender address."""
        assert self.campaign.sender is not None
        return self.campaign.sender.address


@dataclass(frozen=True)
class SendOptions:
    """How a run sends, and what it was explicitly asked to do again."""

    rate: float = 10.0  # transactions per minute at most
    retries: int = 3  # further rounds for addresses deferred in this run, with doubling waits
    backoff: float = 5.0  # seconds before the first of those rounds
    archive: str | None = None  # the coordinator's copy; None: the sender's address; "": none
    retry: tuple[str, ...] = ()  # recipients (or "all") whose refused addresses to try again
    resend: tuple[str, ...] = ()  # recipients whose in-doubt message to send again, same Message-ID
    correct: tuple[str, ...] = ()  # recipients whose changed letter to send as a correction
    wait: bool = False  # wait for another run's lock instead of refusing


@dataclass(frozen=True)
class Decision:
    """What a run does with one e-mail recipient."""

    email: Email
    action: str  # "new", "replace", "keep", "correct", "changed", "renamed"
    latest: DeliveryRecord | None = None
    note: str = ""


@dataclass(frozen=True)
class SendReport:
    """The outcome of a run: a line per transaction, the summary, and whether everything is delivered."""

    lines: tuple[str, ...]
    summary: str
    complete: bool
    counts: dict = field(default_factory=dict)  # DeliveryState value -> addresses


# ---------------------------------------------------------------------------------------------------------------
# The gate: what may be sent


def sha256(data: bytes) -> str:
    """Hex digest."""
    return hashlib.sha256(data).hexdigest()


def parse_draft(data: bytes, path: Path) -> EmailMessage:
    """An .eml as a message, international addresses included (headers are UTF-8 where they need to be)."""
    try:
        message = email.message_from_string(data.decode("utf-8"), policy=policy.default)
        assert isinstance(message, EmailMessage)
        for name in ("To", "Cc", "From"):
            if message[name] is not None:
                [address.addr_spec for address in message[name].addresses]
        return message
    except (UnicodeDecodeError, ValueError, IndexError, email.errors.MessageError) as error:
        raise Refused(f"{path}: not a readable e-mail ({error}); rebuild. Nothing was sent") from error


def addresses_of(message: EmailMessage, header: str) -> tuple[str, ...]:
    """The addr-specs of one address header."""
    return tuple(address.addr_spec for address in message[header].addresses) if message[header] else ()


def final_build(checked: CheckedCampaign, out: Path) -> FinalBuild:
    """The final build's e-mails, checked; raises Refused naming every reason, before anything is sent."""
    campaign, root, campaign_id = checked.campaign, checked.root, checked.campaign.id
    folder = out / campaign_id
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise Refused(f"no final build in {folder}: run 'coalition build {campaign_id}' first")
    try:
        manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise Refused(f"{manifest_path} is damaged ({error}): rebuild") from error
    files, inputs = manifest.files, manifest.inputs
    refusals = []
    for entry in files:
        path = folder / entry.path
        if not path.is_file() or sha256(path.read_bytes()) != entry.sha256:
            refusals.append(f"{path} does not match the manifest (changed or missing since the build)")
    if inputs is None:
        refusals.append(f"{manifest_path} does not record its inputs (made by an older version): rebuild")
    for name, digest in (inputs or {}).items():
        path = Path(name) if Path(name).is_absolute() else root / name
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            refusals.append(f"{name} changed since the build (or is gone): rebuild with 'coalition build "
                            f"{campaign_id}', check the result, then send")
    for language, proof_id in manifest.proofs.items():
        current = checked.proof_ids.get(language)
        if current != proof_id:
            refusals.append(f"the build's {language} letters are of proof {proof_id}, but the text is now {current}: "
                            "rebuild")
            continue
        for signatory in manifest.signed_in(language):
            state = checked.approvals.get((signatory, language))
            if state is None or not state.is_current:
                refusals.append(f"{signatory} has not approved proof {proof_id}")
    if campaign.sender is None:
        refusals.append("campaign.yaml has no 'sender:': write the coordinator's name and address")
    if refusals:
        raise Refused("refusing to send; nothing was sent:\n  " + "\n  ".join(refusals))
    emails, post = [], []
    for recipient in campaign.recipients:
        if recipient.channel == "post":
            post.append(recipient)
            continue
        emails.append(_checked_email(campaign, recipient, folder, files, refusals))
    if refusals:
        raise Refused("refusing to send; nothing was sent:\n  " + "\n  ".join(refusals))
    return FinalBuild(campaign, folder, tuple(email for email in emails if email is not None), tuple(post),
                      manifest.proofs, manifest.signatories or (), manifest.dropped)


def left_off(dropped: dict[str, tuple[str, ...]]) -> str:
    """Who was left off which letters, for people: 'omct (ru), fidh (en, ru)', or 'nobody'."""
    languages: dict[str, list[str]] = {}
    for language, ids in dropped.items():
        for organisation in ids:
            languages.setdefault(organisation, []).append(language)
    return ", ".join(f"{organisation} ({', '.join(found)})" for organisation, found in languages.items()) or "nobody"


def _checked_email(campaign: Campaign, recipient: Recipient, folder: Path, files: tuple[ManifestEntry, ...],
                   refusals: list[str]) -> Email | None:
    """A recipient's .eml, read and compared with campaign.yaml and the manifest; refusals are appended."""
    mine = [entry for entry in files if entry.recipient == recipient.id]
    emls = [entry for entry in mine if entry.kind == FileKind.COVER_EMAIL]
    if len(emls) != 1:
        refusals.append(f"the build in {folder} has no cover e-mail for {recipient.id!r}, which campaign.yaml now "
                        "lists: rebuild")
        return None
    path = folder / emls[0].path
    data = path.read_bytes()
    message = parse_draft(data, path)
    assert campaign.sender is not None
    checks = [("To", addresses_of(message, "To"), recipient.email), ("Cc", addresses_of(message, "Cc"), recipient.cc),
              ("From", addresses_of(message, "From"), (campaign.sender.address,)),
              ("Bcc", addresses_of(message, "Bcc"), ())]
    for header, found, expected in checks:
        if list(found) != list(expected):
            refusals.append(f"{path}: {header} is {', '.join(found) or 'empty'} but campaign.yaml says "
                            f"{', '.join(expected) or 'none'}: rebuild")
    attached = sorted((part.get_filename() or "", sha256(part.get_content())) for part in message.iter_attachments())
    expected_pdfs = sorted((Path(entry.path).name, entry.sha256) for entry in mine if entry.kind == FileKind.LETTER)
    if attached != expected_pdfs:
        refusals.append(f"{path}: its attachments are not the manifest's letters for {recipient.id} "
                        f"({', '.join(name for name, _ in attached) or 'none'}): rebuild")
    message_id = str(message["Message-ID"] or "").strip()
    if not message_id:
        refusals.append(f"{path}: no Message-ID: rebuild")
    return Email(recipient, message_id, data, path,
                 tuple((part.get_filename() or "", len(part.get_content())) for part in message.iter_attachments()))


# ---------------------------------------------------------------------------------------------------------------
# Deciding what a run does, from the build and the ledger (no writes)


def archive_address(build: FinalBuild, options: SendOptions) -> str | None:
    """Where the coordinator's copy goes: --archive, else the sender; None when switched off."""
    if options.archive == "":
        return None
    if options.archive is None:
        return build.sender
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(options.archive, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as error:
        raise Refused(f"--archive {options.archive!r} is not a valid e-mail address: {error}") from error


def envelope_addresses(item: Email, archive: str | None) -> list[tuple[str, Role]]:
    """A recipient's addresses in the order they are tried: To, Cc, then the coordinator's copy."""
    addresses = [(address, Role.TO) for address in item.recipient.email]
    addresses += [(address, Role.CC) for address in item.recipient.cc]
    if archive and archive not in (*item.recipient.email, *item.recipient.cc):
        addresses.append((archive, Role.ARCHIVE))
    return addresses


def decide(build: FinalBuild, status: LedgerStatus, options: SendOptions) -> list[Decision]:
    """What to do for each e-mail recipient; raises Refused for an explicit request that does not apply."""
    archive_address(build, options)  # a bad --archive is refused here, before the ledger is opened
    current = {item.recipient.id for item in build.emails}
    known = current | {recipient.id for recipient in build.post}
    for name, asked in (("--retry", options.retry), ("--resend", options.resend), ("--correct", options.correct)):
        unknown = [recipient for recipient in asked if recipient not in current and recipient != "all"]
        if unknown:
            raise Refused(f"{name} {', '.join(unknown)}: not an e-mail recipient of {build.campaign.id} "
                          f"(recipients: {', '.join(sorted(current))}); nothing was sent")
    decisions = []
    for item in build.emails:
        recipient = item.recipient.id
        history = status.of(recipient)
        latest = history[-1] if history else None
        went_out = [delivery for delivery in history if delivery.out]
        same = [delivery for delivery in went_out if delivery.message_id == item.message_id]
        if latest is not None and latest.message_id == item.message_id and not (recipient in options.correct
                                                                                and latest.out):
            decisions.append(Decision(item, "keep", latest))  # --correct of a planned correction just sends it
        elif recipient in options.correct:
            if not went_out:
                raise Refused(f"--correct {recipient}: nothing was sent to it yet, so there is nothing to correct; "
                              "send without --correct")
            if same:
                raise Refused(f"--correct {recipient}: the build holds the letter already sent ({item.message_id}"
                              f", {same[0].sent_on}); nothing changed that needs a correction")
            decisions.append(Decision(item, "correct", latest))
        elif latest is None:
            renamed = _sent_as(item, status, known)
            if renamed:
                decisions.append(Decision(item, "renamed", renamed,
                                          f"already sent as {renamed.recipient!r} ({renamed.message_id}, "
                                          f"{renamed.sent_on}) to {', '.join(item.recipient.email)}: not sent again"))
            else:
                decisions.append(Decision(item, "new"))
        elif not went_out:
            decisions.append(Decision(item, "replace", latest))  # a refused or stopped run blocks nothing
        else:
            first = went_out[-1]
            decisions.append(Decision(item, "changed", latest,
                                      f"the letter changed since {first.message_id} went out on {first.sent_on}; "
                                      f"it goes again only as a correction: 'coalition send {build.campaign.id} "
                                      f"--yes --correct {recipient}'"))
    by_recipient = {decision.email.recipient.id: decision for decision in decisions}
    for recipient in options.resend:
        decision = by_recipient[recipient]
        if decision.latest is None or not decision.latest.having(DeliveryState.IN_DOUBT):
            raise Refused(f"--resend {recipient}: no message to it is in doubt (see 'coalition status "
                          f"{build.campaign.id}'); nothing was sent")
    for recipient in options.retry:
        candidates = list(by_recipient.values()) if recipient == "all" else [by_recipient[recipient]]
        if not any(decision.latest and decision.latest.having(DeliveryState.REFUSED) for decision in candidates):
            raise Refused(f"--retry {recipient}: no address was refused (see 'coalition status "
                          f"{build.campaign.id}'); nothing was sent")
    return decisions


def _sent_as(item: Email, status: LedgerStatus, known: set[str]) -> DeliveryRecord | None:
    """A letter that reached this recipient's To addresses under an id campaign.yaml no longer has (a rename)."""
    for delivery in reversed(status.deliveries):
        if delivery.recipient in known or delivery.kind is not Kind.LETTER:
            continue
        reached = {record.address for record in delivery.addresses if record.state.out and record.role is Role.TO}
        if reached & set(item.recipient.email):
            return delivery
    return None


# ---------------------------------------------------------------------------------------------------------------
# Dry run


@contextmanager
def os_errors() -> Iterator[None]:
    """A file that cannot be read or written, said as such (never a traceback)."""
    try:
        yield
    except OSError as error:
        raise CoalitionError(f"{error.filename or 'a file'}: {error.strerror or error}; nothing more was sent") \
            from error


def dry_run(checked: CheckedCampaign, out: Path, options: SendOptions = SendOptions()) -> str:
    """What a send would do, to whom, with what, and who signs; reads the ledger without write access."""
    with os_errors():
        return _dry_run(checked, out, options)


def _dry_run(checked: CheckedCampaign, out: Path, options: SendOptions) -> str:
    """The dry run's lines."""
    campaign_id = checked.campaign.id
    build = final_build(checked, out)
    decisions = decide(build, read_status(build.campaign.folder), options)
    archive = archive_address(build, options)
    lines = [f"{campaign_id}: approved proofs {', '.join(build.proofs.values())}. Dry run: nothing is sent "
             "(add --yes to send).",
             f"signed by: {', '.join(build.signatories)}",
             "left off (had not approved the current proof of those languages): " + left_off(build.dropped),
             f"copy of every message to: {archive or 'nobody (--no-archive)'}"]
    for decision in decisions:
        item = decision.email
        pending = _pending_addresses(decision, options)
        action = {"new": "would send", "replace": "would send (the rebuilt letter; the earlier one never went out)",
                  "correct": "would send as a correction", "renamed": f"skipped: {decision.note}",
                  "changed": f"not sent: {decision.note}"}.get(decision.action)
        if decision.action == "keep":
            action = f"would send to {', '.join(pending)}" if pending else "done (nothing left to send)"
        lines.append(f"- {item.recipient.id}: {action}; To {', '.join(item.recipient.email)}"
                     + (f"; Cc {', '.join(item.recipient.cc)}" if item.recipient.cc else "") + f"; {item.message_id}")
        lines += [f"    {name} ({size / 1000:.0f} kB)" for name, size in item.attachments]
    lines += [f"- {recipient.id}: post only, not e-mailed (print its bundle; then 'coalition mailed {campaign_id} "
              f"{recipient.id} --by NAME')" for recipient in build.post]
    from .schema import is_example_address

    if is_example_address(build.sender):
        lines.append(f"note: the sender {build.sender} is an example address; write the coordinator's real "
                     "address under 'sender:' in campaign.yaml before sending")
    return "\n".join(lines)


def _pending_addresses(decision: Decision, options: SendOptions) -> list[str]:
    """The addresses of a kept delivery that a run would send to."""
    if decision.latest is None:
        return []
    states = list(SENDABLE)
    if decision.email.recipient.id in options.resend:
        states.append(DeliveryState.IN_DOUBT)
    if decision.email.recipient.id in options.retry or "all" in options.retry:
        states.append(DeliveryState.REFUSED)
    return [record.address for record in decision.latest.having(*states)]


# ---------------------------------------------------------------------------------------------------------------
# The run


@contextmanager
def send_lock(campaign: Campaign, wait: bool) -> Iterator[None]:
    """One sender per campaign at a time: a second run waits (`wait`) or is refused, naming the holder."""
    path = campaign.folder / LOCK
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise CoalitionError(f"{path}: cannot create the send lock ({error.strerror}); nothing was sent") from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(descriptor)
            if not wait:
                raise CoalitionError(f"another send of {campaign.id} is running ({holder}); nothing was sent. Wait "
                                     "for it to finish, or add --wait") from None
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        holder = (f"process {os.getpid()} of {getpass.getuser()} on {socket.gethostname()}, since "
                  f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        data = holder.encode() + b"\n"
        os.pwrite(descriptor, data, 0)  # then truncate: the file is never empty while held
        os.ftruncate(descriptor, len(data))
        yield
    finally:
        os.close(descriptor)  # releases the lock (so does the process dying)


def lock_holder(descriptor: int) -> str:
    """Who holds the send lock, as it wrote; a holder that has only just taken it is given a moment to write."""
    text = ""
    for _ in range(100):
        text = os.pread(descriptor, 1000, 0).decode(errors="replace").strip()
        found = re.match(r"process (\d+) ", text)
        if found:
            try:
                os.kill(int(found.group(1)), 0)
                return text
            except ProcessLookupError:
                pass  # the previous holder's words; the new one is about to write its own
            except PermissionError:
                return text
        time.sleep(0.01)
    return text or "another process"


def correction_draft(item: Email, history: tuple[DeliveryRecord, ...], campaign: Campaign) -> bytes:
    """The rebuilt letter as a correction: References to the letters it replaces and a cover line saying so."""
    message = parse_draft(item.draft, item.path)
    first = next(delivery for delivery in history if delivery.out)
    day = datetime.date.fromisoformat(first.sent_on or first.planned_at[:10])
    locale = campaign.date_locales.get(item.language, item.language)
    line = REPLACES.get(item.language, REPLACES["en"]).format(date=format_date(day, "long", locale=locale))
    message["References"] = " ".join(delivery.message_id for delivery in history if delivery.out)
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    body.set_content(f"{line}\n\n{body.get_content()}")
    return message.as_bytes(policy=policy.default.clone(utf8=not item.draft.isascii()))


def outgoing(draft: bytes, utf8: bool) -> bytes:
    """The draft as sent: X-Unsent removed, a Date added, the same Message-ID, CRLF line ends."""
    message = parse_draft(draft, Path("ledger"))
    del message["X-Unsent"]
    message["Date"] = format_datetime(datetime.datetime.now(datetime.timezone.utc))
    return message.as_bytes(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)


def needs_smtputf8(draft: bytes, addresses: list[str]) -> bool:
    """Whether a message can only go with SMTPUTF8 (an address or a header that is not ASCII)."""
    headers = draft.split(b"\n\n", 1)[0]
    return not headers.isascii() or not all(address.isascii() for address in addresses)


class Run:
    """One sending run: the ledger, the connection, the options, and what it reports as it goes."""

    def __init__(self, sender: str, ledger: Ledger, session: Session, options: SendOptions,
                 report: Callable[[str], None], in_doubt_advice: Callable[[str], str]):
        self.sender, self.ledger, self.session, self.options, self.report = sender, ledger, session, options, report
        self.in_doubt_advice = in_doubt_advice  # recipient -> what a person does about a message left in doubt
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lines: list[str] = []
        self.transactions = 0

    def say(self, line: str) -> None:
        """Report a line now and keep it for the summary."""
        self.lines.append(line)
        self.report(line)

    def deliver(self, delivery: DeliveryRecord) -> None:
        """Send one delivery to each of its sendable addresses, splitting and retrying as the server asks."""
        for round_ in range(self.options.retries + 1):
            if round_:
                time.sleep(self.options.backoff * 2 ** (round_ - 1))
            tried: set[str] = set()
            while True:
                current = self.ledger.delivery(delivery.id)
                batch = [record.address for record in current.having(*SENDABLE) if record.address not in tried]
                if not batch:
                    break
                tried |= self.transaction(current, batch)
            if not self.ledger.delivery(delivery.id).having(DeliveryState.DEFERRED):
                return

    def transaction(self, delivery: DeliveryRecord, batch: list[str]) -> set[str]:
        """One SMTP transaction for `batch`; the addresses it settled (those a 452 left untried are not)."""
        if self.transactions:
            time.sleep(60.0 / self.options.rate)
        self.transactions += 1
        if not self.ledger.claim(delivery.id, batch, self.token):
            raise CoalitionError(f"{delivery.recipient}: another run claimed its addresses; stopping this one "
                                 "(nothing of it was sent)")
        draft = self.ledger.draft(delivery.id)
        utf8 = needs_smtputf8(draft, batch)
        body = outgoing(draft, utf8)
        try:
            envelope = self.session.envelope(self.sender, batch, utf8,
                                             eightbit=not body.isascii() and self.session.eightbit)
        except SmtpConfigurationError:
            self.ledger.settle(delivery.id, {address: (DeliveryState.PLANNED, None) for address in batch})
            raise
        except SmtpUnavailable as error:
            self.ledger.settle(delivery.id, {address: (DeliveryState.DEFERRED, str(error)) for address in batch},
                               attempt=True)
            self.say(f"{delivery.recipient}: deferred {', '.join(batch)} ({error})")
            return set(batch)
        self._settle_envelope(delivery, envelope)
        parts = self._envelope_parts(envelope)
        if not envelope.accepted:
            self.session.reset()
            self.say(f"{delivery.recipient}: " + "; ".join(parts))
            return set(batch) - set(envelope.untried)
        accepted = list(envelope.accepted)

        def before_text() -> None:
            self.ledger.settle(delivery.id, {address: (DeliveryState.IN_DOUBT, "message text sent; no reply yet")
                                             for address in accepted}, attempt=True)

        try:
            reply = self.session.data(body, before_text)
        except SmtpUnavailable as error:
            self.ledger.settle(delivery.id, {address: (DeliveryState.DEFERRED, str(error)) for address in accepted},
                               attempt=True)
            parts.insert(0, f"deferred {', '.join(accepted)} ({error})")
        except SmtpInDoubt as error:
            self.ledger.settle(delivery.id, {address: (DeliveryState.IN_DOUBT, str(error)) for address in accepted})
            parts.insert(0, f"IN DOUBT {', '.join(accepted)} ({error}): "
                            f"{self.in_doubt_advice(delivery.recipient)}")
        else:
            if 200 <= reply.code < 300:
                state = DeliveryState.SENT
            elif 400 <= reply.code < 500:
                state = DeliveryState.DEFERRED
            else:
                state = DeliveryState.REFUSED
            self.ledger.settle(delivery.id, {address: (state, str(reply)) for address in accepted})
            parts.insert(0, {DeliveryState.SENT: "sent to", DeliveryState.DEFERRED: "deferred",
                             DeliveryState.REFUSED: "refused"}[state] + f" {', '.join(accepted)} ({reply})")
        self.say(f"{delivery.recipient}: " + "; ".join(parts))
        return set(batch) - set(envelope.untried)

    def _settle_envelope(self, delivery: DeliveryRecord, envelope: Envelope) -> None:
        """Record the RCPT refusals and deferrals, and give back what a 452 left untried."""
        outcomes: dict[str, tuple[DeliveryState, str | None]] = {}
        outcomes.update({address: (DeliveryState.DEFERRED, str(reply)) for address, reply in envelope.deferred})
        outcomes.update({address: (DeliveryState.REFUSED, str(reply)) for address, reply in envelope.refused})
        if outcomes:
            self.ledger.settle(delivery.id, outcomes, attempt=True)
        if envelope.untried:
            self.ledger.settle(delivery.id, {address: (DeliveryState.PLANNED, "452: sent in another transaction")
                                             for address in envelope.untried})

    @staticmethod
    def _envelope_parts(envelope: Envelope) -> list[str]:
        """The RCPT refusals and deferrals, for the transaction's line."""
        parts = [f"deferred {address} ({reply})" for address, reply in envelope.deferred]
        parts += [f"REFUSED {address} ({reply})" for address, reply in envelope.refused]
        if envelope.untried:
            parts.append(f"{', '.join(envelope.untried)} in another transaction (the server takes fewer recipients "
                         "at a time)")
        return parts


def apply(build: FinalBuild, ledger: Ledger, decisions: list[Decision], options: SendOptions) -> list[str]:
    """Write the run's plan into the ledger; the notes to show."""
    archive = archive_address(build, options)
    status = ledger.status()
    notes = []
    for decision in decisions:
        item, latest = decision.email, decision.latest
        addresses = envelope_addresses(item, archive)
        if decision.action in ("replace", "correct") and latest is not None and not latest.out:
            ledger.forget(latest.id)  # never went out: the rebuilt letter (or correction) takes its place
        if decision.action in ("new", "replace"):
            ledger.plan(item.recipient.id, item.message_id, Kind.LETTER, item.language, item.draft, addresses)
        elif decision.action == "keep" and latest is not None:
            ledger.update_addresses(latest.id, addresses, item.draft if latest.kind is Kind.LETTER else None)
        elif decision.action == "correct":
            history = tuple(delivery for delivery in status.of(item.recipient.id) if delivery.out)
            draft = correction_draft(item, history, build.campaign)
            first = next(delivery for delivery in history if delivery.out)
            ledger.plan(item.recipient.id, item.message_id, Kind.CORRECTION, item.language, draft, addresses,
                        replaces=first.message_id)
        if decision.note:
            notes.append(f"{item.recipient.id}: {decision.note}")
    status = ledger.status()
    for recipient in options.resend:
        [*_, latest_record] = status.of(recipient)
        ledger.reopen(latest_record.id, (DeliveryState.IN_DOUBT,), "resend asked after a person checked")
    for recipient in options.retry:
        for delivery in status.deliveries:
            if recipient in ("all", delivery.recipient) and delivery is status.of(delivery.recipient)[-1]:
                ledger.reopen(delivery.id, (DeliveryState.REFUSED,), "retry asked once the cause was fixed")
    return notes


def send(checked: CheckedCampaign, out: Path, settings: SmtpSettings, options: SendOptions = SendOptions(),
         report: Callable[[str], None] = lambda line: None) -> SendReport:
    """Send every unsent final letter; `report` gets a line as each transaction ends. Refuses before connecting
    if anything is off, and stops at once on a configuration failure (a CoalitionError naming it)."""
    check_security(settings)
    with os_errors():
        return _send(checked, out, settings, options, report)


def _send(checked: CheckedCampaign, out: Path, settings: SmtpSettings, options: SendOptions,
          report: Callable[[str], None]) -> SendReport:
    """The run itself."""
    build = final_build(checked, out)
    current = {item.recipient.id for item in build.emails}
    with send_lock(build.campaign, options.wait):
        decisions = decide(build, read_status(build.campaign.folder), options)  # refusals before any write
        ledger = Ledger.open(build.campaign.folder, writable=True)
        assert ledger is not None
        session = Session(settings)
        try:
            ledger.release_stale_claims()
            notes = apply(build, ledger, decisions, options)
            for note in notes:
                report(note)
            status = ledger.status()
            stale = {decision.email.recipient.id for decision in decisions
                     if decision.action == "changed" and decision.latest is not None and not decision.latest.out}
            todo = [delivery for delivery in status.deliveries  # never to a recipient campaign.yaml dropped
                    if delivery.recipient in current and delivery.recipient not in stale
                    and delivery is status.of(delivery.recipient)[-1] and delivery.having(*SENDABLE)]
            campaign = build.campaign.id
            lines = deliver(ledger, session, todo, build.sender, options, report,
                            lambda recipient: f"ask whether it arrived, then 'coalition confirm {campaign} {recipient} "
                                              f"--by NAME' or 'coalition send {campaign} --yes --resend {recipient}'")
            status = ledger.status()
        finally:
            session.close()
            ledger.close()
    return _report(build, status, current, decisions, lines)


def deliver(ledger: Ledger, session: Session, todo: list[DeliveryRecord], sender: str, options: SendOptions,
            report: Callable[[str], None], in_doubt: Callable[[str], str]) -> list[str]:
    """Send each of `todo` in `session` (opened only if there is something to send, SMTPUTF8 checked before
    anything goes out); the lines the run said. `in_doubt` says what to do about a recipient left in doubt."""
    if todo:
        session.open()
        check_international(ledger, todo, session)
    run = Run(sender, ledger, session, options, report, in_doubt)
    for delivery in todo:
        run.deliver(delivery)
    return run.lines


def check_international(ledger: Ledger, todo: list[DeliveryRecord], session: Session) -> None:
    """Refuse, before anything is sent, messages that need SMTPUTF8 when the server does not offer it."""
    if session.smtputf8:
        return
    needing = [delivery for delivery in todo
               if needs_smtputf8(ledger.draft(delivery.id), [record.address for record in delivery.addresses])]
    if needing:
        names = "; ".join(
            f"{delivery.recipient} ("
            + (", ".join(record.address for record in delivery.addresses if not record.address.isascii())
               or "its headers") + ")" for delivery in needing)
        raise CoalitionError(f"{session.settings.server} does not offer SMTPUTF8, which internationalised addresses "
                             f"need: {names}. Nothing was sent. Send through a server that offers SMTPUTF8, or ask "
                             "the recipients for an ASCII address")


def _report(build: FinalBuild, status: LedgerStatus, current: set[str], decisions: list[Decision],
            lines: list[str]) -> SendReport:
    """The summary of a run: counts of addresses by state over the current recipients, and what is left."""
    latest = {delivery.recipient: delivery for delivery in status.deliveries}
    counts: dict[str, int] = {state.value: 0 for state in DeliveryState}
    for recipient in current:
        for record in (latest[recipient].addresses if recipient in latest else ()):
            counts[record.state.value] += 1
    pending = [decision for decision in decisions if decision.action == "changed"]
    complete = not pending and all(recipient in latest and latest[recipient].complete for recipient in current
                                   if recipient not in {decision.email.recipient.id for decision in decisions
                                                        if decision.action == "renamed"})
    summary = (f"summary: {counts['sent'] + counts['confirmed']} addresses delivered, "
               f"{counts['failed-temporary'] + counts['planned'] + counts['sending']} waiting for a later run, "
               f"{counts['failed-permanent']} refused, {counts['in-doubt']} in doubt"
               + (f", {len(pending)} changed letters not sent (see above)" if pending else "")
               + f"; post-only recipients: {len(build.post)} (see 'coalition status {build.campaign.id}')")
    return SendReport(tuple(lines), summary, complete, counts)


# ---------------------------------------------------------------------------------------------------------------
# What a person records: an in-doubt message that arrived, a post bundle that was mailed


def confirm_arrived(campaign: Campaign, recipient: str, by: str, review: bool = False) -> str:
    """Record that a person confirmed the in-doubt letter (or `review` e-mail) to `recipient` arrived; what was said."""
    campaign_id = campaign.id
    if not by.strip():
        raise Refused("--by: say who confirmed that it arrived")
    with send_lock(campaign, wait=True):
        status = read_status(campaign.folder)
        history = tuple(item for item in status.reviews if item.recipient == recipient) if review else \
            status.of(recipient)
        if not history or not history[-1].having(DeliveryState.IN_DOUBT):
            what = "review e-mail to" if review else "message to"
            raise Refused(f"no {what} {recipient!r} is in doubt (see 'coalition status {campaign_id}')")
        ledger = Ledger.open(campaign.folder, writable=True)
        assert ledger is not None
        try:
            count = ledger.confirm(history[-1].id, by.strip())
        finally:
            ledger.close()
    return f"{recipient}: {history[-1].message_id} recorded as arrived at {count} address(es), confirmed by {by}"


def record_mailed(campaign: Campaign, recipient: str, by: str, on: datetime.date | None,
                  tracking: str | None) -> str:
    """Record that a post-only recipient's bundle was mailed; what was recorded."""
    campaign_id = campaign.id
    post = [item.id for item in campaign.recipients if item.channel == "post"]
    if recipient not in post:
        raise Refused(f"{recipient!r} is not a post-only recipient of {campaign_id} (post-only: "
                      f"{', '.join(post) or 'none'})")
    if not by.strip():
        raise Refused("--by: say who mailed it")
    day = on or datetime.date.today()
    with send_lock(campaign, wait=True):
        ledger = Ledger.open(campaign.folder, writable=True)
        assert ledger is not None
        try:
            ledger.record_mailed(recipient, by.strip(), day, tracking.strip() if tracking else None)
        finally:
            ledger.close()
    return f"{recipient}: mailed on {day.isoformat()} by {by.strip()}" + (f", tracking {tracking}" if tracking else "")

