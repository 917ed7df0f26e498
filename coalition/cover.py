"""The cover e-mail of an e-mail recipient's bundle: an RFC 5322 draft (.eml) with the letters attached.

It is opened by a mail client as a draft (X-Unsent: 1) and carries no Date header: that is set when a message
is really sent. Its Message-ID and MIME boundary derive from its content, so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from babel.lists import format_list

from . import sandbox
from .errors import CoalitionError, Problems
from .languages import fill, language_name, locale, long_date, plural_category
from .model import Campaign, OutputFile, Recipient, Sender

COVER_TEMPLATE = "cover.txt.j2"
REVIEW_TEMPLATE = "review.txt.j2"


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
    language_list: str  # the same as a list in the language's own words ('English, Russian and Kyrgyz')
    closing: str
    sender: str


@dataclass(frozen=True)
class ProofLine:
    """One proof in a review e-mail: its language (named in the e-mail's), ID, file and status."""

    language: str
    proof: str
    file: str
    status: str


@dataclass(frozen=True)
class Review:
    """What the review template is given, in the language the organisation reads."""

    lang: str
    organisation: str
    subject: str
    date: str
    proofs: tuple[ProofLine, ...]
    signs_as: str
    sender: str
    link: str | None = None  # the organisation's private review page


class Words:
    """The style's strings in one language, for templates: t(name, value=…) and n(name, count, value=…)."""

    def __init__(self, campaign: Campaign, language: str):
        self.language, self.strings = language, campaign.letterhead.strings.get(language, {})
        self.source = campaign.letterhead.folders[-1] / "style.yaml"

    def text(self, name: str, /, **values) -> str:
        """String `name` with its {placeholders} filled in."""
        entry = self.strings.get(name)
        if entry is None:
            raise MissingString(name, self.language)
        if isinstance(entry, dict):
            entry = entry.get("other") or next(iter(entry.values()))
        return fill(entry, values)

    def plural(self, name: str, count: int, /, **values) -> str:
        """String `name` in its CLDR plural form for `count`, with {count} and the other placeholders filled in."""
        entry = self.strings.get(name)
        if entry is None:
            raise MissingString(name, self.language)
        forms = entry if isinstance(entry, dict) else {"other": entry}
        category = plural_category(self.language, count)
        if category not in forms and "other" not in forms:
            raise MissingString(f"{name}.{category}", self.language)
        return fill(forms.get(category) or forms.get("other") or "", {"count": count, **values})

    def functions(self) -> dict[str, Callable]:
        """The functions templates call."""
        return {"t": self.text, "n": self.plural}


class MissingString(LookupError):
    """A template asked for a string the style has no entry for in that language."""

    def __init__(self, name: str, language: str):
        super().__init__(f"no string {name!r} for language {language!r}")
        self.name, self.language = name, language


def template_folders(campaign: Campaign) -> tuple[Path, ...]:
    """Where e-mail templates may come from: the campaign's folder, then the style chain's."""
    return (campaign.folder, *campaign.letterhead.folders)


def cover_environment(campaign: Campaign):
    """The sandbox for e-mail templates (plain text: no escaping): the campaign's own, else the style chain's."""
    return sandbox.environment(template_folders(campaign), html=False)


def cover_values(campaign: Campaign, recipient: Recipient, letters: tuple[OutputFile, ...]) -> Cover:
    """The cover's values for `recipient`, in its first language."""
    language = recipient.languages[0]
    languages = tuple(language_name(letter.language, language) for letter in letters if letter.language)
    return Cover(
        lang=language,
        salutation=recipient.salutation.get(language),
        subject=campaign.subject.get(language),
        date=long_date(campaign.date, language, campaign.date_locales.get(language)),
        organisations=tuple(signatory.name.get(language) for signatory in campaign.signatories_of(language)),
        attachments=tuple(letter.name for letter in letters),
        languages=languages,
        language_list=format_list(list(languages), locale=locale(language)) if languages else "",
        closing=campaign.closing.get(language),
        sender=campaign.sender.name if campaign.sender else "",
    )


def render_text(campaign: Campaign, name: str, language: str, values: dict, problems: Problems,
                blame: tuple[Path, int]) -> str | None:
    """An e-mail template rendered in the sandbox with the strings of `language`, or None with its problem
    recorded (a missing string at the style, a missing template at `blame`)."""
    words = Words(campaign, language)
    folders = template_folders(campaign)
    try:
        return sandbox.render(cover_environment(campaign), name, {**values, **words.functions()}, problems,
                              folders, blame[0])
    except MissingString as missing:
        problems.add(words.source, 0, f"{missing}, needed by {name}",
                     f"add it under 'strings: {language}:' in the style's style.yaml")
        return None


def check_emails(campaign: Campaign, problems: Problems) -> None:
    """Every language the e-mails are written in has the strings and templates they need: found by `check`,
    before anything is rendered."""
    languages = {recipient.languages[0] for recipient in campaign.recipients if recipient.channel == "email"}
    languages |= {signatory.review_language(campaign.languages) for signatory in campaign.signatories
                  if campaign.languages}  # the review e-mails
    for language in sorted(languages):
        for name, kind in ((COVER_TEMPLATE, Cover), (REVIEW_TEMPLATE, Review)):
            sample = _sample(kind, language)
            render_text(campaign, name, language, {kind.__name__.lower(): sample}, problems,
                        (campaign.folder / "campaign.yaml", 0))


def _sample(kind: type, language: str):
    """Values of the right shape to try a template with: two of everything, so that plurals and lists are used."""
    if kind is Cover:
        return Cover(language, "-", "-", "-", ("-", "-"), ("-", "-"), ("-", "-"), "-", "-", "-")
    return Review(language, "-", "-", "-", (ProofLine("-", "-", "-", "-"),) * 2, "-", "-", "-")


def message_id(campaign: Campaign, recipient: Recipient, letters: tuple[OutputFile, ...]) -> str:
    """A Message-ID that is the same whenever the same letters go to the same recipient."""
    digest = hashlib.sha256()
    for part in (campaign.id, recipient.id, *(hashlib.sha256(letter.data).hexdigest() for letter in letters)):
        digest.update(part.encode() + b"\0")
    domain = sender_of(campaign).address.rpartition("@")[2]
    return f"<{campaign.id}.{recipient.id}.{digest.hexdigest()[:20]}@{domain}>"


def cover_email(campaign: Campaign, recipient: Recipient, letters: tuple[OutputFile, ...],
                environment, problems: Problems) -> bytes | None:
    """The .eml draft for `recipient`, or None with the template's problem recorded."""
    values = cover_values(campaign, recipient, letters)
    body = render_text(campaign, COVER_TEMPLATE, values.lang, {"cover": values}, problems,
                       (campaign.folder / "campaign.yaml", recipient.line))
    if body is None:
        return None
    return draft(campaign, recipient.email, recipient.cc, values.subject, body,
                 [(letter.name, letter.data, "application", "pdf") for letter in letters],
                 message_id(campaign, recipient, letters),
                 {"X-Coalition-Campaign": campaign.id, "X-Coalition-Recipient": recipient.id})


def sender_of(campaign: Campaign) -> Sender:
    """The campaign's sender; e-mails cannot be made without one."""
    if campaign.sender is None:
        raise CoalitionError(f"{campaign.folder / 'campaign.yaml'}: e-mails need a 'sender:' (the coordinator's name "
                             "and e-mail address); add it")
    return campaign.sender


def draft(campaign: Campaign, to: tuple[str, ...], cc: tuple[str, ...], subject: str, body: str, attachments: list,
          identifier: str, headers: dict | None = None) -> bytes:
    """An e-mail draft from the campaign's sender (X-Unsent: 1, no Date), its MIME boundary derived from its
    Message-ID so that the same draft is the same bytes; `attachments` are (name, data, maintype, subtype)."""
    message = EmailMessage(policy=policy.default)
    sender = sender_of(campaign)
    message["From"] = Address(display_name=sender.name, addr_spec=sender.address)
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
    international = not all(address.isascii() for address in (*to, *cc, sender.address))
    return message.as_bytes(policy=policy.default.clone(utf8=international))  # RFC 6532 headers where needed


def review_emails(campaign: Campaign, proofs: dict, states: dict, rendered, reports: dict, files: list,
                  problems: Problems, links: dict | None = None) -> list[tuple[str, bytes]]:
    """For each signatory organisation, a draft to its contact with the proofs and the changes since its approval,
    in the language its reviewers read (`review_languages`); `states` is (organisation, language) -> ApprovalState, `links` organisation
    -> its private review link."""
    if campaign.sender is None:
        problems.add(campaign.folder / "campaign.yaml", 0, "review e-mails need a sender",
                     "add 'sender:' with the coordinator's name and e-mail address")
        return []
    by_name = {file.path: file for file in files}
    emails = []
    for signatory in campaign.signatories:
        language = signatory.review_language(campaign.languages)
        words = Words(campaign, language)
        attachments, lines = [], []
        try:
            for item in rendered:
                current = proofs[item.language]
                approval = states[(signatory.id, item.language)].approved
                attachments.append((item.file_name, item.pdf, "application", "pdf"))
                if approval and approval.proof == current.id:
                    status = words.text("review_approved", date=long_date(approval.at.date(), language))
                elif approval and (approval.proof, current.id) in reports:
                    report = f"{reports[(approval.proof, current.id)].split('/')[-1]}.html"
                    status = (f"{words.text('review_changed', proof=approval.proof)} "
                              f"({words.text('review_report', report=report)})")
                    attachments.append((report, by_name[f"{reports[(approval.proof, current.id)]}.html"].data,
                                        "text", "html"))
                elif approval:
                    status = words.text("review_changed", proof=approval.proof)
                else:
                    status = words.text("review_pending")
                lines.append(ProofLine(language_name(item.language, language), current.id, item.file_name, status))
            subject = words.text("review_subject", subject=campaign.subject.get(language),
                                 proofs=", ".join(proof.id for proof in proofs.values()))
        except MissingString as missing:
            problems.add(words.source, 0, f"{missing}, needed by the review e-mails",
                         f"add it under 'strings: {language}:' in the style's style.yaml")
            return []
        name = signatory.name.get(language)
        qualifier = signatory.qualifier.get(language) if signatory.qualifier else None
        review = Review(language, name, campaign.subject.get(language),
                        long_date(campaign.date, language, campaign.date_locales.get(language)), tuple(lines),
                        f"{name}, {qualifier}" if qualifier else name, campaign.sender.name,
                        (links or {}).get(signatory.id))
        body = render_text(campaign, REVIEW_TEMPLATE, language, {"review": review}, problems,
                           (campaign.folder / "campaign.yaml", 0))
        if body is None:
            return []
        digest = hashlib.sha256(body.encode())
        for file_name, data, *_ in attachments:
            digest.update(file_name.encode() + b"\0" + hashlib.sha256(data).digest())
        identifier = (f"<{campaign.id}.review.{signatory.id}.{digest.hexdigest()[:20]}@"
                      f"{campaign.sender.address.rpartition('@')[2]}>")
        emails.append((signatory.id, draft(campaign, (signatory.contact,), (), subject, body, attachments,
                                           identifier)))
    return emails
