"""Stage 3, render: each (recipient, language) gets its HTML from the style's Jinja template, then its PDF."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pyphen
from babel import Locale
from babel.dates import format_date
from markupsafe import Markup

from .cache import PdfCache
from .errors import Problems
from .model import Campaign, Letter, PdfResult, Recipient, RenderedLetter

TEMPLATES = Path(__file__).parent / "templates"


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

    def __init__(self, campaign: Campaign, problems: Problems, options: RenderOptions = RenderOptions()):
        self.campaign, self.problems, self.options = campaign, problems, options
        style = campaign.style
        # the style's own templates first; the package's (proof.html.j2 for proof marks) after them
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(style.folder), str(TEMPLATES)]), autoescape=True,
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self.template = self.template_or_none(style.template)
        self.address_template = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
            undefined=jinja2.StrictUndefined).get_template("address.html.j2")
        self.cache = PdfCache(options.cache, style.folder, options.pdf) if options.cache else None
        self.rendered = 0  # PDFs WeasyPrint actually made (the rest came from the cache)
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
            if self._pdf_writer.slow_subsetting:
                self.problems.warn("libharfbuzz-subset", 0, "not installed: WeasyPrint subsets fonts with fontTools "
                                   "instead, so PDFs take two to four times longer to write (they are as good)",
                                   "install it to get the speed back: 'apt install libharfbuzz-subset0' on Debian "
                                   "and Ubuntu, 'dnf install harfbuzz' on Fedora, 'brew install harfbuzz' on macOS")
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
        style = self.campaign.style
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
        return self.address_template.render(address=values)


@functools.lru_cache(maxsize=8)
def font_coverage(fonts: tuple[Path, ...]) -> frozenset[int]:
    """Every code point the style's fonts can draw, read from their character maps."""
    from fontTools.ttLib import TTFont

    covered: set[int] = set()
    for path in fonts:
        with TTFont(path, lazy=True) as font:
            covered |= set(font.getBestCmap())
    return frozenset(covered)


def printed_texts(campaign: Campaign, letters: dict) -> list[str]:
    """Everything the letters print: bodies with their citations, and every value the template is given."""
    texts = [unit.text for letter in letters.values() for unit in (*letter.paragraphs, *letter.footnotes)]
    for recipient in campaign.recipients:
        for language in recipient.languages:
            if language in letters and language in campaign.style.strings:
                page = page_values(campaign, letters[language], recipient)
                texts += [value for name, value in vars(page).items() if isinstance(value, str) and name != "body"]
                texts += [*page.address, *page.email, *page.copies, *page.strings.values()]
                texts += [part for pair in page.signatories for part in pair if part]
    return texts


def text_files(campaign: Campaign) -> list[tuple[Path, int]]:
    """The files printed text comes from, each with the line its printed part starts on."""
    root = campaign.folder.parent.parent
    files = [(source.path, source.body_line) for source in campaign.sources]
    files += [(campaign.folder / "campaign.yaml", 1), (campaign.style.folder / "style.yaml", 1),
              (root / "letters" / "references.yaml", 1)]
    return files + [(signatory.source, 1) for signatory in campaign.signatories]


def check_glyphs(campaign: Campaign, letters: dict, problems: Problems) -> None:
    """Every character the letters print is in the style's fonts: no silent blank boxes or stray fallback font.

    Each missing character is reported where it is written: the first line, outside YAML comments and front
    matter, of the files printed text comes from.
    """
    style = campaign.style
    if style is None or not style.fonts or not all(path.is_file() for path in style.fonts):
        return  # no style, or a missing font: reported by the loader
    covered = font_coverage(style.fonts)
    missing = sorted({char for text in printed_texts(campaign, letters) for char in text
                      if not char.isspace() and ord(char) not in covered})
    for char in missing:
        where = next(((path, number) for path, first in text_files(campaign) if path.is_file()
                      for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                      if number >= first and char in line.split(" #")[0] and not line.lstrip().startswith("#")),
                     (campaign.folder / "campaign.yaml", 0))
        problems.add(where[0], where[1], f"{char!r} (U+{ord(char):04X}) cannot be drawn by the fonts of style "
                     f"{style.id!r}", "replace the character, or add a font that has it to the style's 'fonts' and "
                     "stylesheet")


def render_letters(campaign: Campaign, letters: dict, problems: Problems,
                   options: RenderOptions = RenderOptions()) -> tuple[tuple[RenderedLetter, ...], int]:
    """Every recipient's letter in each of its languages, an address page for each post recipient, and how many
    PDFs WeasyPrint had to make (the rest came from the cache)."""
    renderer = Renderer(campaign, problems, options)
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
    return tuple(Renderer(campaign, problems, options).render_all(jobs))


def _template_line(error: Exception) -> int:
    """The template line an exception was raised from, read from its traceback."""
    line = 0
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith((".j2", ".html")):
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
