"""Servers that fail: configuration failures stop the run at once showing the server's words, one AUTH attempt,
a deadline no trickling server can outlast, a garbled final reply left in doubt, international addresses."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from helpers import edit
from mta import Recorder, ScriptedServer, start_recorder
from sending import CAMPAIGN, sendable, send_template, smtp  # noqa: F401


@pytest.fixture
def server():
    """Start aiosmtpd with options; stopped at the end."""
    started = []

    def start(handler: Recorder, **options):
        started.append(start_recorder(handler, **options))
        return handler

    yield start
    for controller in started:
        controller.stop()


def test_a_wrong_password_costs_one_auth_attempt_and_stops_the_run_showing_the_535(sendable, server, monkeypatch):
    handler = server(Recorder(), password="right")
    monkeypatch.setenv("COALITION_SMTP_USER", "coordinator")
    monkeypatch.setenv("COALITION_SMTP_PASSWORD", "wrong")
    result = sendable.send(handler.port)
    assert result.exit_code == 1
    assert "refused the login of 'coordinator': 535 5.7.8 Authentication credentials invalid" in result.stderr
    assert handler.auth_attempts == 1 and handler.messages == []
    assert set(sendable.states().values()) == {"planned"}  # unsent and retryable, nothing failed
    monkeypatch.setenv("COALITION_SMTP_PASSWORD", "right")
    assert sendable.send(handler.port).exit_code == 0
    assert handler.auth_attempts == 2 and len(handler.messages) == 8


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_server_requiring_auth_stops_the_run_showing_its_reply(sendable, server):
    handler = server(Recorder(), password="right", auth_required=True)
    result = sendable.send(handler.port)
    assert result.exit_code == 1
    assert "requires a login: 530 5.7.0 Authentication required" in result.stderr
    assert set(sendable.states().values()) == {"planned"} and handler.messages == []


def test_a_refused_sender_stops_the_run_showing_the_reply(sendable, smtp):
    smtp.refuse_sender = True
    result = sendable.send(smtp.port)
    assert result.exit_code == 1
    assert "refused the sender coordinator@example.org: 553 5.7.1" in result.stderr
    assert set(sendable.states().values()) == {"planned"}
    smtp.refuse_sender = False
    assert sendable.send(smtp.port).exit_code == 0 and len(smtp.messages) == 8


def test_an_untrusted_tls_certificate_stops_the_run(sendable, server, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    from aiosmtpd.controller import Controller

    from mta import free_port

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True)
    controller.start()
    try:
        args = sendable.args(controller.port)
        args[args.index("--smtp-security") + 1] = "starttls"
        result = sendable.command(*args)
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert "its TLS certificate is not trusted (self-signed certificate)" in result.stderr
    assert handler.messages == [] and set(sendable.states().values()) == {"planned"}


def test_a_trickling_greeting_hits_the_deadline(sendable):
    with ScriptedServer(trickle=0.05) as slow:
        result = sendable.send(slow.port, "--smtp-deadline", "1")
    assert result.exit_code == 1
    assert "did not finish its greeting and login within the 1 s deadline" in result.stderr
    assert set(sendable.states().values()) == {"planned"}


def test_a_garbled_final_reply_leaves_one_copy_in_doubt(sendable):
    with ScriptedServer(final_reply=b"this is not SMTP\r\n") as garbled:
        result = sendable.send(garbled.port)
        assert result.exit_code == 3
        assert "IN DOUBT pisma@mail.gov.kg, oip@adm.gov.kg, coordinator@example.org (after the message text the " \
               "server said unreadable reply" in result.output
        assert len(garbled.messages) == 8
        assert set(sendable.states().values()) == {"in-doubt"}
        assert sendable.send(garbled.port).exit_code == 3 and len(garbled.messages) == 8  # never resent alone


def international(project, address: str) -> None:
    """Give official-1 a Cc at `address` and rebuild."""
    edit(project.folder / "campaign.yaml", "cc: [desk-1@gov.example.org]", f"cc: [{address}]")
    project.build()


def test_an_international_address_goes_with_smtputf8(sendable, smtp):
    international(sendable, "приёмная@почта.рф")
    result = sendable.send(smtp.port)
    assert result.exit_code == 0, result.output
    assert smtp.copies("приёмная@почта.рф") == 1
    [(_, _, message)] = [item for item in smtp.messages if "приёмная@почта.рф" in item[0]]
    assert [address.addr_spec for address in message["Cc"].addresses] == ["приёмная@почта.рф"]


def test_an_international_address_is_refused_cleanly_before_anything_is_sent(sendable, server):
    international(sendable, "приёмная@почта.рф")
    handler = server(Recorder(), smtputf8=False)
    result = sendable.send(handler.port)
    assert result.exit_code == 1
    assert "does not offer SMTPUTF8, which internationalised addresses need: official-1 (приёмная@почта.рф)" \
        in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert handler.messages == [] and set(sendable.states().values()) == {"planned"}


def test_check_refuses_a_domain_that_mixes_scripts_naming_the_character(sendable):
    edit(sendable.folder / "campaign.yaml", "cc: [desk-1@gov.example.org]", "cc: [desk-1@gоv.example.org]")
    result = sendable.command("check", CAMPAIGN, "--root", sendable.root)
    assert result.exit_code == 1
    assert "its domain mixes scripts, 'о' (U+043E CYRILLIC SMALL LETTER O) among Latin letters in 'gоv'" \
        in result.stderr
