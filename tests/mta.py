"""Real mail servers on 127.0.0.1 for the sending tests.

- Recorder: an aiosmtpd handler that stores each transaction and misbehaves on request (refuse, defer, one
  recipient per transaction, drop the line after the text, AUTH).
- ScriptedServer: a hand-written SMTP server (threads and sockets) for faults no real server makes on demand:
  a greeting trickled a byte at a time, a garbled reply after the final ".".
- Postfix: Debian's Postfix with its own config and queue folders in a temporary folder, listening on a
  loopback port, delivering every address into one Maildir; `smtpd_recipient_limit` and a
  check_recipient_access map make recipient limits and greylisting real.
"""

from __future__ import annotations

import asyncio
import email
import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps (envelope recipients, Message-ID, message) of every accepted transaction."""

    def __init__(self):
        self.messages: list[tuple[tuple[str, ...], str, email.message.EmailMessage]] = []
        self.refuse: set[str] = set()  # 550 at RCPT
        self.defer: set[str] = set()  # 451 at RCPT
        self.one_recipient = False  # 452 for every RCPT after the first of a transaction
        self.data_replies: list[str] = []  # replies at the end of DATA before accepting again
        self.drop_after_data: set[str] = set()  # store the message, then cut the line before replying
        self.auth_attempts = 0
        self.refuse_sender = False  # 553 at MAIL FROM
        self.hang_up_after_each = False  # close the connection after each accepted message
        self.port = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return "553 5.7.1 <%s>: sender address rejected: not owned by user" % address
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        if address in self.defer:
            return "451 4.7.1 greylisted, try again later"
        if self.one_recipient and envelope.rcpt_tos:
            return "452 4.5.3 Error: too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        raw = envelope.original_content or envelope.content
        message = email.message_from_string(raw.decode("utf-8"), policy=policy.default)  # UTF-8 headers too
        self.messages.append((tuple(envelope.rcpt_tos), str(message["Message-ID"]), message))
        if set(envelope.rcpt_tos) & self.drop_after_data:
            server.transport.close()
            return "250 never heard"
        if self.hang_up_after_each:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply has gone
        return f"250 2.0.0 queued as {len(self.messages)}"

    def copies(self, address: str) -> int:
        """How many messages reached `address`."""
        return sum(address in recipients for recipients, _, _ in self.messages)

    def per_message(self) -> dict[tuple[str, str], int]:
        """(Message-ID, address) -> copies received."""
        counts: dict[tuple[str, str], int] = {}
        for recipients, message_id, _ in self.messages:
            for address in recipients:
                counts[(message_id, address)] = counts.get((message_id, address), 0) + 1
        return counts

    def per_address(self) -> dict[str, int]:
        """address -> messages received."""
        counts: dict[str, int] = {}
        for recipients, _, _ in self.messages:
            for address in recipients:
                counts[address] = counts.get(address, 0) + 1
        return counts


def start_recorder(handler: Recorder, password: str | None = None, auth_required: bool = False,
                   smtputf8: bool = True) -> Controller:
    """aiosmtpd on a free loopback port; with `password`, AUTH PLAIN/LOGIN that counts attempts."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        handler.auth_attempts += 1
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == (password or "").encode()
        return AuthResult(success=ok, handled=False)

    extra = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": auth_required} \
        if password is not None or auth_required else {}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=smtputf8, **extra)
    controller.start()
    handler.port = controller.port
    return controller


class ScriptedServer:
    """A hand-written SMTP server: `trickle` sends the greeting a byte every `trickle` seconds, for ever;
    `final_reply` is what it says after the message text (stored first)."""

    def __init__(self, trickle: float | None = None, final_reply: bytes = b"250 2.0.0 stored\r\n"):
        self.trickle, self.final_reply = trickle, final_reply
        self.messages: list[bytes] = []
        self.connections = 0
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                outer.connections += 1
                if outer.trickle is not None:
                    for byte in b"220-slow.test " + b"." * 100000:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(outer.trickle)
                    return
                self.wfile.write(b"220 scripted.test ESMTP\r\n")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        self.wfile.write(b"250-scripted.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        text = b""
                        while not text.endswith(b"\r\n.\r\n"):
                            chunk = self.rfile.readline()
                            if not chunk:
                                return
                            text += chunk
                        outer.messages.append(text)
                        self.wfile.write(outer.final_reply)
                        if not outer.final_reply.startswith(b"250"):
                            return
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_missing() -> str | None:
    """Why Postfix cannot run here, or None."""
    if shutil.which("postfix") is None or not Path("/usr/lib/postfix/sbin/master").exists():
        return "Postfix is not installed (./setup.sh --test installs it where apt-get is available)"
    if os.geteuid() != 0:
        return "starting a private Postfix needs root"
    try:
        import pwd

        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no 'postfix' user (install Debian's postfix package)"
    return None


class Postfix:
    """A private Postfix on 127.0.0.1:<port>: config, queue and Maildir in `folder`, no systemd."""

    def __init__(self, folder: Path, recipient_limit: int = 1000):
        import pwd

        self.folder, self.port = folder, free_port()
        self.config, self.maildir = folder / "etc", folder / "mail"
        entry = pwd.getpwnam("postfix")
        for name in ("etc", "queue", "data", "mail"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        for name in ("data", "mail"):
            os.chown(folder / name, entry.pw_uid, entry.pw_gid)
        (self.config / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mta.test
mydestination =
relayhost =
mynetworks = 127.0.0.0/8
smtputf8_enable = yes
smtpd_recipient_limit = {recipient_limit}
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_recipient_access regexp:{self.config}/access, permit_mynetworks, reject
virtual_mailbox_domains = regexp:{self.config}/domains
virtual_mailbox_maps = regexp:{self.config}/mailbox
virtual_mailbox_base = {folder}/mail
virtual_uid_maps = static:{entry.pw_uid}
virtual_gid_maps = static:{entry.pw_gid}
""")
        (self.config / "domains").write_text("/./ OK\n")
        (self.config / "mailbox").write_text("/./ inbox/\n")  # every address into one Maildir
        (self.config / "master.cf").write_text(MASTER_CF.format(port=self.port))
        self.set_access({})

    def postfix(self, *command: str) -> None:
        """Run `postfix -c <config> <command>`, insisting that it works."""
        done = subprocess.run(["postfix", "-c", str(self.config), *command], capture_output=True, text=True)
        log = (self.folder / "maillog").read_text(errors="replace") if (self.folder / "maillog").exists() else ""
        assert done.returncode == 0, f"postfix {' '.join(command)}: {done.stdout}{done.stderr}\n{log[-2000:]}"

    def set_access(self, rules: dict[str, str]) -> None:
        """check_recipient_access: address -> action (e.g. '451 4.7.1 greylisted'); reloads a running Postfix."""
        lines = [f"/^{address.replace('.', '[.]')}$/ {action}" for address, action in rules.items()]
        (self.config / "access").write_text("\n".join(lines) + "\n" if lines else "")
        if (self.folder / "queue" / "pid" / "master.pid").exists():
            self.postfix("reload")

    def start(self) -> Postfix:
        """Start it and wait until it answers."""
        self.postfix("start")
        self.wait_for(lambda: self.answers(), "Postfix to listen")
        return self

    def stop(self) -> None:
        """Stop it."""
        subprocess.run(["postfix", "-c", str(self.config), "stop"], capture_output=True)

    def answers(self) -> bool:
        """Whether it greets on its port."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                return connection.recv(4).startswith(b"220")
        except OSError:
            return False

    def rcpt_reply(self, address: str) -> int:
        """The code Postfix now gives RCPT TO `address` (no message is sent)."""
        import smtplib

        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("probe@test.example")
            code, _ = smtp.rcpt(address)
            smtp.rset()
        return code

    def delivered(self) -> list[email.message.EmailMessage]:
        """Every message in the Maildir (one file per delivered address)."""
        folder = self.maildir / "inbox" / "new"
        if not folder.exists():
            return []
        return [email.message_from_string(path.read_bytes().decode("utf-8", "replace"), policy=policy.default)
                for path in sorted(folder.iterdir())]

    def per_address(self) -> dict[str, int]:
        """address -> copies delivered (from Delivered-To)."""
        counts: dict[str, int] = {}
        for message in self.delivered():
            address = str(message["Delivered-To"])
            counts[address] = counts.get(address, 0) + 1
        return counts

    def queue_empty(self) -> bool:
        """Whether everything accepted has been delivered (or bounced)."""
        queue = self.folder / "queue"
        return not any(path.is_file() for name in ("incoming", "active", "deferred", "maildrop")
                       for path in (queue / name).rglob("*"))

    @staticmethod
    def wait_for(condition, what: str, limit: float = 30.0) -> None:
        """Poll `condition` until it holds; fail naming `what` after `limit` seconds."""
        end = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < end, f"gave up waiting for {what}"
            time.sleep(0.05)
