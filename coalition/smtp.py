"""The SMTP side of sending: one connection, every exchange under a deadline, one transaction at a time.

smtplib's `timeout` bounds one socket read, not an exchange: a server that trickles a byte every few seconds
would hold a run for ever. Every exchange here (connecting and greeting, one message's envelope, its text) runs
under a deadline; when it passes, the socket is shut down from a watchdog thread and the exchange fails.

Failures come in three kinds, because the run must treat them differently:
- SmtpConfigurationError: nothing can go out until a person fixes something (connection refused, TLS
  certificate, AUTH required or failed, sender refused). The run stops at once; nothing is marked failed.
- SmtpUnavailable: this attempt failed before the message text went out (a 4xx, a lost connection); retry.
- SmtpInDoubt: the text went out and no clear reply came: the message may have been delivered (RFC 1047).
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import CoalitionError


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect; the password comes only from COALITION_SMTP_PASSWORD."""

    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0  # the longest wait for one read
    deadline: float = 120.0  # the longest one exchange (greeting and login, or one message) may take

    @property
    def server(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Reply:
    """What the server said: its code (-1 when the reply had none) and its text."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code > 0 else f"unreadable reply {self.text!r}"

    @classmethod
    def of(cls, code: int, text: bytes | str) -> Reply:
        """From smtplib's (code, bytes)."""
        return cls(code, (text.decode(errors="replace") if isinstance(text, bytes) else text).replace("\n", " "))


class SmtpConfigurationError(CoalitionError):
    """Nothing can be sent until a person fixes the setup; the server's reply or the OS error says what."""


class SmtpUnavailable(Exception):
    """This attempt failed before the message text went out; nothing was delivered."""


class SmtpInDoubt(Exception):
    """The message text went out and no clear final reply came back."""


@dataclass(frozen=True)
class Envelope:
    """How the server answered MAIL FROM and each RCPT TO of one transaction."""

    accepted: tuple[str, ...]
    deferred: tuple[tuple[str, Reply], ...]  # 4xx: try this address again later
    refused: tuple[tuple[str, Reply], ...]  # 5xx: this address is refused
    untried: tuple[str, ...]  # after a 452 "too many recipients": for another transaction


def check_security(settings: SmtpSettings) -> None:
    """Unencrypted SMTP only to this machine; anything else is refused before connecting."""
    if settings.security not in ("starttls", "ssl", "none"):
        raise CoalitionError(f"unknown --smtp-security {settings.security!r}: use starttls, ssl or none")
    if settings.security == "none" and not is_loopback(settings.host):
        raise CoalitionError(f"--smtp-security none is allowed only to this machine, not to {settings.host}: "
                             "use starttls or ssl")
    if settings.user and not settings.password:
        raise CoalitionError("COALITION_SMTP_USER is set but COALITION_SMTP_PASSWORD is not")
    if settings.deadline <= 0 or settings.timeout <= 0:
        raise CoalitionError("the SMTP deadline and timeout must be more than 0 seconds")


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Expired(Exception):
    """The exchange's deadline passed."""


class Session:
    """One SMTP connection: opened on first use, reopened after a loss, logged in at most once per run."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None
        self.login_failed: SmtpConfigurationError | None = None

    # ---- the deadline

    @contextmanager
    def _deadline(self, what: str) -> Iterator[None]:
        """Run an exchange; shut the socket down if it takes longer than the deadline."""
        expired = threading.Event()
        finished = threading.Event()
        end = time.monotonic() + self.settings.deadline

        def watch() -> None:
            while not finished.wait(max(0.02, min(0.1, end - time.monotonic()))):
                if time.monotonic() >= end:
                    expired.set()
                    sock = self.smtp.sock if self.smtp is not None else None
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return

        watcher = threading.Thread(target=watch, name="smtp-deadline", daemon=True)
        watcher.start()
        try:
            yield
        except (OSError, smtplib.SMTPException) as error:
            if expired.is_set():
                raise _Expired(f"{self.settings.server} did not finish {what} within the {self.settings.deadline:g} "
                               "s deadline (--smtp-deadline)") from error
            raise
        finally:
            finished.set()
            watcher.join()

    # ---- the connection

    @property
    def smtputf8(self) -> bool:
        """Whether the open connection offers SMTPUTF8."""
        return self.smtp is not None and self.smtp.has_extn("smtputf8")

    @property
    def eightbit(self) -> bool:
        """Whether the open connection offers 8BITMIME."""
        return self.smtp is not None and self.smtp.has_extn("8bitmime")

    def open(self) -> None:
        """Connect, greet, secure and log in, unless connected; a failure here stops the run."""
        if self.smtp is not None:
            try:  # still there? servers close connections that sat idle between messages
                with self._deadline("RSET"):
                    if self.smtp.rset()[0] == 250:
                        return
            except (OSError, smtplib.SMTPException, _Expired):
                pass
            self.drop()
        if self.login_failed is not None:
            raise self.login_failed  # one AUTH attempt per run: a wrong password is not tried again
        settings = self.settings
        context = ssl.create_default_context()
        smtp = (smtplib.SMTP_SSL(timeout=min(settings.timeout, settings.deadline), context=context)
                if settings.security == "ssl" else smtplib.SMTP(timeout=min(settings.timeout, settings.deadline)))
        smtp._host = settings.host  # type: ignore[attr-defined]  # what STARTTLS checks the certificate against
        self.smtp = smtp
        try:
            with self._deadline("its greeting and login"):
                code, text = smtp.connect(settings.host, settings.port)
                if code != 220:
                    raise SmtpConfigurationError(f"{settings.server} does not accept mail now: it greeted with "
                                                 f"{Reply.of(code, text)}")
                smtp.ehlo()
                if settings.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise SmtpConfigurationError(f"{settings.server} does not offer STARTTLS; refusing to send "
                                                     "unencrypted (never falling back)")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if settings.user:
                    self._login(smtp)
        except SmtpConfigurationError:
            self.drop()
            raise
        except _Expired as error:
            self.drop()
            raise SmtpConfigurationError(str(error)) from error
        except ssl.SSLCertVerificationError as error:
            self.drop()
            raise SmtpConfigurationError(f"{settings.server}: its TLS certificate is not trusted "
                                         f"({error.verify_message}); nothing was sent") from error
        except smtplib.SMTPResponseException as error:
            self.drop()
            raise SmtpConfigurationError(f"{settings.server} answered {Reply.of(error.smtp_code, error.smtp_error)}"
                                         "; nothing was sent") from error
        except (OSError, smtplib.SMTPException, ValueError) as error:
            self.drop()
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error) or \
                type(error).__name__
            raise SmtpConfigurationError(f"cannot connect to {settings.server}: {reason}; nothing was sent") \
                from error

    def _login(self, smtp: smtplib.SMTP) -> None:
        """One AUTH attempt, with PLAIN or LOGIN (smtplib's login() would try every mechanism in turn)."""
        offered = (smtp.esmtp_features.get("auth") or "").upper().split()
        mechanism = next((name for name in ("PLAIN", "LOGIN") if name in offered), None)
        if mechanism is None:
            raise SmtpConfigurationError(f"{self.settings.server} offers no AUTH PLAIN or LOGIN (it offers "
                                         f"{' '.join(offered) or 'no AUTH at all'}); unset COALITION_SMTP_USER if "
                                         "it needs no login, or use its submission port")
        smtp.user, smtp.password = self.settings.user or "", self.settings.password or ""
        try:
            smtp.auth(mechanism, smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login)
        except smtplib.SMTPAuthenticationError as error:
            self.login_failed = SmtpConfigurationError(
                f"{self.settings.server} refused the login of {self.settings.user!r}: "
                f"{Reply.of(error.smtp_code, error.smtp_error)}; check COALITION_SMTP_USER and "
                "COALITION_SMTP_PASSWORD. Nothing was sent")
            raise self.login_failed from error

    def drop(self) -> None:
        """Forget a connection that failed or is in an unknown state."""
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
                with self._deadline("QUIT"):
                    self.smtp.quit()
            except (OSError, smtplib.SMTPException, _Expired):
                pass
        self.drop()

    def reset(self) -> None:
        """End a transaction that sends nothing (RSET); drop the connection if that fails."""
        if self.smtp is None:
            return
        try:
            with self._deadline("RSET"):
                self.smtp.rset()
        except (OSError, smtplib.SMTPException, _Expired):
            self.drop()

    # ---- one transaction

    def envelope(self, sender: str, addresses: list[str], utf8: bool, eightbit: bool) -> Envelope:
        """MAIL FROM and RCPT TO for `addresses`; raises SmtpConfigurationError or SmtpUnavailable."""
        self.open()
        smtp = self.smtp
        assert smtp is not None
        options = (["SMTPUTF8"] if utf8 else []) + (["BODY=8BITMIME"] if eightbit else [])
        accepted: list[str] = []
        deferred: list[tuple[str, Reply]] = []
        refused: list[tuple[str, Reply]] = []
        try:
            with self._deadline("the envelope"):
                reply = Reply.of(*smtp.mail(sender, options))
                if reply.code == 530 or (reply.code >= 500 and "auth" in reply.text.lower()):
                    raise SmtpConfigurationError(f"{self.settings.server} requires a login: {reply} (set "
                                                 "COALITION_SMTP_USER and COALITION_SMTP_PASSWORD); nothing was sent")
                if reply.code >= 500:
                    raise SmtpConfigurationError(f"{self.settings.server} refused the sender {sender}: {reply}; "
                                                 "correct 'sender:' in campaign.yaml or the account. Nothing was sent")
                if reply.code != 250:
                    raise SmtpUnavailable(f"MAIL FROM: {reply}")
                for index, address in enumerate(addresses):
                    reply = Reply.of(*smtp.rcpt(address))
                    if reply.code in (250, 251):
                        accepted.append(address)
                    elif reply.code == 452 and accepted:  # too many recipients: the rest in a new transaction
                        return Envelope(tuple(accepted), tuple(deferred), tuple(refused), tuple(addresses[index:]))
                    elif reply.code == 530:
                        raise SmtpConfigurationError(f"{self.settings.server} requires a login: {reply}; nothing "
                                                     "was sent")
                    elif reply.code >= 500:
                        refused.append((address, reply))
                    else:  # a 4xx, or an unreadable reply before any text went out: try again later
                        deferred.append((address, reply))
        except SmtpConfigurationError:
            self.drop()
            raise
        except (_Expired, OSError, smtplib.SMTPException) as error:
            self.drop()
            raise SmtpUnavailable(f"before the message text: {_reason(error)}") from error
        return Envelope(tuple(accepted), tuple(deferred), tuple(refused), ())

    def data(self, body: bytes, before_text: Callable[[], None]) -> Reply:
        """DATA and the message text; `before_text` runs once the server is ready for the text.

        Returns the reply to DATA when the server refused it (nothing went out), else the final reply.
        Raises SmtpUnavailable before the text and SmtpInDoubt after it when no clear reply came.
        """
        smtp = self.smtp
        assert smtp is not None
        try:
            with self._deadline("DATA"):
                reply = Reply.of(*smtp.docmd("DATA"))
        except (_Expired, OSError, smtplib.SMTPException) as error:
            self.drop()
            raise SmtpUnavailable(f"at DATA: {_reason(error)}") from error
        if reply.code < 100:
            self.drop()
            raise SmtpUnavailable(f"at DATA the server said {reply}")
        if reply.code != 354:
            self.reset()
            return reply
        try:
            before_text()
        except BaseException:
            self.drop()  # the server waits for text that will not come
            raise
        text = smtplib.quotedata(body.decode("latin-1")).encode("latin-1")  # bytes kept as they are
        if not text.endswith(b"\r\n"):
            text += b"\r\n"
        try:
            with self._deadline("the message text"):
                smtp.send(text + b".\r\n")
                final = Reply.of(*smtp.getreply())
        except (_Expired, OSError, smtplib.SMTPException) as error:
            self.drop()
            raise SmtpInDoubt(f"no reply after the message text: {_reason(error)}") from error
        if final.code < 100:
            self.drop()  # the connection is in an unknown state
            raise SmtpInDoubt(f"after the message text the server said {final}")
        return final


def _reason(error: BaseException) -> str:
    """An exception as a short phrase."""
    if isinstance(error, smtplib.SMTPResponseException):
        return str(Reply.of(error.smtp_code, error.smtp_error))
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
