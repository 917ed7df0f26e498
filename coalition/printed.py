"""What each letter prints: the values its templates are given, every one localized and typeset.

Render fills the templates with them; the glyph check reads them to know every character that will be printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from .compose import LRI, PDI, typeset
from .languages import direction, fill, is_right_to_left, justified, letter_spacing_allowed, long_date
from .model import Campaign, Letter, Recipient


@dataclass(frozen=True)
class Page:
    """What a template is given for one letter: every value already localized."""

    lang: str
    dir: str  # "rtl" or "ltr", from the language (CLDR)
    justify: bool  # justified only where lines can break inside words, and never right to left
    letter_spacing: bool  # False for scripts whose letters join (Arabic, Hebrew, Devanagari)
    title: str
    author: str
    created: str
    subject: str
    place: str
    date: str
    dateline: str  # place and date joined as the language writes them ('Brussels, 31 March 2020', '布鲁塞尔，…')
    recipient_name: str
    recipient_title: str | None
    address: tuple[str, ...]
    email: tuple[str, ...]
    channel: str
    salutation: str
    body: Markup
    closing: str
    closing_lines: tuple[str, ...]  # a closing may span lines (Chinese '此致' / '敬礼！')
    signatories: tuple[tuple[str, str | None], ...]
    copies: tuple[str, ...]
    strings: dict
    proof: str | None = None  # the proof ID: the page is watermarked and footed with it

    @property
    def classes(self) -> str:
        """The <html> element's classes: how the language is set."""
        return " ".join(("justified" if self.justify else "ragged",
                         *(() if self.letter_spacing else ("no-letter-spacing",))))


@dataclass(frozen=True)
class AddressPage:
    """What the address page of a print bundle shows: the address for a DL window envelope, and the enclosures."""

    lang: str
    dir: str
    title: str
    author: str
    created: str
    sender: str | None
    lines: tuple[str, ...]
    enclosures_label: str
    enclosures: tuple[str, ...]


def letter_date(campaign: Campaign, language: str) -> str:
    """The letter's date as written in `language` (CLDR long form: '31 March 2020', '31 марта 2020 г.')."""
    return long_date(campaign.date, language, campaign.date_locales.get(language))


def coalition_name(campaign: Campaign, language: str) -> str:
    """The coalition as an author: its organisations' names, in the campaign's order."""
    return ", ".join(signatory.name.get(language) for signatory in campaign.signatories)


def plain_strings(strings: dict) -> dict:
    """A language's strings as templates print them: a plural string by its 'other' form."""
    return {name: value.get("other", next(iter(value.values()))) if isinstance(value, dict) else value
            for name, value in strings.items()}


def page_values(campaign: Campaign, letter: Letter, recipient: Recipient, proof: str | None = None) -> Page:
    """Everything the template prints for `recipient`, in the letter's language, typeset as the language wants it
    (its punctuation spacing; runs in the other direction isolated, e-mail addresses included)."""
    language = letter.language

    def shown(text: str) -> str:
        return typeset(text, language)

    closing = campaign.closing.get(language)
    strings = plain_strings(campaign.letterhead.strings.get(language, {}))
    isolated = LRI + "{}" + PDI if is_right_to_left(language) else "{}"
    return Page(
        lang=language,
        dir=direction(language),
        justify=justified(language),
        letter_spacing=letter_spacing_allowed(language),
        title=campaign.subject.get(language),
        author=coalition_name(campaign, language),
        created=campaign.date.isoformat(),
        subject=shown(campaign.subject.get(language)),
        place=shown(campaign.place.get(language)),
        date=letter_date(campaign, language),
        dateline=fill(strings.get("dateline", "{place}, {date}"),
                      {"place": shown(campaign.place.get(language)), "date": letter_date(campaign, language)}),
        recipient_name=shown(recipient.name.get(language)),
        recipient_title=shown(recipient.title.get(language)) if recipient.title else None,
        address=tuple(shown(line.get(language)) for line in recipient.address),
        email=tuple(isolated.format(address) for address in recipient.email) if recipient.channel == "email" else (),
        channel=recipient.channel,
        salutation=shown(recipient.salutation.get(language)),
        # composed from escaped Markdown (raw HTML was refused); a word joiner keeps each footnote call on the line
        # of the word it marks (the proof ID hashes the composed text, which this does not change)
        body=Markup(letter.body_html.replace('<span class="footnote">', '\u2060<span class="footnote">')),
        closing=closing,
        closing_lines=tuple(shown(line.strip()) for line in closing.splitlines() if line.strip()),
        signatories=tuple((shown(signatory.name.get(language)),
                           shown(signatory.qualifier.get(language)) if signatory.qualifier else None)
                          for signatory in campaign.signatories),
        copies=tuple(shown(copy.get(language)) for copy in recipient.copies),
        strings={name: shown(value) for name, value in strings.items()},
        proof=proof,
    )
