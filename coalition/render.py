"""Stage 3, render: each (recipient, language) gets its HTML from the style's Jinja template, then its PDF."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import fonts, sandbox
from .cache import PdfCache
from .checks.glyphs import foreign_fonts, printed_texts
from .errors import Problems
from .languages import direction, language_name
from .model import Campaign, Letter, PdfResult, Recipient, RenderedLetter
from .printed import AddressPage, coalition_name, page_values, plain_strings

if TYPE_CHECKING:
    from .pdf import PdfWriter

ADDRESS_TEMPLATE = "address.html.j2"


def printed_characters(campaign: Campaign, letters: dict) -> frozenset[int]:
    """Every character the letters, their templates' values and the style's strings may print."""
    return frozenset(ord(char) for text, _ in printed_texts(campaign, letters) for char in text)


@dataclass(frozen=True)
class Printed:
    """What a PDF is, for messages: the file and line its text comes from, and its footnotes' lines there."""

    file: Path
    line: int
    what: str  # "the en letter of campaign 'march-2020' to 'president'"
    footnote_lines: tuple[int, ...]  # the definition line of footnote 1, 2, …


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


PARALLEL_FROM = 2  # PDFs per worker below which forking workers costs more than it saves


class Renderer:
    """Renders letters with one campaign's style: the template and stylesheets are loaded once."""

    def __init__(self, campaign: Campaign, problems: Problems, options: RenderOptions = RenderOptions(),
                 letters: dict | None = None):
        self.campaign, self.problems, self.options = campaign, problems, options
        style = campaign.letterhead
        # the style chain's templates, the style's own first; sandboxed: a letterhead is code from elsewhere
        self.environment = sandbox.environment(style.folders, html=True)
        self.cache = PdfCache(options.cache, style.folders, options.pdf) if options.cache else None
        self.rendered = 0  # PDFs WeasyPrint actually made (the rest came from the cache)
        self.letters = letters
        self._pdf_writer: PdfWriter | None = None

    @functools.cached_property
    def font_css(self) -> str:
        """The style's @font-face rules; a fallback font is loaded only if the letters print a character it serves."""
        printed = printed_characters(self.campaign, self.letters) if self.letters else None
        return fonts.font_face_css(self.campaign.letterhead.fonts, printed)

    def render_template(self, name: str, values: dict) -> str | None:
        """A template of the style chain rendered in the sandbox, or None with its problem at its file:line."""
        style = self.campaign.letterhead
        return sandbox.render(self.environment, name, values, self.problems, style.folders, style.folder / name)

    @property
    def pdf_writer(self):
        """WeasyPrint, imported and set up on first use."""
        if self._pdf_writer is None:
            from .pdf import PdfWriter

            style = self.campaign.letterhead
            self._pdf_writer = PdfWriter(style.folder, style.stylesheets, (*style.folders, self.campaign.folder),
                                         self.font_css)
            for url in self._pdf_writer.setup_refused:
                self.problems.add(style.stylesheets[-1], 0, f"refused to load {url}: only files in the campaign "
                                  "and style folders are used", "copy the file into the style's folder")
            for message in self._pdf_writer.setup_warnings:
                self.problems.add(style.folder / "style.yaml", 0, f"stylesheet problem: {message}",
                                  "fix the style's CSS or fonts")
            if self._pdf_writer.slow_subsetting:
                self.problems.warn("libharfbuzz-subset", 0, "not installed: WeasyPrint subsets fonts with fontTools "
                                   "instead, so PDFs take two to four times longer to write (they are as good)",
                                   "install it to get the speed back: 'apt install libharfbuzz-subset0' on Debian "
                                   "and Ubuntu, 'dnf install harfbuzz' on Fedora, 'brew install harfbuzz' on macOS")
        return self._pdf_writer

    def html(self, letter: Letter, recipient: Recipient, proof: str | None = None) -> str | None:
        """The letter's HTML for `recipient`, or None with the template's problem recorded."""
        if not self.campaign.letterhead.template:
            return None
        return self.render_template(self.campaign.letterhead.template,
                                    {"page": page_values(self.campaign, letter, recipient, proof)})

    def pdfs(self, htmls: list[str], printed: list[Printed] | None = None) -> list[PdfResult]:
        """The PDF of each HTML: from the cache where it is there, else rendered (in worker processes if many).

        `printed` says what each HTML is, so that a layout fault names the letter and the footnote's line.
        """
        cache = self.cache
        keys = [cache.key(html) for html in htmls] if cache else []
        results: list[PdfResult | None] = [cache.get(key) for key in keys] if cache else [None] * len(htmls)
        if self.options.progress and any(results):
            self.options.progress(sum(1 for result in results if result))
        todo = [index for index, result in enumerate(results) if result is None]
        for index, made in zip(todo, self.write([htmls[index] for index in todo])):
            results[index] = made
            if cache:
                cache.put(keys[index], made)
        done = [result for result in results if result is not None]
        for index, result in enumerate(done):
            self.report(result, printed[index] if printed else None)
        return done

    def write(self, htmls: list[str]):
        """Render with WeasyPrint, yielding each result in order: in this process, or in forked workers if many."""
        self.rendered += len(htmls)
        if not htmls:
            return
        writer = self.pdf_writer  # fonts and stylesheets set up once, here: forked workers inherit them ready
        jobs = min(self.options.jobs, len(htmls) // PARALLEL_FROM)
        if jobs <= 1:
            for html in htmls:
                yield writer.write(html, **self.options.pdf)
                if self.options.progress:
                    self.options.progress(1)
            return
        from .pdf import worker_pool, write_in_worker

        with worker_pool(writer, jobs) as pool:
            futures = [pool.submit(write_in_worker, html, self.options.pdf) for html in htmls]
            for future in futures:
                yield future.result()
                if self.options.progress:
                    self.options.progress(1)

    def report(self, result: PdfResult, printed: Printed | None = None) -> None:
        """What the fetcher refused, what WeasyPrint warned of and what was laid out wrong, as problems."""
        style = self.campaign.letterhead
        printed = printed or Printed(self.campaign.folder / "campaign.yaml", 0, "a page", ())
        for fault in result.layout:
            line = printed.line
            if fault.footnote is not None and 0 < fault.footnote <= len(printed.footnote_lines):
                line = printed.footnote_lines[fault.footnote - 1]
            self.problems.add(printed.file, line, f"{printed.what}: {fault.message}", fault.hint)
        for url in result.refused:
            self.problems.add(style.folder / style.template, 0,
                              f"refused to load {url}: only files in the campaign and style folders are used",
                              "remove the reference or copy the file into the style's folder")
        for message in result.warnings:
            if not any(url in message for url in result.refused):
                self.problems.add(style.folder / "style.yaml", 0, f"rendering problem: {message}")
        for name in foreign_fonts(result.fonts, style):
            self.problems.add(style.folder / "style.yaml", 0, f"WeasyPrint drew some text in {name}, a font of this "
                              "machine's that the style does not ship", "add a font with those characters to "
                              "'fallback_fonts', and end every font-family with var(--fallback-fonts)")

    def render_all(self, jobs: Sequence[tuple[Letter, Recipient, str | None]],
                   also: list[tuple[Recipient, str, Printed]] | None = None) -> list[RenderedLetter]:
        """The PDF of each (letter, recipient, proof ID or None), those whose HTML failed left out; then of each
        address page in `also` (recipient, HTML, what it is) whose recipient has a letter, in the same batch."""
        htmls = [(letter, recipient, proof, self.html(letter, recipient, proof)) for letter, recipient, proof in jobs]
        made = [(letter, recipient, proof, html) for letter, recipient, proof, html in htmls if html is not None]
        also = [page for page in also or [] if any(recipient.id == page[0].id for _, recipient, _, _ in made)]
        lines = {letter.language: tuple(unit.line for unit in letter.footnotes)
                 for letter, *_ in made if any(source.language == letter.language for source in self.campaign.sources)}
        printed = [Printed(self.campaign.source(letter.language).path if letter.language in lines
                           else self.campaign.folder / "campaign.yaml", 0,
                           f"the {letter.language} letter of campaign {self.campaign.id!r} to {recipient.id!r}"
                           + (f" (proof {proof})" if proof else ""), lines.get(letter.language, ()))
                   for letter, recipient, proof, _ in made]
        results = self.pdfs([html for *_, html in made] + [html for _, html, _ in also],
                            printed + [what for _, _, what in also])
        rendered = [RenderedLetter(recipient, letter.language, html, result.pdf, result.pages,
                                   "proof" if proof else "letter", proof)
                    for (letter, recipient, proof, html), result in zip(made, results)]
        return rendered + [RenderedLetter(recipient, recipient.languages[0], html, result.pdf, result.pages,
                                          "address-page")
                           for (recipient, html, _), result in zip(also, results[len(made):])]

    def address_page(self, recipient: Recipient, letters: list[RenderedLetter]) -> str | None:
        """The address page's HTML for a post recipient, in its first language, listing the letters enclosed."""
        language = recipient.languages[0]
        strings = plain_strings(self.campaign.letterhead.strings.get(language, {}))
        if "enclosures" not in strings:
            self.problems.add(self.campaign.letterhead.folder / "style.yaml", 0, f"no 'enclosures' string for "
                              f"{language!r}, needed for the address page of post recipients",
                              f"add it under strings: {language}:")
            return None
        values = AddressPage(
            lang=language, dir=direction(language),
            title=f"{self.campaign.subject.get(language)}: {recipient.name.get(language)}",
            author=coalition_name(self.campaign, language), created=self.campaign.date.isoformat(),
            sender=self.campaign.sender.name if self.campaign.sender else None,
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
    annexed = True
    proofed = set()
    for recipient in campaign.recipients:
        for language in recipient.languages:
            if language in letters and language in campaign.letterhead.strings:
                renderer.html(letters[language], recipient)
                if language not in proofed:  # a proof is made once per language, for its first reader
                    proofed.add(language)
                    proof = renderer.html(letters[language], recipient, proof="en-0000000000")
                    annexed = annexed and (proof is None or 'class="proof-annex"' in proof)
    if not annexed:  # the signatories approve who the letter goes to: the proof must show them
        problems.add(campaign.style.folder / campaign.style.template, 0, "the letter template does not include "
                     "proof-annex.html.j2, so proofs would not list the recipients",
                     'add {% include "proof-annex.html.j2" %} just before </body>')
    check_emails(campaign, problems)


def render_letters(campaign: Campaign, letters: dict, problems: Problems,
                   options: RenderOptions = RenderOptions()) -> tuple[tuple[RenderedLetter, ...], int]:
    """Every recipient's letter in each of its languages, an address page for each post recipient, and how many
    PDFs WeasyPrint had to make (the rest came from the cache)."""
    renderer = Renderer(campaign, problems, options, letters)
    jobs = [(letters[language], recipient, None) for recipient in campaign.recipients
            for language in recipient.languages]
    pages = []
    for recipient in campaign.recipients:
        enclosed = [RenderedLetter(recipient, language, "", b"", 0, "letter") for language in recipient.languages]
        if recipient.channel == "post" and (html := renderer.address_page(recipient, enclosed)) is not None:
            pages.append((recipient, html, Printed(campaign.folder / "campaign.yaml", recipient.line, "the address "
                                                   f"page of campaign {campaign.id!r} for {recipient.id!r}", ())))
    return tuple(renderer.render_all(jobs, pages)), renderer.rendered


def render_proofs(campaign: Campaign, letters: dict, proofs: dict, problems: Problems,
                  options: RenderOptions = RenderOptions()) -> tuple[RenderedLetter, ...]:
    """A watermarked proof per language, addressed as the first recipient who reads that language gets it."""
    jobs = []
    for language, letter in letters.items():
        recipient = next((item for item in campaign.recipients if language in item.languages),
                         campaign.recipients[0])
        jobs.append((letter, recipient, proofs[language].id))
    return tuple(Renderer(campaign, problems, options, letters).render_all(jobs))
