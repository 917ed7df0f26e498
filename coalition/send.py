"""Stage 5, send: every final letter reaches its official exactly once.

Only a final build whose files match its manifest, and whose proofs every signatory on it approved, is sent.
A ledger (SQLite, under the campaign folder, so it outlives out/) records each recipient's state and is
committed before connecting and after every server reply:

    planned → sending → sent | failed-temporary | failed-permanent | in-doubt

A recipient becomes 'in-doubt' the moment the message text starts to go out; if the connection is lost before
the server's reply, the message may have been delivered (RFC 1047), so it is never resent on its own: a person
checks, then `--resend-in-doubt ID` resends it with the same Message-ID.
"""

from __future__ import annotations

import datetime
import email
import hashlib
import ipaddress
import json
import re
import smtplib
import sqlite3
import ssl
import time
from dataclasses import dataclass
from email import policy
from email.utils import format_datetime
from pathlib import Path

from .errors import CoalitionError, Problems
from .load import load_campaign
from .schema import is_example_address

LEDGER = "ledger.sqlite"
UNSENT = ("planned", "sending", "failed-temporary")  # what a run (re)sends without being asked


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect; the password comes only from COALITION_SMTP_PASSWORD."""

    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Delivery:
    """One e-mail recipient's message, read from the final build."""

    recipient: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    sender: str
    message_id: str
    eml: Path
    data: bytes
    attachments: tuple[tuple[str, int], ...]  # (file name, bytes)


class Ledger:
    """The record of what was sent to whom, committed after every step."""

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("""CREATE TABLE IF NOT EXISTS deliveries (
            recipient TEXT PRIMARY KEY, message_id TEXT NOT NULL, proofs TEXT NOT NULL, state TEXT NOT NULL,
            reply TEXT, refused TEXT NOT NULL DEFAULT '{}', attempts INTEGER NOT NULL DEFAULT 0,
            planned_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
        self.db.execute("""CREATE TABLE IF NOT EXISTS events (
            at TEXT NOT NULL, recipient TEXT NOT NULL, state TEXT NOT NULL, detail TEXT)""")

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def rows(self) -> dict:
        """recipient -> its row as a dict."""
        cursor = self.db.execute("SELECT * FROM deliveries ORDER BY recipient")
        names = [column[0] for column in cursor.description]
        return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}

    def plan(self, delivery: Delivery, proofs: str) -> None:
        """Record a recipient as planned, unless it is already known."""
        now = _now()
        self.db.execute("INSERT OR IGNORE INTO deliveries (recipient, message_id, proofs, state, planned_at, "
                        "updated_at) VALUES (?, ?, ?, 'planned', ?, ?)",
                        (delivery.recipient, delivery.message_id, proofs, now, now))

    def mark(self, recipient: str, state: str, reply: str | None = None, refused: dict | None = None,
             attempt: bool = False) -> None:
        """Move a recipient to `state`, keeping the server's words; committed at once."""
        now = _now()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE deliveries SET state = ?, reply = COALESCE(?, reply), "
                            "refused = COALESCE(?, refused), attempts = attempts + ?, updated_at = ? "
                            "WHERE recipient = ?",
                            (state, reply, json.dumps(refused) if refused is not None else None, int(attempt), now,
                             recipient))
            self.db.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (now, recipient, state, reply))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------------------------
# What may be sent


def final_deliveries(root: Path, campaign_id: str, out: Path) -> tuple[object, list[Delivery], list[str], dict]:
    """The final build's e-mails, checked: files as the manifest says, proofs current and approved by all.

    Returns the campaign, the deliveries, the post-only recipients, and the manifest's proof IDs.
    """
    from .compose import compose_letters
    from .records.approvals import proof_ages, read_history, state_of
    from .records.proofs import proof_of

    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    events = read_history(campaign, problems)
    problems.check()
    ages = proof_ages(campaign)
    folder = out / campaign_id
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise CoalitionError(f"no final build in {folder}: run 'coalition build {campaign_id}' first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    refusals = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            refusals.append(f"{path} does not match the manifest (changed or missing since the build)")
    for language, proof_id in manifest.get("proofs", {}).items():
        current = proof_of(campaign, letters[language]).id if language in letters else None
        if current != proof_id:
            refusals.append(f"the build's {language} letters are of proof {proof_id}, but the text is now {current}: "
                            "rebuild")
        for signatory in manifest.get("signatories", []):
            if not state_of(events, signatory, language, proof_id, ages).is_current:
                refusals.append(f"{signatory} has not approved proof {proof_id}")
    if refusals:
        raise CoalitionError("refusing to send; nothing was sent:\n  " + "\n  ".join(refusals))
    recipients = {recipient.id: recipient for recipient in campaign.recipients}
    deliveries, post = [], []
    for recipient_id, recipient in recipients.items():
        if recipient.channel == "post":
            post.append(recipient_id)
            continue
        emls = [entry for entry in manifest["files"]
                if entry["recipient"] == recipient_id and entry["kind"] == "cover-email"]
        if len(emls) != 1:
            raise CoalitionError(f"refusing to send; nothing was sent: the build in {folder} has no cover e-mail for "
                                 f"{recipient_id!r}, which campaign.yaml now lists: rebuild")
        [eml] = emls
        data = (folder / eml["path"]).read_bytes()
        message = email.message_from_bytes(data, policy=policy.default)
        deliveries.append(Delivery(
            recipient_id, tuple(address.addr_spec for address in message["To"].addresses),
            tuple(address.addr_spec for address in message["Cc"].addresses) if message["Cc"] else (),
            message["From"].addresses[0].addr_spec, str(message["Message-ID"]), folder / eml["path"], data,
            tuple((part.get_filename(), len(part.get_content())) for part in message.iter_attachments())))
    return campaign, deliveries, post, manifest.get("proofs", {})


def dry_run(root: Path, campaign_id: str, out: Path) -> str:
    """What a send would do, to whom, with what; connects to nothing."""
    campaign, deliveries, post, proofs = final_deliveries(root, campaign_id, out)
    states = {}
    if (campaign.folder / LEDGER).exists():
        ledger = Ledger(campaign.folder / LEDGER)
        states = {recipient: row["state"] for recipient, row in ledger.rows().items()}
        ledger.close()
    lines = [f"{campaign_id}: approved proofs {', '.join(proofs.values())}. Dry run: nothing is sent "
             "(add --yes to send)."]
    for delivery in deliveries:
        state = states.get(delivery.recipient, "not yet planned")
        action = "would send" if state in (*UNSENT, "not yet planned") else f"skipped ({state})"
        lines.append(f"- {delivery.recipient}: {action}; To {', '.join(delivery.to)}"
                     + (f"; Cc {', '.join(delivery.cc)}" if delivery.cc else "") + f"; {delivery.message_id}")
        lines += [f"    {name} ({size / 1000:.0f} kB)" for name, size in delivery.attachments]
    lines += [f"- {recipient}: post only, not e-mailed (print its bundle)" for recipient in post]
    if campaign.sender and is_example_address(campaign.sender[1]):
        lines.append(f"note: the sender {campaign.sender[1]} is an example address; write the coordinator's real "
                     "address under 'sender:' in campaign.yaml before sending")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Sending


@dataclass(frozen=True)
class SendReport:
    """The ledger after a run, and whether anything is still unsent."""

    states: dict  # recipient -> state
    lines: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """True when every e-mail recipient's message was sent."""
        return all(state == "sent" for state in self.states.values())


def check_security(settings: SmtpSettings) -> None:
    """Unencrypted SMTP only to this machine; anything else is refused before connecting."""
    if settings.security not in ("starttls", "ssl", "none"):
        raise CoalitionError(f"unknown --smtp-security {settings.security!r}: use starttls, ssl or none")
    if settings.security == "none" and not is_loopback(settings.host):
        raise CoalitionError(f"--smtp-security none is allowed only to this machine, not to {settings.host}: "
                             "use starttls or ssl")
    if settings.user and not settings.password:
        raise CoalitionError("COALITION_SMTP_USER is set but COALITION_SMTP_PASSWORD is not")


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Connection:
    """One SMTP connection, opened on first use and reopened after a loss."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        """A connected, greeted, secured and logged-in session."""
        if self.smtp is not None:
            try:
                self.smtp.rset()
                return self.smtp
            except (smtplib.SMTPException, OSError):
                self.smtp = None
        settings = self.settings
        context = ssl.create_default_context()
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        smtp.ehlo()
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise CoalitionError(f"{settings.host}:{settings.port} does not offer STARTTLS; refusing to send "
                                     "unencrypted (never falling back)")
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password)
        self.smtp = smtp
        return smtp

    def drop(self) -> None:
        """Forget a connection that failed."""
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass
        self.smtp = None

    def close(self) -> None:
        """Say goodbye politely."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self.smtp = None


class _Temporary(Exception):
    """A 4xx reply or a connection problem before the message text went out: nothing was delivered."""


def outgoing(delivery: Delivery) -> bytes:
    """The draft as sent: X-Unsent removed, a Date added, the same Message-ID, CRLF line ends."""
    message = email.message_from_bytes(delivery.data, policy=policy.default)
    del message["X-Unsent"]
    message["Date"] = format_datetime(datetime.datetime.now(datetime.timezone.utc))
    return message.as_bytes(policy=policy.SMTP)


def transmit(connection: Connection, delivery: Delivery, ledger: Ledger) -> None:
    """One SMTP transaction for one recipient; the ledger says how it ended."""
    try:
        smtp = connection.open()
    except (OSError, smtplib.SMTPException) as error:
        connection.drop()
        raise _Temporary(f"cannot connect: {error}") from error
    try:
        code, reply = smtp.mail(delivery.sender)
        if code >= 400:
            return _rejected(ledger, delivery, code, reply, "MAIL FROM")
        refused, accepted = {}, []
        for address in (*delivery.to, *delivery.cc):
            code, reply = smtp.rcpt(address)
            if code in (250, 251):
                accepted.append(address)
            else:
                refused[address] = f"{code} {reply.decode(errors='replace')}"
        if not accepted:
            codes = [int(text[:3]) for text in refused.values()]
            state = "failed-temporary" if any(400 <= code < 500 for code in codes) else "failed-permanent"
            ledger.mark(delivery.recipient, state, "every address refused", refused, attempt=True)
            if state == "failed-temporary":
                raise _Temporary("every address refused for now")
            return None
        ledger.mark(delivery.recipient, "sending", None, refused)
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            return _rejected(ledger, delivery, code, reply, "DATA")
        # From here on the message may reach the server: a loss before its reply leaves it in doubt.
        ledger.mark(delivery.recipient, "in-doubt", "message text sent, waiting for the server's reply", refused,
                    attempt=True)
        body = re.sub(rb"(?m)^\.", b"..", outgoing(delivery))
        smtp.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        code, reply = smtp.getreply()
    except smtplib.SMTPServerDisconnected as error:
        connection.drop()
        if ledger.rows()[delivery.recipient]["state"] == "in-doubt":
            return None  # lost after the message text went out: a person must check before any resend
        raise _Temporary(f"connection lost: {error}") from error
    except (OSError, smtplib.SMTPException) as error:
        connection.drop()
        if ledger.rows()[delivery.recipient]["state"] == "in-doubt":
            return None
        raise _Temporary(f"{type(error).__name__}: {error}") from error
    if code == 250:
        ledger.mark(delivery.recipient, "sent", f"{code} {reply.decode(errors='replace')}", refused)
        return None
    return _rejected(ledger, delivery, code, reply, "end of DATA")


def _rejected(ledger: Ledger, delivery: Delivery, code: int, reply: bytes, step: str) -> None:
    """A 4xx is retried (raises _Temporary); a 5xx fails for good."""
    text = f"{code} {reply.decode(errors='replace')} (at {step})"
    if 400 <= code < 500 or code == -1:
        ledger.mark(delivery.recipient, "failed-temporary", text, attempt=True)
        raise _Temporary(text)
    ledger.mark(delivery.recipient, "failed-permanent", text, attempt=True)
    return None


def send(root: Path, campaign_id: str, out: Path, settings: SmtpSettings, rate: float = 10.0,
         retries: int = 3, backoff: float = 5.0, resend_in_doubt: tuple[str, ...] = ()) -> SendReport:
    """Send every unsent final letter; returns the ledger's states. Refuses before connecting if anything is off."""
    check_security(settings)
    campaign, deliveries, _, proofs = final_deliveries(root, campaign_id, out)
    ledger = Ledger(campaign.folder / LEDGER)
    try:
        known = {delivery.recipient for delivery in deliveries}
        for recipient in resend_in_doubt:
            row = ledger.rows().get(recipient)
            if recipient not in known or row is None or row["state"] != "in-doubt":
                raise CoalitionError(f"{recipient!r} is not in doubt; --resend-in-doubt takes a recipient whose "
                                     "state is 'in-doubt' (see 'coalition status')")
        for delivery in deliveries:
            ledger.plan(delivery, json.dumps(proofs, sort_keys=True))
        rows = ledger.rows()
        for delivery in deliveries:
            if rows[delivery.recipient]["message_id"] != delivery.message_id and rows[delivery.recipient]["state"] \
                    in ("sent", "in-doubt"):
                raise CoalitionError(f"{delivery.recipient} already has a message {rows[delivery.recipient]['state']}"
                                     f" ({rows[delivery.recipient]['message_id']}); the build now holds a different "
                                     "one. Sending both is what this tool is for preventing: check with a person")
        todo = [delivery for delivery in deliveries
                if rows[delivery.recipient]["state"] in UNSENT or delivery.recipient in resend_in_doubt]
        connection = Connection(settings)
        try:
            for index, delivery in enumerate(todo):
                if index:
                    time.sleep(60.0 / rate)
                ledger.mark(delivery.recipient, "sending")
                for attempt in range(retries + 1):
                    try:
                        transmit(connection, delivery, ledger)
                        break
                    except CoalitionError as error:  # refused to connect as asked: nothing went out
                        ledger.mark(delivery.recipient, "planned", f"not sent: {error}")
                        raise
                    except _Temporary:
                        if attempt < retries:
                            time.sleep(backoff * 2 ** attempt)
                        elif ledger.rows()[delivery.recipient]["state"] == "sending":
                            ledger.mark(delivery.recipient, "failed-temporary", "could not connect")
        finally:
            connection.close()
        rows = ledger.rows()
    finally:
        ledger.close()
    states = {recipient: rows[recipient]["state"] for recipient in sorted(known)}
    lines = tuple(f"{recipient}: {rows[recipient]['state']}"
                  + (f" ({rows[recipient]['reply']})" if rows[recipient]["reply"] else "")
                  + (f"; refused: {', '.join(json.loads(rows[recipient]['refused']))}"
                     if json.loads(rows[recipient]["refused"]) else "")
                  for recipient in sorted(known))
    return SendReport(states, lines)


def ledger_lines(campaign_folder: Path) -> list[str]:
    """The ledger for `coalition status`, one line per recipient."""
    path = campaign_folder / LEDGER
    if not path.exists():
        return ["nothing sent yet (no ledger)"]
    ledger = Ledger(path)
    try:
        return [f"{recipient}: {row['state']} ({row['message_id']}), attempts {row['attempts']}, {row['updated_at']}"
                + (f", reply: {row['reply']}" if row["reply"] else "") for recipient, row in ledger.rows().items()]
    finally:
        ledger.close()
