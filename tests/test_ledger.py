"""The ledger file itself: one self-contained file, compare-and-set claims, clear errors when it cannot be used."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from coalition.records.ledger import DeliveryState, Kind, Ledger, LedgerError, Role, read_status
from helpers import REPO

ADDRESSES = [("minister@mfa.example.org", Role.TO), ("desk@mfa.example.org", Role.CC)]


def planned(folder: Path) -> tuple[Ledger, int]:
    """A writable ledger with one delivery of two addresses."""
    ledger = Ledger.open(folder, writable=True)
    assert ledger is not None
    return ledger, ledger.plan("minister", "<m1@example.org>", Kind.LETTER, "en", b"draft", ADDRESSES)


def test_committed_rows_live_in_the_one_file(tmp_path):
    ledger, delivery = planned(tmp_path)
    ledger.settle(delivery, {"minister@mfa.example.org": (DeliveryState.SENT, "250 ok")})
    # while the writer is still open, a copy of the main file alone holds what was committed
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "ledger.sqlite", copy / "ledger.sqlite")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy", "ledger.sqlite"]  # no -wal, no -journal
    with closing(sqlite3.connect(copy / "ledger.sqlite")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    [record] = read_status(copy).deliveries
    assert {item.address: item.state for item in record.addresses} == {
        "minister@mfa.example.org": DeliveryState.SENT, "desk@mfa.example.org": DeliveryState.PLANNED}
    ledger.close()


def test_a_claim_is_compare_and_set_two_writers_never_both_win(tmp_path):
    first, delivery = planned(tmp_path)
    second = Ledger.open(tmp_path, writable=True)
    assert second is not None
    addresses = [address for address, _ in ADDRESSES]
    assert first.claim(delivery, addresses, "run-a") is True
    assert second.claim(delivery, addresses, "run-b") is False
    assert second.claim(delivery, addresses[1:], "run-b") is False  # no partial claim either
    [record] = second.status().deliveries
    assert {item.state for item in record.addresses} == {DeliveryState.SENDING}
    assert second.release_stale_claims() == 2  # what a run holding the send lock does with a dead run's claims
    assert second.claim(delivery, addresses, "run-b") is True
    first.close()
    second.close()


def test_reading_needs_no_write_access_and_a_missing_ledger_reads_as_empty(tmp_path):
    assert read_status(tmp_path).exists is False and not (tmp_path / "ledger.sqlite").exists()
    ledger, _ = planned(tmp_path)
    ledger.close()
    before = (tmp_path / "ledger.sqlite").read_bytes()
    reader = Ledger.open(tmp_path, writable=False)
    assert reader is not None
    with pytest.raises(LedgerError, match="cannot be written"):
        reader.plan("x", "<x@example.org>", Kind.LETTER, "en", b"", [])
    reader.close()
    assert (tmp_path / "ledger.sqlite").read_bytes() == before


def test_a_damaged_ledger_is_a_clear_error(tmp_path):
    (tmp_path / "ledger.sqlite").write_bytes(b"\0garbage" * 1000)
    with pytest.raises(LedgerError, match="the ledger is damaged .*Restore it from your copy"):
        read_status(tmp_path)
    with pytest.raises(LedgerError, match="the ledger is damaged"):
        Ledger.open(tmp_path, writable=True)


def test_a_full_disk_is_a_clear_error_and_keeps_what_was_committed(tmp_path):
    ledger, _ = planned(tmp_path)
    ledger.close()
    size = (tmp_path / "ledger.sqlite").stat().st_size
    script = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 4096}, {size + 4096}))
from pathlib import Path
from coalition.records.ledger import Kind, Ledger, LedgerError, Role
try:
    ledger = Ledger.open(Path({str(tmp_path)!r}), writable=True)
    ledger.plan("big", "<big@example.org>", Kind.LETTER, "en", b"x" * 1_000_000, [("a@example.org", Role.TO)])
except LedgerError as error:
    print(error)
    sys.exit(7)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 7, done.stdout + done.stderr
    assert "the ledger cannot be written" in done.stdout and "Free disk space" in done.stdout
    assert [record.recipient for record in read_status(tmp_path).deliveries] == ["minister"]


def test_a_write_cut_short_by_a_kill_is_rolled_back_when_status_reads(tmp_path):
    ledger, _ = planned(tmp_path)
    ledger.close()
    script = f"""
import os, sqlite3
db = sqlite3.connect({str(tmp_path / "ledger.sqlite")!r}, isolation_level=None)
db.execute("PRAGMA cache_size=1")  # dirty pages spill into the file before the commit
db.execute("BEGIN IMMEDIATE")
for number in range(200):
    db.execute("INSERT INTO deliveries (recipient, message_id, kind, language, draft, planned_at) "
               "VALUES ('x', ?, 'letter', 'en', ?, 'now')", (str(number), os.urandom(20000)))
os._exit(0)  # as if killed: no commit, no rollback
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (tmp_path / "ledger.sqlite-journal").exists()
    assert [record.recipient for record in read_status(tmp_path).deliveries] == ["minister"]
    assert not (tmp_path / "ledger.sqlite-journal").exists()


def test_the_status_for_a_dashboard_says_per_recipient_what_is_done(tmp_path):
    ledger, delivery = planned(tmp_path)
    ledger.settle(delivery, {"minister@mfa.example.org": (DeliveryState.SENT, "250 ok"),
                             "desk@mfa.example.org": (DeliveryState.REFUSED, "550 no such user")})
    ledger.record_mailed("embassy", "R. Clerk", __import__("datetime").date(2020, 4, 1), None)
    ledger.close()
    from coalition.records.ledger import recipients_status

    minister, president, embassy = recipients_status(read_status(tmp_path), ("minister", "president"), ("embassy",))
    assert not minister.done and [item.address for item in minister.deliveries[-1].refused] == \
        ["desk@mfa.example.org"]
    assert president.deliveries == () and not president.done
    assert embassy.post and embassy.done and embassy.mailed.by == "R. Clerk"
