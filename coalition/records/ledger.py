"""The sending ledger: what went to which address, one self-contained SQLite file under the campaign folder.

Each e-mail is a delivery (one Message-ID, its draft kept in the ledger so a retry sends the same bytes after a
rebuild); each of its addresses (To, Cc and the coordinator's archive copy) has its own state:

    planned → sending → sent | failed-temporary | failed-permanent | in-doubt → (confirmed)

An address is 'sending' while a run holds a claim on it (set by compare-and-set, so two runs never both send
it); it becomes 'in-doubt' before the message text goes out and stays so until the server's reply is read, so a
message lost on the way (RFC 1047) is never resent without a person deciding. The review e-mails of the proof
rounds (kind 'review') go through the same states, but are read apart from the letters (LedgerStatus.reviews), so
that no count of letters includes them. The journal is rollback (DELETE),
not WAL: once a commit returns, the main file alone holds it, which is what a backup or a commit to git keeps.
"""

from __future__ import annotations

import datetime
import enum
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import CoalitionError

LEDGER = "ledger.sqlite"
SCHEMA_VERSION = 3  # 3 adds review e-mails (kind 'review')
OLDER_VERSIONS = (2,)  # read as they are; a file becomes 3 when its first review e-mail is planned


class DeliveryState(enum.Enum):
    """Where one address of one message stands."""

    PLANNED = "planned"  # not tried yet (or given back untried)
    SENDING = "sending"  # claimed by a run; nothing went out yet
    DEFERRED = "failed-temporary"  # a 4xx or a lost connection before the text: a later run retries it
    REFUSED = "failed-permanent"  # a 5xx for this address: retried only when asked (send --retry)
    IN_DOUBT = "in-doubt"  # the text went out and no clear reply came: a person checks (confirm or resend)
    SENT = "sent"  # the server took it (250 after the text)
    CONFIRMED = "confirmed"  # was in doubt; a person confirmed it arrived

    @property
    def done(self) -> bool:
        """Delivered, as far as anyone can tell."""
        return self in (DeliveryState.SENT, DeliveryState.CONFIRMED)

    @property
    def out(self) -> bool:
        """The message may have reached this address: it must not be sent again on its own."""
        return self in (DeliveryState.SENT, DeliveryState.CONFIRMED, DeliveryState.IN_DOUBT)


SENDABLE = (DeliveryState.PLANNED, DeliveryState.SENDING, DeliveryState.DEFERRED)  # what a run sends unasked


class Role(enum.Enum):
    """How an address receives the message."""

    TO = "to"
    CC = "cc"
    ARCHIVE = "archive"  # the coordinator's copy, in the envelope only (a Bcc)


class Kind(enum.Enum):
    """Why a delivery was made."""

    LETTER = "letter"
    CORRECTION = "correction"  # a changed letter sent again, replacing an earlier one
    REVIEW = "review"  # a proof round's review e-mail to a signatory organisation (never a letter)


class _ClaimTaken(Exception):
    """Another run holds or finished an address being claimed."""


class LedgerError(CoalitionError):
    """The ledger cannot be read or written (damaged, read-only, disk full)."""


@dataclass(frozen=True)
class AddressRecord:
    """One address of one delivery."""

    address: str
    role: Role
    state: DeliveryState
    reply: str | None  # the server's words, or why it was not sent
    attempts: int
    updated_at: str
    sent_at: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    """One message (one Message-ID) to one recipient, and each of its addresses."""

    id: int
    recipient: str
    message_id: str
    kind: Kind
    replaces: str | None  # the Message-ID of the first letter, for a correction
    language: str
    planned_at: str
    addresses: tuple[AddressRecord, ...]

    @property
    def out(self) -> bool:
        """Whether any address may have got it."""
        return any(item.state.out for item in self.addresses)

    @property
    def complete(self) -> bool:
        """Every address delivered."""
        return all(item.state.done for item in self.addresses)

    @property
    def sent_on(self) -> str | None:
        """The day (YYYY-MM-DD) it first reached an address, if it did."""
        days = sorted(item.sent_at[:10] for item in self.addresses if item.sent_at)
        return days[0] if days else None

    def having(self, *states: DeliveryState) -> tuple[AddressRecord, ...]:
        """Its addresses in any of `states`."""
        return tuple(item for item in self.addresses if item.state in states)

    @property
    def refused(self) -> tuple[AddressRecord, ...]:
        """Addresses the server refused (5xx)."""
        return self.having(DeliveryState.REFUSED)

    @property
    def in_doubt(self) -> tuple[AddressRecord, ...]:
        """Addresses a person must check."""
        return self.having(DeliveryState.IN_DOUBT)


@dataclass(frozen=True)
class MailedRecord:
    """A post-only recipient's bundle, recorded as mailed."""

    recipient: str
    by: str
    on: str  # YYYY-MM-DD
    tracking: str | None
    recorded_at: str


@dataclass(frozen=True)
class LedgerStatus:
    """Everything the ledger knows, for `status` and a dashboard."""

    path: Path
    exists: bool
    deliveries: tuple[DeliveryRecord, ...]  # letters and corrections only
    mailed: tuple[MailedRecord, ...]
    reviews: tuple[DeliveryRecord, ...] = ()  # review e-mails to the signatory organisations, kept apart

    def of(self, recipient: str) -> tuple[DeliveryRecord, ...]:
        """The deliveries to `recipient`, oldest first."""
        return tuple(delivery for delivery in self.deliveries if delivery.recipient == recipient)

    def count(self, state: DeliveryState) -> int:
        """How many addresses, over every delivery, are in `state`."""
        return sum(len(delivery.having(state)) for delivery in self.deliveries)


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient of the campaign as `status` and a dashboard show it: its deliveries, or its post."""

    recipient: str
    post: bool  # a post-only recipient
    deliveries: tuple[DeliveryRecord, ...]  # oldest first; the last is the one that counts
    mailed: MailedRecord | None

    @property
    def done(self) -> bool:
        """Its letter reached every address (e-mail), or its bundle was mailed (post)."""
        if self.post:
            return self.mailed is not None
        return bool(self.deliveries) and self.deliveries[-1].complete

    @property
    def summary(self) -> str:
        """Where this recipient's letter stands, in one line."""
        if self.post:
            if self.mailed is None:
                return "post: not recorded as mailed yet"
            return (f"post: mailed {self.mailed.on} by {self.mailed.by}"
                    + (f", tracking {self.mailed.tracking}" if self.mailed.tracking else ""))
        if not self.deliveries:
            return "not sent"
        last = self.deliveries[-1]
        delivered = last.having(DeliveryState.SENT, DeliveryState.CONFIRMED)
        parts = [f"{len(delivered)} of {len(last.addresses)} addresses delivered"]
        parts += [f"{label}: {', '.join(item.address for item in found)}"
                  for label, found in (("refused", last.refused), ("in doubt", last.in_doubt)) if found]
        return "; ".join(parts)


def recipients_status(status: LedgerStatus, email_recipients: tuple[str, ...],
                      post_recipients: tuple[str, ...]) -> tuple[RecipientStatus, ...]:
    """Every recipient of the campaign with what the ledger knows of it, in campaign order."""
    mailed = {record.recipient: record for record in status.mailed}
    return (tuple(RecipientStatus(recipient, False, status.of(recipient), None) for recipient in email_recipients)
            + tuple(RecipientStatus(recipient, True, (), mailed.get(recipient)) for recipient in post_recipients))


def now() -> str:
    """The time in UTC, to the second, as the ledger writes it."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


_TABLES = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, recipient TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    replaces TEXT, language TEXT NOT NULL, draft BLOB NOT NULL, planned_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS addresses (
    delivery INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE, address TEXT NOT NULL,
    role TEXT NOT NULL, position INTEGER NOT NULL, state TEXT NOT NULL, reply TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, claim TEXT, updated_at TEXT NOT NULL, sent_at TEXT,
    PRIMARY KEY (delivery, address));
CREATE TABLE IF NOT EXISTS events (
    at TEXT NOT NULL, delivery INTEGER, recipient TEXT NOT NULL, address TEXT, state TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS mailed (
    recipient TEXT PRIMARY KEY, mailed_by TEXT NOT NULL, mailed_on TEXT NOT NULL, tracking TEXT,
    recorded_at TEXT NOT NULL);
"""


def _explain(path: Path, error: sqlite3.Error) -> LedgerError:
    """A sqlite3 error said in the user's terms."""
    text = str(error)
    if isinstance(error, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return LedgerError(f"{path}: the ledger is damaged ({text}); nothing was sent. Restore it from your copy "
                           "(it is committed with the campaign), or move it aside to start a new record")
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"{path}: the ledger cannot be written ({text}); nothing more was sent. Make the file "
                           "and its folder writable, then run again")
    if "full" in text or "disk I/O" in text:
        return LedgerError(f"{path}: the ledger cannot be written ({text}); nothing more was sent. Free disk "
                           "space, then run again: every step recorded so far is kept")
    if "locked" in text or "busy" in text:
        return LedgerError(f"{path}: the ledger is locked by another program ({text}); try again when it is done")
    return LedgerError(f"{path}: the ledger cannot be used ({text})")


class Ledger:
    """The campaign's ledger, open for reading or for writing; every change is committed at once."""

    def __init__(self, path: Path, db: sqlite3.Connection, writable: bool):
        self.path, self.db, self.writable = path, db, writable

    @classmethod
    def open(cls, folder: Path, writable: bool) -> Ledger | None:
        """The ledger under `folder`; None when reading one that does not exist yet."""
        path = folder / LEDGER
        if not writable and not path.exists():
            return None
        try:
            if writable:
                db = sqlite3.connect(path, isolation_level=None, timeout=30)
                db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, never rows only in -wal
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA foreign_keys=ON")
            else:
                db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                     timeout=30)
            ledger = cls(path, db, writable)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables and version != SCHEMA_VERSION and version not in OLDER_VERSIONS:
                db.close()
                raise LedgerError(f"{path}: a ledger of another format (version {version}); this version of the "
                                  f"tool reads version {SCHEMA_VERSION}. Keep the file, and send with the version "
                                  "that wrote it")
            if not writable and not tables:  # created by a run that has not made its tables yet
                db.close()
                return None
            if writable and not tables:
                db.executescript("BEGIN IMMEDIATE;" + _TABLES + f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
            return ledger
        except sqlite3.Error as error:
            raise _explain(path, error) from error

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Errors in the ledger's words; with a write connection, one IMMEDIATE transaction committed at the end."""
        try:
            if self.writable and not self.db.in_transaction:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            elif not self.db.in_transaction:
                self.db.execute("BEGIN")  # one snapshot for every read, even while a run writes
                try:
                    yield self.db
                finally:
                    self.db.execute("COMMIT")
            else:
                yield self.db
        except sqlite3.Error as error:
            raise _explain(self.path, error) from error

    # ---- reading

    def status(self) -> LedgerStatus:
        """Every delivery with its addresses, and the post recorded as mailed."""
        with self.transaction() as db:
            rows = db.execute("SELECT id, recipient, message_id, kind, replaces, language, planned_at "
                              "FROM deliveries ORDER BY id").fetchall()
            addresses: dict[int, list[AddressRecord]] = {}
            for delivery, address, role, state, reply, attempts, updated, sent in db.execute(
                    "SELECT delivery, address, role, state, reply, attempts, updated_at, sent_at FROM addresses "
                    "ORDER BY delivery, position"):
                addresses.setdefault(delivery, []).append(
                    AddressRecord(address, Role(role), DeliveryState(state), reply, attempts, updated, sent))
            mailed = tuple(MailedRecord(*row) for row in db.execute(
                "SELECT recipient, mailed_by, mailed_on, tracking, recorded_at FROM mailed ORDER BY recipient"))
        every = tuple(DeliveryRecord(id_, recipient, message_id, Kind(kind), replaces, language, planned,
                                     tuple(addresses.get(id_, ())))
                      for id_, recipient, message_id, kind, replaces, language, planned in rows)
        return LedgerStatus(self.path, True, tuple(item for item in every if item.kind is not Kind.REVIEW), mailed,
                            tuple(item for item in every if item.kind is Kind.REVIEW))

    def draft(self, delivery: int) -> bytes:
        """The message a delivery sends, as planned."""
        with self.transaction() as db:
            return db.execute("SELECT draft FROM deliveries WHERE id = ?", (delivery,)).fetchone()[0]

    def delivery(self, delivery: int) -> DeliveryRecord:
        """One delivery as it stands now."""
        status = self.status()
        return next(item for item in (*status.deliveries, *status.reviews) if item.id == delivery)

    # ---- writing (each call is one committed transaction)

    def plan(self, recipient: str, message_id: str, kind: Kind, language: str, draft: bytes,
             addresses: list[tuple[str, Role]], replaces: str | None = None) -> int:
        """Record a new delivery with its addresses planned; its id."""
        stamp = now()
        with self.transaction() as db:
            if kind is Kind.REVIEW:
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")  # a version 2 reader would not know the kind
            cursor = db.execute("INSERT INTO deliveries (recipient, message_id, kind, replaces, language, draft, "
                                "planned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (recipient, message_id, kind.value, replaces, language, draft, stamp))
            delivery = cursor.lastrowid
            assert delivery is not None
            for position, (address, role) in enumerate(addresses):
                db.execute("INSERT INTO addresses (delivery, address, role, position, state, updated_at) "
                           "VALUES (?, ?, ?, ?, 'planned', ?)", (delivery, address, role.value, position, stamp))
            db.execute("INSERT INTO events VALUES (?, ?, ?, NULL, 'planned', ?)",
                       (stamp, delivery, recipient, message_id))
        return delivery

    def forget(self, delivery: int) -> None:
        """Drop a delivery nothing of which went out (a rebuilt letter replaces it)."""
        with self.transaction() as db:
            out = db.execute("SELECT count(*) FROM addresses WHERE delivery = ? AND state IN "
                             "('sent', 'confirmed', 'in-doubt')", (delivery,)).fetchone()[0]
            if out:
                raise LedgerError(f"{self.path}: delivery {delivery} went out; it cannot be replaced")
            recipient, message_id = db.execute("SELECT recipient, message_id FROM deliveries WHERE id = ?",
                                               (delivery,)).fetchone()
            db.execute("DELETE FROM addresses WHERE delivery = ?", (delivery,))
            db.execute("DELETE FROM deliveries WHERE id = ?", (delivery,))
            db.execute("INSERT INTO events VALUES (?, ?, ?, NULL, 'replaced', ?)",
                       (now(), delivery, recipient, f"{message_id}: never sent; replaced by the rebuilt letter"))

    def update_addresses(self, delivery: int, addresses: list[tuple[str, Role]], draft: bytes | None) -> None:
        """Bring a delivery's addresses in line with the build: new ones planned, unsent dropped ones removed."""
        stamp = now()
        with self.transaction() as db:
            known = {row[0]: DeliveryState(row[1]) for row in db.execute(
                "SELECT address, state FROM addresses WHERE delivery = ?", (delivery,))}
            wanted = [address for address, _ in addresses]
            for address, state in known.items():
                if address not in wanted and not state.out:
                    db.execute("DELETE FROM addresses WHERE delivery = ? AND address = ?", (delivery, address))
            top = db.execute("SELECT coalesce(max(position), -1) FROM addresses WHERE delivery = ?",
                             (delivery,)).fetchone()[0]
            for address, role in addresses:
                if address not in known:
                    top += 1
                    db.execute("INSERT INTO addresses (delivery, address, role, position, state, updated_at) "
                               "VALUES (?, ?, ?, ?, 'planned', ?)", (delivery, address, role.value, top, stamp))
            if draft is not None:
                db.execute("UPDATE deliveries SET draft = ? WHERE id = ?", (draft, delivery))

    def claim(self, delivery: int, addresses: list[str], run: str) -> bool:
        """Compare-and-set: mark `addresses` as being sent by `run` if, and only if, none is claimed or out."""
        try:
            with self.transaction() as db:
                for address in addresses:
                    if not db.execute("UPDATE addresses SET state = 'sending', claim = ?, updated_at = ? "
                                      "WHERE delivery = ? AND address = ? AND state IN ('planned', "
                                      "'failed-temporary')", (run, now(), delivery, address)).rowcount:
                        raise _ClaimTaken(address)
        except _ClaimTaken:
            return False
        return True

    def release_stale_claims(self) -> int:
        """Give back the claims of runs that died before sending (called under the send lock); how many."""
        with self.transaction() as db:
            return db.execute("UPDATE addresses SET state = 'planned', claim = NULL, updated_at = ?, "
                              "reply = 'a run stopped before sending it' WHERE state = 'sending'",
                              (now(),)).rowcount

    def settle(self, delivery: int, outcomes: Mapping[str, tuple[DeliveryState, str | None]],
               attempt: bool = False) -> None:
        """Record how each address ended (one commit for all); `attempt` counts a try at the server."""
        stamp = now()
        with self.transaction() as db:
            recipient = db.execute("SELECT recipient FROM deliveries WHERE id = ?", (delivery,)).fetchone()[0]
            for address, (state, reply) in outcomes.items():
                db.execute("UPDATE addresses SET state = ?, reply = coalesce(?, reply), claim = NULL, "
                           "attempts = attempts + ?, updated_at = ?, sent_at = CASE WHEN ? THEN ? ELSE sent_at END "
                           "WHERE delivery = ? AND address = ?",
                           (state.value, reply, int(attempt), stamp, state is DeliveryState.SENT, stamp, delivery,
                            address))
                db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                           (stamp, delivery, recipient, address, state.value, reply))

    def reopen(self, delivery: int, states: tuple[DeliveryState, ...], why: str) -> int:
        """Put a delivery's addresses in `states` back to planned (an explicit retry or resend); how many."""
        current = self.delivery(delivery)
        chosen = {item.address: (DeliveryState.PLANNED, why) for item in current.having(*states)}
        self.settle(delivery, chosen)
        return len(chosen)

    def confirm(self, delivery: int, by: str) -> int:
        """A person confirmed that the in-doubt message arrived; how many addresses that settles."""
        current = self.delivery(delivery)
        chosen = {item.address: (DeliveryState.CONFIRMED, f"confirmed arrived by {by}")
                  for item in current.having(DeliveryState.IN_DOUBT)}
        self.settle(delivery, chosen)
        return len(chosen)

    def record_mailed(self, recipient: str, by: str, on: datetime.date, tracking: str | None) -> None:
        """Record that a post-only recipient's bundle was mailed (a later record replaces an earlier one)."""
        stamp = now()
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO mailed VALUES (?, ?, ?, ?, ?)",
                       (recipient, by, on.isoformat(), tracking, stamp))
            db.execute("INSERT INTO events VALUES (?, NULL, ?, NULL, 'mailed', ?)",
                       (stamp, recipient, f"by {by} on {on.isoformat()}" + (f", tracking {tracking}" if tracking
                                                                           else "")))


def read_status(campaign_folder: Path) -> LedgerStatus:
    """The ledger of a campaign, read without write access (an empty status when nothing was sent yet).

    A run killed in the middle of a write leaves a hot journal that a reader must roll back first: where the
    folder is writable that is done; elsewhere the error says so.
    """
    journal = campaign_folder / (LEDGER + "-journal")
    try:
        ledger = Ledger.open(campaign_folder, writable=False)
        if ledger is None:
            return LedgerStatus(campaign_folder / LEDGER, False, (), ())
        try:
            return ledger.status()
        finally:
            ledger.close()
    except LedgerError:
        if not journal.exists():
            raise
    if not os.access(campaign_folder, os.W_OK):
        raise LedgerError(f"{journal}: a run was killed in the middle of a write; the next 'coalition send' rolls "
                          "it back (it needs write access to the folder). Keep both files until then")
    writer = Ledger.open(campaign_folder, writable=True)  # its first read rolls the unfinished write back
    assert writer is not None
    try:
        return writer.status()
    finally:
        writer.close()


def describe(status: LedgerStatus, email_recipients: tuple[str, ...], post_recipients: tuple[str, ...],
             campaign_id: str) -> list[str]:
    """The ledger for people: counts first, then each delivery and its refused or in-doubt addresses, then post."""
    sent = sum(1 for item in recipients_status(status, email_recipients, ()) if item.done)
    in_doubt = status.count(DeliveryState.IN_DOUBT)
    refused = status.count(DeliveryState.REFUSED)
    waiting = status.count(DeliveryState.DEFERRED) + status.count(DeliveryState.PLANNED) \
        + status.count(DeliveryState.SENDING)
    mailed = {record.recipient: record for record in status.mailed}
    lines = [f"e-mail: {sent} of {len(email_recipients)} recipients complete; addresses: "
             f"{status.count(DeliveryState.SENT) + status.count(DeliveryState.CONFIRMED)} delivered, {waiting} "
             f"waiting, {refused} refused, {in_doubt} in doubt; post: "
             f"{sum(recipient in mailed for recipient in post_recipients)} of {len(post_recipients)} mailed"]
    if not status.exists:
        lines.append("nothing sent yet (no ledger)")
    for delivery in status.deliveries:
        what = "correction" if delivery.kind is Kind.CORRECTION else "letter"
        lines.append(f"{delivery.recipient}: {what} {delivery.message_id}"
                     + (f" (replaces {delivery.replaces})" if delivery.replaces else "")
                     + (f", first sent {delivery.sent_on}" if delivery.sent_on else ""))
        for item in delivery.addresses:
            lines.append(f"  {item.role.value:<7} {item.address}: {item.state.value}"
                         + (f" ({item.reply})" if item.reply and not item.state.done else ""))
    for recipient in post_recipients:
        record = mailed.get(recipient)
        lines.append(f"{recipient}: post, " + (f"mailed {record.on} by {record.by}"
                                               + (f", tracking {record.tracking}" if record.tracking else "")
                                               if record else "not recorded as mailed yet"))
    steps = []
    if in_doubt:
        steps.append(f"in doubt: ask whether it arrived, then 'coalition confirm {campaign_id} RECIPIENT --by NAME' "
                     f"or 'coalition send {campaign_id} --yes --resend RECIPIENT'")
    if refused:
        steps.append(f"refused: correct the address or the cause, then 'coalition send {campaign_id} --yes "
                     "--retry RECIPIENT'")
    if waiting:
        steps.append(f"waiting: 'coalition send {campaign_id} --yes' tries them again")
    unmailed = [recipient for recipient in post_recipients if recipient not in mailed]
    if unmailed:
        steps.append(f"post: once a bundle is in the mail, 'coalition mailed {campaign_id} RECIPIENT --by NAME "
                     "[--tracking NUMBER]'")
    lines += [f"next: {step}" for step in steps]
    return lines
