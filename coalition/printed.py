"""What each letter prints: the values its templates are given, every one localized and typeset.

Render fills the templates with them; the glyph check reads them to know every character that will be printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from babel.lists import format_list
from markupsafe import Markup

from .compose import LRI, PDI, typeset
from .languages import (direction, fill, is_right_to_left, justified, language_name, letter_spacing_allowed,
                        locale, long_date)
from .model import Campaign, Letter, Recipient, Style

BODY_PLACE = "\ue000"  # stands for the body when only the text around it is wanted (a private-use character)
BODY_SHOWN = "[…]"  # how the body's place reads in a proof's record of that text
# elements that start a new line of printed text; <head>, <style> and <script> print nothing
BLOCKS = frozenset("address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 header "
                   "hr li main nav ol p pre section table td th tr ul".split())
UNPRINTED = frozenset(("head", "style", "script", "template", "title"))
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
CSS_CONTENT = re.compile(r"(?<![\w-])content\s*:\s*([^;}]+)")


@dataclass(frozen=True)
class Addressee:
    """One recipient as a proof's annex lists it: who the letter goes to, where, how and in which languages."""

    name: str
    title: str | None
    lines: tuple[str, ...]  # the postal address, or the e-mail addresses (To, then Cc)
    channel: str  # "email" or "post"
    languages: str  # the languages it gets the letter in, named and listed as the proof's language does


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
    recipients: tuple[Addressee, ...] = ()  # on a proof, for its annex page: every recipient reading the language

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


class _TextReader(HTMLParser):
    """The text an HTML page shows, line by line; the text of its <style> elements kept apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.styles: list[str] = []
        self.hidden = 0  # depth inside elements that print nothing

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in UNPRINTED:
            self.hidden += 1
        elif tag in BLOCKS:
            self.lines.append("")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in BLOCKS:
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in UNPRINTED:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style" and self.hidden:
            self.styles.append(data)
        if not self.hidden:
            self.lines[-1] += data


def visible_text(html: str) -> tuple[str, tuple[str, ...]]:
    """The text a page of HTML prints, its lines joined by ' | ', white space folded, the body's place as […];
    and the `content:` values of its own <style> elements."""
    reader = _TextReader()
    reader.feed(html)
    reader.close()
    lines = [" ".join(line.split()) for line in reader.lines]
    text = " | ".join(line for line in lines if line)
    return text.replace(BODY_PLACE, BODY_SHOWN), tuple(css_printed_text("".join(reader.styles)))


def css_printed_text(css: str) -> list[str]:
    """The `content:` values of a stylesheet: the text CSS itself puts on the page."""
    return [" ".join(value.split()) for value in CSS_CONTENT.findall(CSS_COMMENT.sub("", css))]


def stylesheet_texts(style: Style) -> tuple[str, ...]:
    """Every `content:` value in the style chain's stylesheets, in order, each once."""
    found: dict[str, None] = {}
    for path in style.stylesheets:
        try:
            css = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # reported by the style's loading
        found.update(dict.fromkeys(css_printed_text(css)))
    return tuple(found)


def letter_date(campaign: Campaign, language: str) -> str:
    """The letter's date as written in `language` (CLDR long form: '31 March 2020', '31 марта 2020 г.')."""
    return long_date(campaign.date, language, campaign.date_locales.get(language))


def coalition_name(campaign: Campaign, language: str) -> str:
    """The coalition as an author: its organisations' names, in the campaign's order."""
    return ", ".join(signatory.name.get(language) for signatory in campaign.signatories_of(language))


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
                          for signatory in campaign.signatories_of(language)),
        copies=tuple(shown(copy.get(language)) for copy in recipient.copies),
        strings={name: shown(value) for name, value in strings.items()},
        proof=proof,
        recipients=addressees(campaign, language) if proof else (),
    )


def addressees(campaign: Campaign, language: str) -> tuple[Addressee, ...]:
    """The recipients who read `language`, as a proof in that language lists them."""
    isolated = LRI + "{}" + PDI if is_right_to_left(language) else "{}"
    return tuple(
        Addressee(name=typeset(recipient.name.get(language), language),
                  title=typeset(recipient.title.get(language), language) if recipient.title else None,
                  lines=(tuple(isolated.format(address) for address in (*recipient.email, *recipient.cc))
                         if recipient.channel == "email"
                         else tuple(typeset(line.get(language), language) for line in recipient.address)),
                  channel=str(recipient.channel),
                  languages=format_list([language_name(code, language) for code in recipient.languages],
                                        locale=locale(language)))
        for recipient in campaign.recipients if language in recipient.languages)
