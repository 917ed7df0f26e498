"""Approvals: an append-only history of what each organisation said about each proof, and the state it gives.

letters/<campaign>/approvals.yaml is a YAML list with one event per line, oldest first:

    - {at: 2020-03-30T12:00:00Z, organisation: omct, language: en, proof: en-9fd7114396, action: approved,
       by: "Anna Example", role: "Director", via: {command-line: "coordinator@laptop"}}

(on one line in the file). Events are only ever appended, under a lock, by a whole-file atomic replace that keeps
every byte already there (comments included), so no concurrent update is lost and a git merge of two branches'
additions is a union (.gitattributes: merge=union). The state of an (organisation, language) is derived from the
events by `state_of`, the one function every command, the build gate and the web pages use.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import schema
from ..errors import CoalitionError, Problems
from ..files import sync_folder, write_atomically
from ..model import Campaign
from .proofs import HISTORY, PROOF_ID, language_of, read_proof
from ..yamlfile import YamlDocument, parse_yaml, read_text

APPROVALS = "approvals.yaml"
HEADER = ("# Approvals of this campaign's proofs: one event per line, oldest first, only ever appended.\n"
          "# Written by 'coalition approve' and the review pages ('coalition serve'); fields in coalition/schema.py\n"
          "# (APPROVAL_EVENT). The current state of each organisation and language is derived from the whole list.\n")
CLOCK_SKEW = datetime.timedelta(minutes=5)  # a time this far ahead of ours is a mistake, not a slow clock
LONGEST = {"by": 200, "role": 200, "comment": 4000, "agent": 300, "ip": 64, "command-line": 200}


class Action(enum.Enum):
    """What an organisation said about a proof."""

    APPROVED = "approved"
    CHANGES_REQUESTED = "changes-requested"
    WITHDRAWN = "withdrawn"


class State(enum.Enum):
    """Where an organisation stands on the current proof of one language."""

    APPROVED = "approved"
    STALE = "approved an earlier text"
    PENDING = "pending"
    CHANGES_REQUESTED = "changes requested"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Via:
    """How an event was recorded: a private link (its id, the request's IP and user agent), or the command line."""

    link: str | None = None
    ip: str | None = None
    agent: str | None = None
    command_line: str | None = None

    def describe(self) -> str:
        """For people: 'private link k3…, 127.0.0.1, Firefox…' or 'command line, recorded by ann@laptop'."""
        if self.command_line:
            return f"command line, recorded by {self.command_line}"
        return ", ".join(part for part in (f"private link {self.link}", self.ip, self.agent) if part)


@dataclass(frozen=True)
class Event:
    """One line of the history."""

    at: datetime.datetime
    organisation: str
    language: str
    proof: str
    action: Action
    by: str
    role: str
    comment: str
    via: Via
    line: int = 0  # where it is in approvals.yaml (0: not written yet)

    def to_line(self) -> str:
        """The event as one YAML line (a flow mapping in a list), without the line break."""
        fields = [("at", self.at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
                  ("organisation", self.organisation), ("language", self.language), ("proof", self.proof),
                  ("action", self.action.value)]
        quoted = [("by", self.by), ("role", self.role), ("comment", self.comment)]
        via = [("link", self.via.link), ("ip", self.via.ip), ("agent", self.via.agent),
               ("command-line", self.via.command_line)]
        parts = [f"{key}: {value}" for key, value in fields]
        parts += [f"{key}: {_quote(value)}" for key, value in quoted if value]
        parts.append("via: {" + ", ".join(f"{key}: {_quote(value)}" for key, value in via if value) + "}")
        return "- {" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class ApprovalState:
    """An organisation's standing on the current proof of one language, and the events that decided it."""

    organisation: str
    language: str
    current: str  # the current proof ID
    state: State
    last: Event | None  # the event that decided the state (None: nothing was ever recorded)
    approved: Event | None  # the approval that counts (the newest proof approved), if any

    @property
    def is_current(self) -> bool:
        """Whether the organisation approved exactly the current text."""
        return self.state is State.APPROVED


def _quote(text: str) -> str:
    """A YAML double-quoted scalar on one line: JSON's escapes, plus those YAML reads as line breaks."""
    quoted = json.dumps(text, ensure_ascii=False)
    for char in ("\u0085", "\u2028", "\u2029", "\ufeff"):
        quoted = quoted.replace(char, f"\\u{ord(char):04x}")
    return quoted


# ---------------------------------------------------------------------------------------------------------------
# Reading


def history_path(campaign: Campaign) -> Path:
    """The campaign's approvals.yaml."""
    return campaign.folder / APPROVALS


def read_history(campaign: Campaign, problems: Problems, now: datetime.datetime | None = None) -> tuple[Event, ...]:
    """Every event in approvals.yaml (none if it does not exist yet), with every problem in it recorded."""
    path = history_path(campaign)
    if not path.exists():
        return ()
    text = read_text(path, problems)
    document = parse_yaml(text, path, problems) if text is not None else None
    return events_of(document, campaign, problems, now) if document else ()


def events_of(document: YamlDocument, campaign: Campaign, problems: Problems,
              now: datetime.datetime | None = None) -> tuple[Event, ...]:
    """The events of a parsed approvals.yaml, checked against the campaign."""
    path = document.path
    if document.data is None:
        return ()
    if isinstance(document.data, dict) and "approvals" in document.data:
        problems.add(path, 1, "approvals.yaml is in the old format (one entry per organisation and language, "
                     "replaced at each approval)", f"convert it to the history of events with 'coalition "
                     f"upgrade-approvals {campaign.id}'")
        return ()
    values = schema.APPROVALS.convert(document.data, (), _EventContext(document, problems))
    if values is schema.INVALID:
        return ()
    ids = [signatory.id for signatory in campaign.signatories]
    latest = (now or datetime.datetime.now(datetime.timezone.utc)) + CLOCK_SKEW
    events = []
    for index, entry in enumerate(values):
        line = document.line((index,))
        at = datetime.datetime.strptime(entry["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        organisation, language, proof = entry["organisation"], entry["language"], entry["proof"]
        if at > latest:
            problems.add(path, line, f"at: {entry['at']} is in the future", "write when it really happened, in UTC")
            continue
        if organisation not in ids:
            if (campaign.folder.parent.parent / "signatories" / f"{organisation}.yaml").is_file():
                problems.warn(path, line, f"{organisation!r} has an approval event but does not sign this campaign "
                              "(any more)", "leave the history as it is, or add it back to the campaign's "
                              "'signatories'")
            else:
                close = difflib.get_close_matches(organisation, ids, n=1)
                problems.add(path, line, f"{organisation!r} is not an organisation (no signatories/"
                             f"{organisation}.yaml)", f"did you mean {close[0]!r}?" if close else "fix the id")
            continue
        if not proof.startswith(f"{language}-"):
            problems.add(path, line, f"{organisation}: proof {proof!r} is not a proof in {language!r}",
                         "copy the ID from the proof's foot")
            continue
        via = entry["via"]
        events.append(Event(at, organisation, language, proof, Action(entry["action"]), entry["by"],
                            entry["role"] or "", entry["comment"] or "",
                            Via(via["link"], via["ip"], via["agent"], via["command-line"]), line))
    return tuple(events)


class _EventContext(schema.Context):
    """Problems named by field within the event (the line already says which event)."""

    def report(self, where: tuple, message: str, hint: str = "") -> object:
        label = ".".join(str(part) for part in where[1:])
        self.problems.add(self.document.path, self.document.line(where), f"{label}: {message}" if label else message,
                          hint)
        return schema.INVALID


# ---------------------------------------------------------------------------------------------------------------
# The state: one function


def proof_ages(campaign: Campaign) -> dict[str, str]:
    """Proof ID -> when it was first made (ISO time), from the proof history."""
    ages = {}
    for path in (campaign.folder / HISTORY).glob("*.json"):
        entry = read_proof(campaign, path.stem)
        if entry:
            ages[entry[0].id] = entry[1]
    return ages


def state_of(events: tuple[Event, ...], organisation: str, language: str, current: str,
             ages: dict[str, str]) -> ApprovalState:
    """Whether `organisation`'s approval of `language` is current, stale, pending, asked for changes or withdrawn."""
    # Events count in the order they happened, not the order of lines (which a merge may shuffle). An event about
    # a proof older than one already approved changes nothing (`ages`: proof ID -> when it was made; a proof
    # missing from the history counts as made when the event happened). A withdrawal ends every earlier approval.
    mine = sorted((event for event in events if event.organisation == organisation and event.language == language),
                  key=lambda event: (event.at, event.line))
    approved: Event | None = None
    last: Event | None = None
    for event in mine:
        if approved and event.action is not Action.WITHDRAWN and _age(event, ages) < _age(approved, ages):
            continue  # about an older text than the one already approved
        last = event
        approved = event if event.action is Action.APPROVED else (None if event.action is Action.WITHDRAWN
                                                                  else approved)
    if last is None:
        state = State.PENDING
    elif last.action is Action.WITHDRAWN:
        state = State.WITHDRAWN
    elif last.action is Action.CHANGES_REQUESTED:
        state = State.CHANGES_REQUESTED if last.proof == current else (
            State.STALE if approved else State.PENDING)
    else:
        state = State.APPROVED if last.proof == current else State.STALE
    return ApprovalState(organisation, language, current, state, last, approved)


def _age(event: Event, ages: dict[str, str]) -> str:
    """When the event's proof was made, as a sortable ISO time."""
    return ages.get(event.proof) or event.at.isoformat()


def approval_states(campaign: Campaign, proofs: dict[str, str], problems: Problems,
                    now: datetime.datetime | None = None) -> dict[tuple[str, str], ApprovalState]:
    """(organisation, language) -> its state for `proofs` (language -> current proof ID); problems recorded."""
    events = read_history(campaign, problems, now)
    ages = proof_ages(campaign)
    return {(signatory.id, language): state_of(events, signatory.id, language, proof, ages)
            for signatory in campaign.signatories for language, proof in proofs.items()}


# ---------------------------------------------------------------------------------------------------------------
# Writing


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the campaign folder's lock (flock on the folder itself: no lock file to leave behind or commit)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def check_event(event: Event, now: datetime.datetime) -> None:
    """Refuse an event that must never be written: no name, a future time, overlong or control characters."""
    if not event.by.strip():
        raise CoalitionError("the name of the person who acted for the organisation is empty: give it (--by NAME)")
    if event.at > now + CLOCK_SKEW:
        raise CoalitionError(f"{event.at.date().isoformat()} is in the future: record when it really happened")
    if event.action is Action.CHANGES_REQUESTED and not event.comment.strip():
        raise CoalitionError("a request for changes needs a comment saying what should change")
    if not PROOF_ID.match(event.proof) or not event.proof.startswith(f"{event.language}-"):
        raise CoalitionError(f"{event.proof!r} is not a proof ID in {event.language!r}")
    values = {"by": event.by, "role": event.role, "comment": event.comment, "agent": event.via.agent or "",
              "ip": event.via.ip or "", "command-line": event.via.command_line or ""}
    for name, value in values.items():
        if len(value) > LONGEST[name]:
            raise CoalitionError(f"{name} is longer than {LONGEST[name]} characters: shorten it")
        allowed = "\n" if name == "comment" else ""
        if any((ord(char) < 32 and char not in allowed) or char in "\x7f\u2028\u2029" for char in value):
            raise CoalitionError(f"{name} contains a control character or a line break: retype it")


def record(campaign: Campaign, event: Event, now: datetime.datetime | None = None) -> Path:
    """Append `event` to the history under the campaign's lock, or refuse it and write nothing."""
    # refused: an invalid event, a history with problems, an approval of a proof older than one already approved
    now = now or datetime.datetime.now(datetime.timezone.utc)
    event = Event(event.at, event.organisation, event.language, event.proof, event.action, event.by.strip(),
                  event.role.strip(), event.comment.strip(), event.via)
    check_event(event, now)
    path = history_path(campaign)
    with locked(campaign.folder):
        problems = Problems(campaign.folder.parent.parent)
        events = read_history(campaign, problems, now)
        problems.check()
        if event.action is Action.APPROVED:
            ages = proof_ages(campaign)
            before = state_of(events, event.organisation, event.language, event.proof, ages)
            if before.approved and _age(event, ages) < _age(before.approved, ages):
                raise CoalitionError(f"{event.organisation} already approved {before.approved.proof}, a newer text "
                                     f"than {event.proof}: an older proof never replaces it, so nothing was "
                                     "recorded")
        text = path.read_bytes().decode("utf-8-sig") if path.exists() else HEADER
        newline = "\r\n" if "\r\n" in text else "\n"
        if text and not text.endswith("\n"):
            text += newline
        write_atomically(path, (text + event.to_line() + newline).encode())
        sync_folder(campaign.folder)
    return path


def upgrade(campaign_folder: Path) -> tuple[Path, int]:
    """Rewrite an old-format approvals.yaml as a history of the same meaning; the file and the events written."""
    # one 'approved' event per entry of the mapping per organisation and language, at noon UTC of its date
    path = campaign_folder / APPROVALS
    problems = Problems(campaign_folder.parent.parent)
    text = read_text(path, problems)
    document = parse_yaml(text, path, problems) if text is not None else None
    problems.check()
    data = document.data if document else None
    if not (isinstance(data, dict) and isinstance(data.get("approvals"), dict)):
        raise CoalitionError(f"{path} is not in the old format (a mapping 'approvals:'): nothing to upgrade")
    lines = []
    for organisation, by_language in data["approvals"].items():
        for language, entry in (by_language or {}).items():
            try:
                day = datetime.date.fromisoformat(str(entry["date"]))
                event = Event(datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.timezone.utc),
                              organisation, language, str(entry["proof"]), Action.APPROVED, str(entry["by"]), "",
                              "", Via(command_line="upgraded from the old approvals.yaml"))
            except (KeyError, TypeError, ValueError) as error:
                raise CoalitionError(f"{path}: approvals.{organisation}.{language} cannot be read ({error}): fix "
                                     "it, then upgrade again") from None
            lines.append(event.to_line())
    with locked(campaign_folder):
        write_atomically(path, (HEADER + "\n".join(lines) + ("\n" if lines else "")).encode())
        sync_folder(campaign_folder)
    return path, len(lines)


# ---------------------------------------------------------------------------------------------------------------
# The command line's side


def approve_on_command_line(campaign: Campaign, organisation: str, proof_id: str, by: str, role: str,
                            day: datetime.date | None, recorded_by: str) -> Path:
    """Record that `organisation` approved `proof_id` (a proof that was made) on `day`, as typed by `recorded_by`."""
    campaign_id = campaign.id
    ids = [item.id for item in campaign.signatories]
    if organisation not in ids:
        close = difflib.get_close_matches(organisation, ids, n=1)
        raise CoalitionError(f"{organisation!r} does not sign {campaign_id}" + (
            f": did you mean {close[0]!r}?" if close else f" (signatories: {', '.join(ids)})"))
    if read_proof(campaign, proof_id) is None:
        raise CoalitionError(f"{proof_id!r} is not a proof of {campaign_id}: proofs are made by 'coalition proof "
                             f"{campaign_id}' and their IDs are printed at the foot of every page")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if day is None or day == now.date():
        at = now
    elif day > now.date():
        raise CoalitionError(f"--date {day.isoformat()} is in the future: give the day it was approved")
    else:
        at = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.timezone.utc)
    event = Event(at, organisation, language_of(proof_id), proof_id, Action.APPROVED, by, role, "",
                  Via(command_line=recorded_by))
    return record(campaign, event, now)
