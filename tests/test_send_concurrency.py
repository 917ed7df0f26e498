"""Sends in processes of their own against aiosmtpd: two started together, and kill -9 at random moments.

Each trial counts the messages the server received per address against the ledger: a duplicate is an address
that got two copies; a loss is an address the ledger calls delivered that got none, or one that got none and
is not flagged in doubt once a later run has finished. Trial counts come from COALITION_CONCURRENT_TRIALS
(default 20) and COALITION_KILL_TRIALS (default 30).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time

from sending import Project, sendable, send_template, smtp  # noqa: F401

CONCURRENT_TRIALS = int(os.environ.get("COALITION_CONCURRENT_TRIALS", "20"))
KILL_TRIALS = int(os.environ.get("COALITION_KILL_TRIALS", "30"))
RESTORED_EVERY = 3  # every third kill trial recovers from a copy holding only ledger.sqlite


def reset(project: Project, smtp) -> None:
    """Nothing sent yet: no ledger, an empty server."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        project.ledger.with_name(project.ledger.name + suffix).unlink(missing_ok=True)
    smtp.messages.clear()


def tally(project: Project, smtp) -> tuple[int, int, int]:
    """(duplicates, lost, in doubt) over every address of the latest deliveries."""
    received = smtp.per_message()
    duplicates = sum(1 for count in received.values() if count > 1)
    lost = in_doubt = 0
    for key, state in project.by_message().items():
        got = received.get(key, 0)
        in_doubt += state == "in-doubt"
        if state in ("sent", "confirmed") and got == 0:
            lost += 1
        elif state not in ("sent", "confirmed", "in-doubt") and got == 0:
            lost += 1  # neither delivered nor flagged
    return duplicates, lost, in_doubt


def wait_for_ledger(project: Project, process: subprocess.Popen) -> None:
    """Until the run has created the ledger (or ended); gives up after a minute on a very slow machine."""
    end = time.monotonic() + 60
    while not project.ledger.exists() and process.poll() is None and time.monotonic() < end:
        time.sleep(0.01)


def test_two_sends_started_together_deliver_each_address_exactly_once(sendable, smtp):
    duplicates = waited = refused = 0
    for trial in range(CONCURRENT_TRIALS):
        reset(sendable, smtp)
        extra = ("--wait",) if trial % 2 else ()
        processes = [sendable.process(smtp.port, *extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
        results = [(process.wait(), *process.communicate()) for process in processes]
        codes = sorted(code for code, _, _ in results)
        assert codes in ([0, 0], [0, 1]), results
        for code, _, err in results:
            if code == 1:
                assert "another send of march-2020 is running (process " in err, err
                refused += 1
        waited += codes == [0, 0]
        duplicates += sum(1 for count in smtp.per_message().values() if count > 1)
        assert len(smtp.per_message()) == 25 and set(sendable.states().values()) == {"sent"}
    print(f"\nconcurrent sends: {CONCURRENT_TRIALS} trials, {duplicates} duplicates, {refused} refused naming the "
          f"holder, {waited} where both ended 0")
    assert duplicates == 0


def test_kill_9_at_random_moments_loses_nothing_and_duplicates_nothing(sendable, smtp, tmp_path):
    rng = random.Random(int(os.environ.get("COALITION_KILL_SEED", "20200331")))
    totals = {"duplicates": 0, "lost": 0, "in doubt": 0, "restored": 0, "killed mid-run": 0}
    for trial in range(KILL_TRIALS):
        reset(sendable, smtp)
        process = sendable.process(smtp.port, "--rate", "900", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rng.random() < 0.2:  # early: during start-up, the gate or the planning
            time.sleep(rng.uniform(0.0, 0.6))
        else:  # once the run has reached the ledger, anywhere in the ~0.6 s its eight messages take
            wait_for_ledger(sendable, process)
            time.sleep(rng.uniform(0.0, 0.7))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        totals["killed mid-run"] += 0 < len(smtp.messages) < 8
        target = sendable
        if trial % RESTORED_EVERY == 0 and sendable.ledger.exists():
            target = Project(tmp_path / f"restored-{trial}")  # a checkout that kept only the ledger file
            shutil.copytree(sendable.root, target.root, ignore=shutil.ignore_patterns("ledger.sqlite*", "send.lock"))
            shutil.copy(sendable.ledger, target.ledger)
            totals["restored"] += 1
        result = target.send(smtp.port)
        assert result.exit_code in (0, 3), result.output + result.stderr
        duplicates, lost, in_doubt = tally(target, smtp)
        totals["duplicates"] += duplicates
        totals["lost"] += lost
        totals["in doubt"] += in_doubt
        if target is not sendable:
            shutil.rmtree(target.root)
    print(f"\nkill -9: {KILL_TRIALS} trials, " + ", ".join(f"{value} {name}" for name, value in totals.items()))
    assert totals["duplicates"] == 0 and totals["lost"] == 0
    assert totals["killed mid-run"] > 0 or KILL_TRIALS < 10  # the kills did land while messages were going out
