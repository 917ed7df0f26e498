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
    return draft(campaign, recipient.email, recipient.cc, values.subject, body,
                 [(letter.name, letter.data, "application", "pdf") for letter in letters],
                 message_id(campaign, recipient, letters),
                 {"X-Coalition-Campaign": campaign.id, "X-Coalition-Recipient": recipient.id})


def draft(campaign: Campaign, to: tuple[str, ...], cc: tuple[str, ...], subject: str, body: str, attachments: list,
          identifier: str, headers: dict | None = None) -> bytes:
    """An e-mail draft from the campaign's sender (X-Unsent: 1, no Date), its MIME boundary derived from its
    Message-ID so that the same draft is the same bytes; `attachments` are (name, data, maintype, subtype)."""
    message = EmailMessage(policy=policy.default)
    message["From"] = Address(display_name=campaign.sender[0], addr_spec=campaign.sender[1])
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Message-ID"] = identifier
    message["X-Unsent"] = "1"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, data, maintype, subtype in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    message.set_boundary("coalition-" + hashlib.sha256(identifier.encode()).hexdigest()[:20])
    international = not all(address.isascii() for address in (*to, *cc, campaign.sender[1]))
    return message.as_bytes(policy=policy.default.clone(utf8=international))  # RFC 6532 headers where needed


def review_emails(campaign: Campaign, proofs: dict, states: dict, rendered, reports: dict, files: list,
                  problems: Problems, links: dict | None = None) -> list[tuple[str, bytes]]:
    """For each signatory organisation, a draft to its contact with the proofs and the changes since its approval;
    `states` is (organisation, language) -> ApprovalState, `links` organisation -> its private review link."""
    if campaign.sender is None:
        problems.add(campaign.folder / "campaign.yaml", 0, "review e-mails need a sender",
                     "add 'sender:' with the coordinator's name and e-mail address")
        return []
    by_name = {path: file for path, file, _ in files}
    emails = []
    for signatory in campaign.signatories:
        lines = [f"Dear colleagues at {signatory.name.get(campaign.languages[0])},", "",
                 f"Please review the joint letter \"{campaign.subject.get(campaign.languages[0])}\" of "
                 f"{letter_date(campaign, campaign.languages[0])} before it is sent. The proofs are attached:", ""]
        attachments = []
        for item in rendered:
            current = proofs[item.language]
            approval = states[(signatory.id, item.language)].approved
            attachments.append((item.file_name, item.pdf, "application", "pdf"))
            if approval and approval.proof == current.id:
                status = f"you approved this proof on {approval.at.date().isoformat()}"
            elif approval and (approval.proof, current.id) in reports:
                report = reports[(approval.proof, current.id)]
                status = f"changed since the proof you approved, {approval.proof}: see {report.split('/')[-1]}.html"
                attachments.append((f"{report.split('/')[-1]}.html", by_name[f"{report}.html"].data, "text", "html"))
            elif approval:
                status = f"changed since the proof you approved, {approval.proof}"
            else:
                status = "not yet approved by your organisation"
            lines.append(f"- {Locale.parse('en').languages.get(item.language, item.language)}: proof {current.id} "
                         f"({item.file_name}): {status}")
        qualifier = f", {signatory.qualifier.get(campaign.languages[0])}" if signatory.qualifier else ""
        link = (links or {}).get(signatory.id)
        how = (["Review and approve on your organisation's private page (do not forward this link):", link]
               if link else ["To approve, reply with the proof IDs you approve and the name of the person approving."])
        lines += ["", f"Your organisation signs as: {signatory.name.get(campaign.languages[0])}{qualifier}.", *how,
                  "The letter goes out only with the organisations that approved its exact text.", "",
                  campaign.sender[0]]
        body = "\n".join(lines) + "\n"
        digest = hashlib.sha256(body.encode())
        for name, data, *_ in attachments:
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        identifier = (f"<{campaign.id}.review.{signatory.id}.{digest.hexdigest()[:20]}@"
                      f"{campaign.sender[1].rpartition('@')[2]}>")
        subject = (f"For approval: {campaign.subject.get(campaign.languages[0])} (proofs "
                   f"{', '.join(proof.id for proof in proofs.values())})")
        emails.append((signatory.id, draft(campaign, (signatory.contact,), (), subject, body, attachments,
                                           identifier)))
    return emails
