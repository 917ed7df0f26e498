"""Stage 3, render: each (recipient, language) gets its HTML from the style's Jinja template, then its PDF."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pyphen
from babel import Locale
from babel.dates import format_date
from markupsafe import Markup

from .errors import Problems

TEMPLATES = Path(__file__).parent / "templates"
from .model import Campaign, Letter, Recipient, RenderedLetter


@dataclass(frozen=True)
class Page:
    """What a template is given for one letter: every value already localized."""

    lang: str
    justify: bool  # justified text only where a hyphenation dictionary exists (none for Kyrgyz: ragged right)
    title: str
    author: str
    created: str
    subject: str
    place: str
    date: str
    recipient_name: str
    recipient_title: str | None
    address: tuple[str, ...]
    email: tuple[str, ...]
    channel: str
    salutation: str
    body: Markup
    closing: str
    signatories: tuple[tuple[str, str | None], ...]
    copies: tuple[str, ...]
    strings: dict
    proof: str | None = None  # the proof ID: the page is watermarked and footed with it


@dataclass(frozen=True)
class AddressPage:
    """What the address page of a print bundle shows: the address for a DL window envelope, and the enclosures."""

    lang: str
    title: str
    author: str
    created: str
    sender: str | None
    lines: tuple[str, ...]
    enclosures_label: str
    enclosures: tuple[str, ...]


def letter_date(campaign: Campaign, language: str) -> str:
    """The letter's date as written in `language` (CLDR long form: '31 March 2020', '31 марта 2020 г.')."""
    return format_date(campaign.date, "long", locale=campaign.date_locales.get(language, language))


def coalition_name(campaign: Campaign, language: str) -> str:
    """The coalition as an author: its organisations' names, in the campaign's order."""
    return ", ".join(signatory.name.get(language) for signatory in campaign.signatories)


def page_values(campaign: Campaign, letter: Letter, recipient: Recipient, proof: str | None = None) -> Page:
    """Everything the template prints for `recipient`, in the letter's language."""
    language = letter.language
    return Page(
        lang=language,
        justify=pyphen.language_fallback(language) is not None,
        title=campaign.subject.get(language),
        author=coalition_name(campaign, language),
        created=campaign.date.isoformat(),
        subject=campaign.subject.get(language),
        place=campaign.place.get(language),
        date=letter_date(campaign, language),
        recipient_name=recipient.name.get(language),
        recipient_title=recipient.title.get(language) if recipient.title else None,
        address=tuple(line.get(language) for line in recipient.address),
        email=recipient.email if recipient.channel == "email" else (),
        channel=recipient.channel,
        salutation=recipient.salutation.get(language),
        body=Markup(letter.body_html),  # composed from escaped Markdown; raw HTML was refused
        closing=campaign.closing.get(language),
        signatories=tuple((signatory.name.get(language),
                           signatory.qualifier.get(language) if signatory.qualifier else None)
                          for signatory in campaign.signatories),
        copies=tuple(copy.get(language) for copy in recipient.copies),
        strings=campaign.style.strings[language],
        proof=proof,
    )


class Renderer:
    """Renders letters with one campaign's style: the template and stylesheets are loaded once."""

    def __init__(self, campaign: Campaign, problems: Problems):
        self.campaign, self.problems = campaign, problems
        style = campaign.style
        # the style's own templates first; the package's (proof.html.j2 for proof marks) after them
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(style.folder), str(TEMPLATES)]), autoescape=True,
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self.template = self.template_or_none(style.template)
        self.address_template = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
            undefined=jinja2.StrictUndefined).get_template("address.html.j2")
        self._pdf_writer = None

    def template_or_none(self, name: str):
        """The style's template, or None with its syntax error recorded."""
        try:
            return self.environment.get_template(name)
        except jinja2.TemplateSyntaxError as error:
            self.problems.add(self.campaign.style.folder / name, error.lineno, f"template error: {error.message}")
            return None

    @property
    def pdf_writer(self):
        """WeasyPrint, imported and set up on first use."""
        if self._pdf_writer is None:
            from .pdf import PdfWriter

            style = self.campaign.style
            self._pdf_writer = PdfWriter(style.folder, style.stylesheets, (self.campaign.folder,))
            for url in self._pdf_writer.setup_refused:
                self.problems.add(style.folder / style.stylesheets[0], 0, f"refused to load {url}: only files in the "
                                  "campaign and style folders are used", "copy the file into the style's folder")
            for message in self._pdf_writer.setup_warnings:
                self.problems.add(style.folder / "style.yaml", 0, f"stylesheet problem: {message}",
                                  "fix the style's CSS or fonts")
        return self._pdf_writer

    def html(self, letter: Letter, recipient: Recipient, proof: str | None = None) -> str | None:
        """The letter's HTML for `recipient`, or None with the template's problem recorded."""
        if self.template is None:
            return None
        try:
            return self.template.render(page=page_values(self.campaign, letter, recipient, proof))
        except jinja2.UndefinedError as error:
            line = _template_line(error)
            self.problems.add(self.campaign.style.folder / self.campaign.style.template, line,
                              f"template uses an undefined value: {error.message}",
                              "fix the name in the template, or add the string to style.yaml")
        return None

    def render(self, letter: Letter, recipient: Recipient, proof: str | None = None) -> RenderedLetter | None:
        """The PDF of `letter` for `recipient` (a watermarked proof if `proof` is its ID), or None with problems."""
        html = self.html(letter, recipient, proof)
        if html is None:
            return None
        result = self.pdf_writer.write(html)
        for url in result.refused:
            self.problems.add(self.campaign.style.folder / self.campaign.style.template, 0,
                              f"refused to load {url}: only files in the campaign and style folders are used",
                              "remove the reference or copy the file into the style's folder")
        for message in result.warnings:
            if not any(url in message for url in result.refused):
                self.problems.add(self.campaign.style.folder / "style.yaml", 0, f"rendering problem: {message}")
        return RenderedLetter(recipient, letter.language, html, result.pdf, result.pages,
                              "proof" if proof else "letter", proof)


    def address_page(self, recipient: Recipient, letters: list[RenderedLetter]) -> RenderedLetter | None:
        """The address page for a post recipient, in its first language, listing the letters enclosed."""
        language = recipient.languages[0]
        names = Locale.parse(language).languages
        strings = self.campaign.style.strings[language]
        if "enclosures" not in strings:
            self.problems.add(self.campaign.style.folder / "style.yaml", 0, f"no 'enclosures' string for "
                              f"{language!r}, needed for the address page of post recipients",
                              f"add it under strings: {language}:")
            return None
        values = AddressPage(
            lang=language, title=f"{self.campaign.subject.get(language)}: {recipient.name.get(language)}",
            author=coalition_name(self.campaign, language), created=self.campaign.date.isoformat(),
            sender=self.campaign.sender[0] if self.campaign.sender else None,
            lines=(recipient.name.get(language), *([recipient.title.get(language)] if recipient.title else []),
                   *(line.get(language) for line in recipient.address)),
            enclosures_label=strings["enclosures"],
            enclosures=tuple(f"{names.get(letter.language, letter.language)}: {letter.file_name}" for letter in letters))
        html = self.address_template.render(address=values)
        result = self.pdf_writer.write(html)
        return RenderedLetter(recipient, language, html, result.pdf, result.pages, "address-page")


@functools.lru_cache(maxsize=8)
def font_coverage(fonts: tuple[Path, ...]) -> frozenset[int]:
    """Every code point the style's fonts can draw, read from their character maps."""
    from fontTools.ttLib import TTFont

    covered: set[int] = set()
    for path in fonts:
        with TTFont(path, lazy=True) as font:
            covered |= set(font.getBestCmap())
    return frozenset(covered)


def check_glyphs(campaign: Campaign, letters: dict, problems: Problems) -> None:
    """Every character the letters print is in the style's fonts: no silent blank boxes or stray fallback font."""
    style = campaign.style
    if style is None or not style.fonts:
        return
    covered = font_coverage(style.fonts)
    hint = "replace the character, or add a font that has it to the style's 'fonts' and stylesheet"

    def missing(text: str) -> list[str]:
        return sorted({char for char in text if not char.isspace() and ord(char) not in covered})

    def describe(chars: list[str]) -> str:
        return ", ".join(f"{char!r} (U+{ord(char):04X})" for char in chars)

    seen: set[str] = set()
    for source in campaign.sources:
        for number, line in enumerate(source.text.splitlines(), start=1):
            if chars := missing(line):
                seen.update(chars)
                problems.add(source.path, number, f"{describe(chars)} cannot be drawn by the fonts of style "
                             f"{style.id!r}", hint)
    for letter in letters.values():
        if chars := [char for char in missing(" ".join(letter.paragraphs + letter.footnotes)) if char not in seen]:
            seen.update(chars)
            problems.add(campaign.folder.parent / "references.yaml", 0, f"a cited title has {describe(chars)}, which "
                         f"the fonts of style {style.id!r} cannot draw", hint)
    for recipient in campaign.recipients:
        for language in recipient.languages:
            if language not in letters or language not in style.strings:
                continue
            page = page_values(campaign, letters[language], recipient)
            texts = [value for name, value in vars(page).items() if isinstance(value, str) and name != "body"]
            texts += [*page.address, *page.email, *page.copies, *page.strings.values()]
            texts += [part for pair in page.signatories for part in pair if part]
            if chars := [char for char in missing(" ".join(texts)) if char not in seen]:
                seen.update(chars)
                problems.add(campaign.folder / "campaign.yaml", recipient.line, f"the {language} letter to "
                             f"{recipient.id!r} prints {describe(chars)}, which the fonts of style {style.id!r} "
                             "cannot draw (in the campaign, a signatory or the style's strings)", hint)


def render_letters(campaign: Campaign, letters: dict, problems: Problems) -> tuple[RenderedLetter, ...]:
    """Every recipient's letter in each of its languages, and an address page for each post recipient."""
    renderer = Renderer(campaign, problems)
    rendered = []
    for recipient in campaign.recipients:
        own = [result for language in recipient.languages
               if (result := renderer.render(letters[language], recipient)) is not None]
        rendered += own
        if recipient.channel == "post" and own:
            page = renderer.address_page(recipient, own)
            rendered += [page] if page else []
    return tuple(rendered)


def render_proofs(campaign: Campaign, letters: dict, proofs: dict, problems: Problems) -> tuple[RenderedLetter, ...]:
    """A watermarked proof per language, addressed as the first recipient who reads that language gets it."""
    renderer = Renderer(campaign, problems)
    rendered = []
    for language, letter in letters.items():
        recipient = next((item for item in campaign.recipients if language in item.languages),
                         campaign.recipients[0])
        result = renderer.render(letter, recipient, proofs[language].id)
        if result is not None:
            rendered.append(result)
    return tuple(rendered)


def _template_line(error: Exception) -> int:
    """The template line an exception was raised from, read from its traceback."""
    line = 0
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith((".j2", ".html")):
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
