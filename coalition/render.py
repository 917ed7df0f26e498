"""Stage 3, render: each (recipient, language) gets its HTML from the style's Jinja template, then its PDF."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from . import fonts, sandbox
from .cache import PdfCache
from .errors import Problems
from .compose import LRI, PDI, typeset
from .languages import direction, fill, is_right_to_left, justified, language_name, letter_spacing_allowed, long_date
from .model import Campaign, Letter, PdfResult, Recipient, RenderedLetter

ADDRESS_TEMPLATE = "address.html.j2"


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
        dateline=fill(plain_strings(campaign.style.strings.get(language, {})).get("dateline", "{place}, {date}"),
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
        strings={name: shown(value) for name, value in plain_strings(campaign.style.strings.get(language, {})).items()},
        proof=proof,
    )


def printed_characters(campaign: Campaign, letters: dict) -> frozenset[int]:
    """Every character the letters, their templates' values and the style's strings may print."""
    from .checks.glyphs import printed_texts

    return frozenset(ord(char) for text, _ in printed_texts(campaign, letters) for char in text)


@dataclass(frozen=True)
class RenderOptions:
    """How PDFs are made: worker processes, the cache folder, the PDF variant, a progress callback."""

    jobs: int = 1
    cache: Path | None = None
    pdf_variant: str | None = None
    progress: Callable[[int], None] | None = None  # called with the number of PDFs just finished

    @property
    def pdf(self) -> dict:
        """WeasyPrint's write_pdf options."""
        return {"pdf_variant": self.pdf_variant, "pdf_tags": True} if self.pdf_variant else {}


PARALLEL_FROM = 4  # PDFs per worker below which starting worker processes costs more than it saves


class Renderer:
    """Renders letters with one campaign's style: the template and stylesheets are loaded once."""

    def __init__(self, campaign: Campaign, problems: Problems, options: RenderOptions = RenderOptions(),
                 letters: dict | None = None):
        self.campaign, self.problems, self.options = campaign, problems, options
        style = campaign.style
        # the style chain's templates, the style's own first; sandboxed: a letterhead is code from elsewhere
        self.environment = sandbox.environment(style.folders, html=True)
        self.cache = PdfCache(options.cache, style.folders, options.pdf) if options.cache else None
        self.rendered = 0  # PDFs WeasyPrint actually made (the rest came from the cache)
        self.letters = letters
        self._pdf_writer = None

    @functools.cached_property
    def font_css(self) -> str:
        """The style's @font-face rules; a fallback font is loaded only if the letters print a character it serves."""
        printed = printed_characters(self.campaign, self.letters) if self.letters else None
        return fonts.font_face_css(self.campaign.style.fonts, printed)

    def render_template(self, name: str, values: dict) -> str | None:
        """A template of the style chain rendered in the sandbox, or None with its problem at its file:line."""
        style = self.campaign.style
        return sandbox.render(self.environment, name, values, self.problems, style.folders, style.folder / name)

    @property
    def pdf_writer(self):
        """WeasyPrint, imported and set up on first use."""
        if self._pdf_writer is None:
            from .pdf import PdfWriter

            style = self.campaign.style
            self._pdf_writer = PdfWriter(style.folder, style.stylesheets, (*style.folders, self.campaign.folder),
                                         self.font_css)
            for url in self._pdf_writer.setup_refused:
                self.problems.add(style.stylesheets[-1], 0, f"refused to load {url}: only files in the campaign "
                                  "and style folders are used", "copy the file into the style's folder")
            for message in self._pdf_writer.setup_warnings:
                self.problems.add(style.folder / "style.yaml", 0, f"stylesheet problem: {message}",
                                  "fix the style's CSS or fonts")
        return self._pdf_writer

    def html(self, letter: Letter, recipient: Recipient, proof: str | None = None) -> str | None:
        """The letter's HTML for `recipient`, or None with the template's problem recorded."""
        if not self.campaign.style.template:
            return None
        return self.render_template(self.campaign.style.template,
                                    {"page": page_values(self.campaign, letter, recipient, proof)})

    def pdfs(self, htmls: list[str]) -> list[PdfResult]:
        """The PDF of each HTML: from the cache where it is there, else rendered (in worker processes if many)."""
        keys = [self.cache.key(html) for html in htmls] if self.cache else [None] * len(htmls)
        results: list[PdfResult | None] = [self.cache.get(key) if key else None for key in keys]
        if self.options.progress and any(results):
            self.options.progress(sum(1 for result in results if result))
        todo = [index for index, result in enumerate(results) if result is None]
        for index, result in zip(todo, self.write([htmls[index] for index in todo])):
            results[index] = result
            if self.cache:
                self.cache.put(keys[index], result)
        for result in results:
            self.report(result)
        return results

    def write(self, htmls: list[str]):
        """Render with WeasyPrint, yielding each result in order."""
        self.rendered += len(htmls)
        jobs = min(self.options.jobs, len(htmls) // PARALLEL_FROM)
        if jobs <= 1:
            for html in htmls:
                yield self.pdf_writer.write(html, **self.options.pdf)
                if self.options.progress:
                    self.options.progress(1)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from .pdf import start_worker, write_in_worker

        style = self.campaign.style
        # forkserver: workers start clean (no threads or half-imported state copied from this process), import
        # WeasyPrint once each, and keep their fonts and parsed stylesheets for every letter they render
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=start_worker,
                                 initargs=(style.folder, style.stylesheets, (*style.folders, self.campaign.folder),
                                           self.font_css)) as pool:
            futures = [pool.submit(write_in_worker, html, self.options.pdf) for html in htmls]
            for future in futures:
                yield future.result()
                if self.options.progress:
                    self.options.progress(1)

    def report(self, result: PdfResult) -> None:
        """What the fetcher refused and what WeasyPrint warned of, as problems."""
        style = self.campaign.style
        for url in result.refused:
            self.problems.add(style.folder / style.template, 0,
                              f"refused to load {url}: only files in the campaign and style folders are used",
                              "remove the reference or copy the file into the style's folder")
        for message in result.warnings:
            if not any(url in message for url in result.refused):
                self.problems.add(style.folder / "style.yaml", 0, f"rendering problem: {message}")
        from .checks.glyphs import foreign_fonts

        for name in foreign_fonts(result.pdf, style):
            self.problems.add(style.folder / "style.yaml", 0, f"WeasyPrint drew some text in {name}, a font of this "
                              "machine's that the style does not ship", "add a font with those characters to "
                              "'fallback_fonts', and end every font-family with var(--fallback-fonts)")

    def render_all(self, jobs: list[tuple[Letter, Recipient, str | None]]) -> list[RenderedLetter]:
        """The PDF of each (letter, recipient, proof ID or None); those whose HTML failed are left out."""
        htmls = [(letter, recipient, proof, self.html(letter, recipient, proof)) for letter, recipient, proof in jobs]
        htmls = [item for item in htmls if item[3] is not None]
        results = self.pdfs([html for *_, html in htmls])
        return [RenderedLetter(recipient, letter.language, html, result.pdf, result.pages,
                               "proof" if proof else "letter", proof)
                for (letter, recipient, proof, html), result in zip(htmls, results)]

    def address_page(self, recipient: Recipient, letters: list[RenderedLetter]) -> str | None:
        """The address page's HTML for a post recipient, in its first language, listing the letters enclosed."""
        language = recipient.languages[0]
        strings = plain_strings(self.campaign.style.strings.get(language, {}))
        if "enclosures" not in strings:
            self.problems.add(self.campaign.style.folder / "style.yaml", 0, f"no 'enclosures' string for "
                              f"{language!r}, needed for the address page of post recipients",
                              f"add it under strings: {language}:")
            return None
        values = AddressPage(
            lang=language, dir=direction(language),
            title=f"{self.campaign.subject.get(language)}: {recipient.name.get(language)}",
            author=coalition_name(self.campaign, language), created=self.campaign.date.isoformat(),
            sender=self.campaign.sender[0] if self.campaign.sender else None,
            lines=(recipient.name.get(language), *([recipient.title.get(language)] if recipient.title else []),
                   *(line.get(language) for line in recipient.address)),
            enclosures_label=strings["enclosures"],
            enclosures=tuple(f"{language_name(letter.language, language)}: {letter.file_name}" for letter in letters))
        return self.render_template(ADDRESS_TEMPLATE, {"address": values})


def check_templates(campaign: Campaign, letters: dict, problems: Problems) -> None:
    """Every template renders with every value it will be given (letters, proofs, address pages, e-mails), and
    every string it needs exists: found by `check`, before anything is rendered."""
    from .cover import check_emails

    if campaign.style is None or not campaign.style.template:
        return
    renderer = Renderer(campaign, problems)
    for recipient in campaign.recipients:
        for language in recipient.languages:
            if language in letters and language in campaign.style.strings:
                renderer.html(letters[language], recipient)
                renderer.html(letters[language], recipient, proof="en-0000000000")
    check_emails(campaign, problems)


def render_letters(campaign: Campaign, letters: dict, problems: Problems,
                   options: RenderOptions = RenderOptions()) -> tuple[tuple[RenderedLetter, ...], int]:
    """Every recipient's letter in each of its languages, an address page for each post recipient, and how many
    PDFs WeasyPrint had to make (the rest came from the cache)."""
    renderer = Renderer(campaign, problems, options, letters)
    rendered = renderer.render_all([(letters[language], recipient, None) for recipient in campaign.recipients
                                    for language in recipient.languages])
    pages = []
    for recipient in campaign.recipients:
        if recipient.channel == "post":
            own = [item for item in rendered if item.recipient.id == recipient.id]
            if own and (html := renderer.address_page(recipient, own)) is not None:
                pages.append((recipient, html))
    for (recipient, html), result in zip(pages, renderer.pdfs([html for _, html in pages])):
        rendered.append(RenderedLetter(recipient, recipient.languages[0], html, result.pdf, result.pages,
                                       "address-page"))
    return tuple(rendered), renderer.rendered


def render_proofs(campaign: Campaign, letters: dict, proofs: dict, problems: Problems,
                  options: RenderOptions = RenderOptions()) -> tuple[RenderedLetter, ...]:
    """A watermarked proof per language, addressed as the first recipient who reads that language gets it."""
    jobs = []
    for language, letter in letters.items():
        recipient = next((item for item in campaign.recipients if language in item.languages),
                         campaign.recipients[0])
        jobs.append((letter, recipient, proofs[language].id))
    return tuple(Renderer(campaign, problems, options, letters).render_all(jobs))
