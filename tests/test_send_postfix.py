"""Sending to a real MTA: Debian's Postfix on a loopback port, one recipient per transaction, a greylisted Cc,
and an international address with SMTPUTF8. Skipped, saying why, only where Postfix cannot run."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import edit
from mta import Postfix, postfix_missing
from sending import COORDINATOR, sendable, send_template  # noqa: F401

pytestmark = pytest.mark.skipif(postfix_missing() is not None, reason=postfix_missing() or "")


@pytest.fixture
def postfix():
    """A private Postfix taking one recipient per transaction (smtpd_recipient_limit = 1), in a folder of its own
    under /tmp (pytest's are private to root, and Postfix's daemons run as 'postfix')."""
    folder = Path(tempfile.mkdtemp(prefix="coalition-postfix-"))
    server = Postfix(folder, recipient_limit=1)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def delivered(postfix: Postfix, count: int) -> dict[str, int]:
    """Wait until Postfix has delivered `count` copies into its Maildir; address -> copies."""
    postfix.wait_for(lambda: sum(postfix.per_address().values()) >= count and postfix.queue_empty(),
                     f"{count} deliveries")
    return postfix.per_address()


def test_a_server_taking_one_recipient_per_transaction_gets_every_cc(sendable, postfix):
    result = sendable.send(postfix.port)
    assert result.exit_code == 0, result.output
    assert "in another transaction (the server takes fewer recipients at a time)" in result.output
    counts = delivered(postfix, 25)
    assert counts["desk@mfa.example.org"] == 1 and all(counts[f"desk-{n}@gov.example.org"] == 1 for n in range(1, 7))
    assert counts[COORDINATOR] == 8 and sum(counts.values()) == 25
    assert set(sendable.states().values()) == {"sent"}
    assert sendable.send(postfix.port).exit_code == 0 and sum(delivered(postfix, 25).values()) == 25


def test_a_greylisted_cc_is_delivered_on_a_later_run(sendable, postfix):
    postfix.set_access({"desk@mfa.example.org": "451 4.7.1 greylisted, try again later"})
    postfix.wait_for(lambda: postfix.rcpt_reply("desk@mfa.example.org") == 451, "the greylisting rule")
    result = sendable.send(postfix.port, "--retries", "0")
    assert result.exit_code == 3
    assert "deferred desk@mfa.example.org (451 4.7.1 <desk@mfa.example.org>: Recipient address rejected: " \
           "greylisted" in result.output
    assert sendable.states()[("minister", "desk@mfa.example.org")] == "failed-temporary"
    assert "desk@mfa.example.org" not in delivered(postfix, 24)
    postfix.set_access({})
    postfix.wait_for(lambda: postfix.rcpt_reply("desk@mfa.example.org") == 250, "Postfix to forget the rule")
    result = sendable.send(postfix.port)
    assert result.exit_code == 0, result.output
    counts = delivered(postfix, 25)
    assert counts["desk@mfa.example.org"] == 1 and counts["minister@mfa.example.org"] == 1 and counts[COORDINATOR] == 8


def test_an_international_address_reaches_postfix_with_smtputf8(sendable, postfix):
    edit(sendable.folder / "campaign.yaml", "cc: [desk-1@gov.example.org]", "cc: [приёмная@почта.рф]")
    sendable.build()
    result = sendable.send(postfix.port)
    assert result.exit_code == 0, result.output
    counts = delivered(postfix, 25)
    assert counts["приёмная@почта.рф"] == 1
