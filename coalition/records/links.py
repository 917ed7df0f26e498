"""Private review links: one per signatory organisation and campaign, signed with a secret kept outside the data.

A link is <base>/review/<campaign>/<token>, the token being the link's id (12 random characters) followed by an
HMAC-SHA256 of the campaign, the organisation and that id under the server's secret. letters/<campaign>/links.yaml
keeps only the ids (so approvals can name the link they came through, and git can hold the file); without the
secret, which lives in the user's config folder with mode 0600, no link can be made or guessed. Revoking a link
marks its id revoked; regenerating gives the organisation a new id, so its old link stops working.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from .. import schema
from ..errors import CoalitionError, Problems
from ..files import sync_folder, write_atomically
from ..model import Campaign
from ..yamlfile import load_yaml
from .approvals import locked

LINKS = "links.yaml"
SECRET_ENV = "COALITION_SECRET_FILE"
ID_LENGTH, MAC_LENGTH = 12, 32
ALPHABET = string.ascii_lowercase + string.digits
HEADER = ("# Private review links, one per signatory organisation: only each link's id is kept here. The links are\n"
          "# signed with the server's secret, which is never in this folder. Manage with 'coalition links CAMPAIGN'.\n")


@dataclass(frozen=True)
class LinkRecord:
    """An organisation's private link as recorded: its id, when it was made, and when it was revoked."""

    organisation: str
    id: str
    made: str
    revoked: str | None

    @property
    def active(self) -> bool:
        """Whether the link still opens the review page."""
        return self.revoked is None


@dataclass(frozen=True)
class Link:
    """An organisation's link as the coordinator sees it: its record and, while active, the URL to send."""

    record: LinkRecord
    url: str | None


# ---------------------------------------------------------------------------------------------------------------
# The secret


def secret_path(explicit: Path | None = None) -> Path:
    """Where the server secret is: --secret-file, else $COALITION_SECRET_FILE, else the user's config folder."""
    if explicit:
        return explicit
    if os.environ.get(SECRET_ENV):
        return Path(os.environ[SECRET_ENV])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "coalition" / "secret"


def load_secret(path: Path, root: Path) -> bytes:
    """The secret in `path`, made (mode 0600) on first use; refused inside the project or readable by others."""
    path = path.expanduser()
    if path.resolve().is_relative_to(root.resolve()):
        raise CoalitionError(f"the secret file {path} is inside the project folder {root}: keep it outside the "
                             "campaign data and out of git (e.g. the default, ~/.config/coalition/secret)")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another process just now
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
                file.flush()
                os.fsync(file.fileno())
    if path.stat().st_mode & 0o077:
        raise CoalitionError(f"the secret file {path} can be read by other users: run 'chmod 600 {path}'")
    value = path.read_text(encoding="ascii", errors="replace").strip()
    if len(value) < 32:
        raise CoalitionError(f"the secret file {path} holds no secret (at least 32 characters): delete it and a new "
                             "one is made (every private link then changes)")
    return value.encode()


def _mac(secret: bytes, *parts: str) -> str:
    """A truncated HMAC-SHA256 of the parts, as lower-case hex."""
    return hmac.new(secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:MAC_LENGTH]


def review_token(secret: bytes, campaign_id: str, record: LinkRecord) -> str:
    """The secret part of an organisation's review link."""
    return record.id + _mac(secret, "review", campaign_id, record.organisation, record.id)


def dashboard_token(secret: bytes) -> str:
    """The secret part of the coordinator's dashboard link (it changes only with the secret)."""
    return "d" + _mac(secret, "dashboard")


def is_dashboard_token(secret: bytes, token: str) -> bool:
    """Whether `token` opens the dashboard, compared in constant time."""
    return hmac.compare_digest(token.encode(), dashboard_token(secret).encode())


def form_token(secret: bytes, cookie: str, scope: str) -> str:
    """The CSRF token of a form: bound to the browser's cookie and to the link it is shown under."""
    return _mac(secret, "form", cookie, scope)


# ---------------------------------------------------------------------------------------------------------------
# The records: letters/<campaign>/links.yaml


def read_links(campaign_folder: Path, problems: Problems) -> dict[str, LinkRecord]:
    """Organisation -> its link record (none if the file does not exist yet)."""
    path = campaign_folder / LINKS
    if not path.exists():
        return {}
    document = load_yaml(path, problems)
    if document is None or document.data is None:
        return {}
    values = schema.LINKS.convert(document.data, (), schema.Context(document, problems))
    if values is schema.INVALID:
        return {}
    return {organisation: LinkRecord(organisation, entry["link"], entry["made"], entry["revoked"])
            for organisation, entry in values.items()}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def update_links(campaign: Campaign, make_missing: bool = True, revoke: tuple[str, ...] = (),
                 regenerate: tuple[str, ...] = ()) -> dict[str, LinkRecord]:
    """Make missing links, revoke and regenerate the ones named, and return them all."""
    # links.yaml is rewritten round-trip (comments kept), atomically, under the campaign's lock, only on a change
    ids = [signatory.id for signatory in campaign.signatories]
    for organisation in (*revoke, *regenerate):
        if organisation not in ids:
            raise CoalitionError(f"{organisation!r} does not sign {campaign.id} (signatories: {', '.join(ids)})")
    both = sorted(set(revoke) & set(regenerate))
    if both:
        raise CoalitionError(f"{', '.join(both)}: give --revoke or --regenerate for an organisation, not both")
    path = campaign.folder / LINKS
    yaml = YAML()  # round-trip: keeps the comments and the order people gave
    yaml.width = 4096
    with locked(campaign.folder):
        problems = Problems(campaign.folder.parent.parent)
        read_links(campaign.folder, problems)  # refuse to rewrite a file that is wrong
        problems.check()
        data = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
        if data is None:
            data = yaml.load(HEADER + "{}\n")
        changed = False
        for organisation in ids:
            entry = data.get(organisation)
            if organisation in revoke and entry is None:  # revoked before it was ever made: it never works
                data[organisation] = yaml.load(f"{{link: {_new_id()}, made: {_now()}, revoked: {_now()}}}")
                changed = True
            elif organisation in regenerate or (entry is None and make_missing):
                data[organisation] = yaml.load(f"{{link: {_new_id()}, made: {_now()}}}")
                changed = True
            elif organisation in revoke and entry is not None and not entry.get("revoked"):
                entry["revoked"] = _now()
                changed = True
        if changed:
            buffer = io.StringIO()
            yaml.dump(data, buffer)
            write_atomically(path, buffer.getvalue().encode())
            sync_folder(campaign.folder)
        problems = Problems(campaign.folder.parent.parent)
        records = read_links(campaign.folder, problems)
        problems.check()
    return records


def review_links(campaign: Campaign, secret: bytes, base_url: str, records: dict[str, LinkRecord]) -> dict[str, Link]:
    """Organisation -> its link with the URL to send (None once revoked), in the campaign's order."""
    base = base_url.rstrip("/")
    return {signatory.id: Link(records[signatory.id], f"{base}/review/{campaign.id}/"
                               f"{review_token(secret, campaign.id, records[signatory.id])}"
                               if records[signatory.id].active else None)
            for signatory in campaign.signatories if signatory.id in records}


def find_organisation(secret: bytes, campaign_folder: Path, campaign_id: str, token: str) -> LinkRecord | None:
    """The active link record that `token` belongs to, or None (wrong shape, unknown id, bad signature, revoked)."""
    if len(token) != ID_LENGTH + MAC_LENGTH or not all(char in ALPHABET for char in token):
        return None
    problems = Problems(campaign_folder.parent.parent)
    records = read_links(campaign_folder, problems)
    wanted = token[:ID_LENGTH]
    for record in records.values():
        expected = review_token(secret, campaign_id, record)
        if hmac.compare_digest(token.encode(), expected.encode()) and record.id == wanted:
            return record if record.active else None
    return None


def links_text(root: Path, campaign: Campaign, base_url: str, secret_file: Path, revoke: tuple[str, ...] = (),
               regenerate: tuple[str, ...] = ()) -> str:
    """`coalition links`: make missing links, revoke and regenerate as asked, and list them with the dashboard's."""
    campaign_id = campaign.id
    secret = load_secret(secret_file, root)
    links = review_links(campaign, secret, base_url, update_links(campaign, revoke=revoke, regenerate=regenerate))
    width = max(len(organisation) for organisation in links)
    lines = [f"Private review links for {campaign_id} (send each only to its organisation):", ""]
    for organisation, link in links.items():
        lines.append(f"{organisation:<{width}}  {link.url or f'revoked {link.record.revoked}'}")
    lines += ["", f"coordinator's dashboard: {base_url.rstrip('/')}/dashboard/{dashboard_token(secret)}"]
    return "\n".join(lines)
