"""The cover e-mail of an e-mail recipient's bundle: an RFC 5322 draft (.eml) with the letters attached.

It is opened by a mail client as a draft (X-Unsent: 1) and carries no Date header: that is set when a message
is really sent. Its Message-ID and MIME boundary derive from its content, so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import jinja2
from babel import Locale

from .errors import Problems
from .model import Campaign, OutputFile, Recipient
from .render import letter_date

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Cover:
    """What a cover template is given: every value already in the recipient's first language."""

    lang: str
    salutation: str
    subject: str
    date: str
    organisations: tuple[str, ...]
    attachments: tuple[str, ...]
    languages: tuple[str, ...]  # the attached letters' languages, named in the cover's language
    closing: str
    sender: str


def cover_environment(campaign: Campaign) -> jinja2.Environment:
    """Cover templates: the campaign's own, else the style's, else the built-in ones (plain text: no escaping)."""
    folders = [campaign.folder, campaign.style.folder, TEMPLATES]
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
                              autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def cover_values(campaign: Campaign, recipient: Recipient, letters: tuple[OutputFile, ...]) -> Cover:
    """The cover's values for `recipient`, in its first language."""
    language = recipient.languages[0]
    locale = Locale.parse(language)
    return Cover(
        lang=language,
        salutation=recipient.salutation.get(language),
        subject=campaign.subject.get(language),
        date=letter_date(campaign, language),
        organisations=tuple(signatory.name.get(language) for signatory in campaign.signatories),
        attachments=tuple(letter.name for letter in letters),
        languages=tuple(locale.languages.get(letter.language, letter.language) for letter in letters),
        closing=campaign.closing.get(language),
        sender=campaign.sender[0],
    )


def message_id(campaign: Campaign, recipient: Recipient, letters: tuple[OutputFile, ...]) -> str:
    """A Message-ID that is the same whenever the same letters go to the same recipient."""
    digest = hashlib.sha256()
    for part in (campaign.id, recipient.id, *(hashlib.sha256(letter.data).hexdigest() for letter in letters)):
        digest.update(part.encode() + b"\0")
    domain = campaign.sender[1].rpartition("@")[2]
    return f"<{campaign.id}.{recipient.id}.{digest.hexdigest()[:20]}@{domain}>"


def cover_email(campaign: Campaign, recipient: Recipient, letters: tuple[OutputFile, ...],
                environment: jinja2.Environment, problems: Problems) -> bytes | None:
    """The .eml draft for `recipient`, or None with the template's problem recorded."""
    values = cover_values(campaign, recipient, letters)
    name = f"cover.{values.lang}.txt.j2"
    try:
        body = environment.get_template(name).render(cover=values)
    except jinja2.TemplateNotFound:
        problems.add(campaign.folder / "campaign.yaml", recipient.line, f"no cover e-mail template for "
                     f"{values.lang!r}", f"write {name} in the campaign's or the style's folder")
        return None
    except jinja2.TemplateError as error:
        problems.add(campaign.folder / name, getattr(error, "lineno", 0), f"cover template error: {error}")
        return None
    message = EmailMessage(policy=policy.default)
    sender_name, sender_address = campaign.sender
    message["From"] = Address(display_name=sender_name, addr_spec=sender_address)
    message["To"] = ", ".join(recipient.email)
    if recipient.cc:
        message["Cc"] = ", ".join(recipient.cc)
    message["Subject"] = values.subject
    message["Message-ID"] = message_id(campaign, recipient, letters)
    message["X-Unsent"] = "1"
    message["X-Coalition-Campaign"] = campaign.id
    message["X-Coalition-Recipient"] = recipient.id
    message.set_content(body)
    for letter in letters:
        message.add_attachment(letter.data, maintype="application", subtype="pdf", filename=letter.name)
    message.set_boundary("coalition-" + message["Message-ID"].strip("<>").split("@")[0][-20:])
    return message.as_bytes()
