"""WeasyPrint, confined: the only module that imports it, so the command line starts without paying for it.

The URL fetcher serves files from the allowed folders (the campaign's and the style chain's) and nothing else: no other
file, no network. What it refuses, and what WeasyPrint complains of, is reported instead of silently dropped.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mimetypes
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

with warnings.catch_warnings():  # without HarfBuzz-Subset: said once, as a build warning (PdfWriter.slow_subsetting)
    warnings.filterwarnings("ignore", "HarfBuzz-Subset will be required", DeprecationWarning)
    import weasyprint.pdf.fonts
    from weasyprint import CSS, HTML
    from weasyprint.formatting_structure import boxes
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher, URLFetcherResponse

from .checks.layout import LaidOutPage, layout_faults
from .model import PdfResult

# What every letter needs whatever its letterhead, applied after the style's own stylesheets: notes stay with
# their calls, and no word or URL is too long to wrap.
PIPELINE_CSS = Path(__file__).parent / "layout.css"
REPAIRS = 4  # layouts tried again, each with one more block moved to the next page, before a letter is refused
BREAK_BEFORE = "break-before: page"
EDGE_TOLERANCE = 0.5  # CSS px: rounding in WeasyPrint's layout, not a character off the page
FONTTOOLS_FALLBACK = "Using fontTools instead of HarfBuzz-Subset"  # WeasyPrint's log line for each font subset


def slow_subsetting() -> bool:
    """Whether WeasyPrint lacks HarfBuzz-Subset (>= 4.1) and subsets fonts with the slower fontTools."""
    fonts = weasyprint.pdf.fonts
    return not (fonts.harfbuzz_subset and fonts.harfbuzz.hb_version_atleast(4, 1, 0))


class ConfinedURLFetcher(URLFetcher):
    """Serves file:// URLs inside the allowed folders; records and refuses every other URL."""

    def __init__(self, allowed: tuple[Path, ...]):
        super().__init__(allowed_protocols={"file"}, allow_redirects=False)
        self.allowed = tuple(folder.resolve() for folder in allowed)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        """The file behind `url`, if it lies inside an allowed folder."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return self.refuse(url)
        path = Path(unquote(parts.path)).resolve()
        if not any(path.is_relative_to(folder) for folder in self.allowed) or not path.is_file():
            return self.refuse(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".ttc" and parts.fragment.isdigit():
            return URLFetcherResponse(url, collection_face(path, int(parts.fragment)), {"Content-Type": "font/otf"})
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": content_type})

    def refuse(self, url: str):
        """Record the refusal; WeasyPrint then leaves the resource out."""
        self.refused.append(url)
        raise ValueError(f"refused to fetch {url}: outside the campaign and style folders")


def collection_face(path: Path, index: int) -> bytes:
    """Face `index` of a .ttc font collection as a font file of its own (fontconfig would load every face)."""
    from io import BytesIO

    from fontTools.ttLib import TTFont

    out = BytesIO()
    with TTFont(path, fontNumber=index) as font:
        font.save(out)
    return out.getvalue()


class _Collector(logging.Handler):
    """Keeps WeasyPrint's warnings and errors (missing fonts, bad CSS) so that they are not lost."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    @contextlib.contextmanager
    def attached(self):
        """Collect WeasyPrint's log records for the duration of a block."""
        logger = logging.getLogger("weasyprint")
        logger.addHandler(self)
        try:
            yield
        finally:
            logger.removeHandler(self)


class PdfWriter:
    """Renders HTML to PDF with one style: fonts and stylesheets are loaded once and reused for every letter."""

    def __init__(self, style_folder: Path, stylesheets: tuple[str | Path, ...], allowed: tuple[Path, ...],
                 font_css: str = ""):
        self.arguments = (style_folder, stylesheets, allowed, font_css)  # to set up this writer in another process
        self.base_url = style_folder.resolve().as_uri() + "/"
        self.fetcher = ConfinedURLFetcher((style_folder, *allowed))
        self.font_config = FontConfiguration()
        self.collector = _Collector()
        with self.collector.attached():
            # the style's @font-face rules (made from style.yaml) first, so that its stylesheets can use them
            fonts = [CSS(string=font_css, base_url=self.base_url, url_fetcher=self.fetcher,
                         font_config=self.font_config)] if font_css else []
            self.stylesheets = fonts + [CSS(filename=str(style_folder / name), url_fetcher=self.fetcher,
                                            font_config=self.font_config) for name in stylesheets]
            self.stylesheets.append(CSS(string=PIPELINE_CSS.read_text(encoding="utf-8"),
                                        font_config=self.font_config))
        self.slow_subsetting = slow_subsetting()
        self.setup_refused = tuple(self.fetcher.refused)
        self.setup_warnings = tuple(message for message in self.collector.messages
                                    if not any(url in message for url in self.setup_refused))

    def write(self, html: str, **options) -> PdfResult:
        """The PDF for one letter's HTML."""
        self.fetcher.refused.clear()
        self.collector.messages.clear()
        with self.collector.attached():
            source = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher)
            for _ in range(REPAIRS + 1):
                document = source.render(stylesheets=self.stylesheets, font_config=self.font_config)
                faults = layout_faults(laid_out_pages(document))
                if not faults or not _push_block_holding_notes_away(document, faults):
                    break
            pdf = document.write_pdf(**options)
        said = tuple(message for message in self.collector.messages if FONTTOOLS_FALLBACK not in message)
        # the fonts WeasyPrint embedded, named as in the PDF's BaseFont ("/ABCDEF+Family-Style"), without reading
        # the PDF back
        fonts = tuple(dict.fromkeys(font.name.decode().lstrip("/").split("+")[-1]
                                    for font in document.fonts.values()))
        return PdfResult(pdf, len(document.pages), tuple(self.fetcher.refused), said, faults, fonts)


def laid_out_pages(document) -> tuple[LaidOutPage, ...]:
    """Where each footnote call and note landed, page by page, and which text lies outside its page."""
    numbers: dict[int, int] = {}  # id of the footnote's element -> footnote number, in the order of the calls
    calls: list[list[int]] = []
    for page in document.pages:
        calls.append([])
        for box in _descendants(page._page_box):
            if (box.element_tag or "").endswith("::footnote-call") and box.element is not None:
                number = numbers.setdefault(id(box.element), len(numbers) + 1)
                calls[-1].append(number)
    pages = []
    for index, page in enumerate(document.pages):
        page_box = page._page_box
        width, height = page_box.margin_width(), page_box.margin_height()
        notes, cut, inside_cut = [], [], set()
        for area in page_box.children:
            if not isinstance(area, boxes.FootnoteAreaBox):
                continue
            for note in area.children:
                number = numbers.get(id(note.element), 0)  # 0: a note whose call is nowhere
                notes.append(number)
                if note.position_y < -EDGE_TOLERANCE or \
                        note.position_y + note.margin_height() > height + EDGE_TOLERANCE:
                    cut.append(number)
                    inside_cut |= {id(box) for box in _descendants(note)}  # reported as the note, not line by line
        stray = [box.text.strip()[:40] for box in _descendants(page_box)
                 if isinstance(box, boxes.TextBox) and box.text.strip() and id(box) not in inside_cut and (
                     box.position_x < -EDGE_TOLERANCE or box.position_y < -EDGE_TOLERANCE
                     or box.position_x + box.width > width + EDGE_TOLERANCE
                     or box.position_y + box.height > height + EDGE_TOLERANCE)]
        pages.append(LaidOutPage(index + 1, tuple(calls[index]), tuple(notes), tuple(cut), tuple(stray)))
    return tuple(pages)


def _push_block_holding_notes_away(document, faults) -> bool:
    """Start on a new page the block that took the room of a note called above it; False if there is none.

    WeasyPrint 70, when the line that would satisfy a paragraph's `orphans` does not fit at the foot of a page,
    moves the page's last footnotes to the next page to make room for it, away from their calls. Breaking the
    page before that paragraph instead is what `orphans` asks for, and leaves the notes where they are called.
    The break is set on the parsed document, so the next render lays it out; the HTML itself is unchanged.
    """
    moved = next((fault for fault in faults if fault.footnote and len(fault.pages) == 2
                  and fault.pages[0] < fault.pages[1]), None)
    if moved is None:
        return False
    page_box = document.pages[moved.pages[0] - 1]._page_box
    paragraphs = [box for box in _descendants(page_box.children[0]) if isinstance(box, boxes.BlockBox)
                  and any(isinstance(child, boxes.LineBox) for child in box.children) and box.element is not None]
    if not paragraphs or BREAK_BEFORE in (paragraphs[-1].element.get("style") or ""):
        return False
    element = paragraphs[-1].element
    element.set("style", f"{element.get('style') or ''};{BREAK_BEFORE}".lstrip(";"))
    return True


def _descendants(box):
    """A box and every box inside it, in document order."""
    yield box
    for child in getattr(box, "children", ()):
        yield from _descendants(child)


# Worker processes for parallel rendering, forked from the process that has set up its PdfWriter (WeasyPrint
# imported, fonts and stylesheets loaded): they start at once, ready, and render with that same writer.
_WORKER: PdfWriter | None = None


@contextlib.contextmanager
def worker_pool(writer: PdfWriter, jobs: int):
    """`jobs` worker processes rendering as `writer` does; none outlives this process, even if it is killed.

    From a single-threaded process (the command line) workers are forked with `writer` ready to use. Forking a
    process that runs other threads (a web server) could copy a lock some thread holds, so there the workers
    come from a clean fork server and set up their own writer.
    """
    global _WORKER
    _WORKER = writer
    if threading.active_count() == 1:
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_die_with_parent, initargs=(os.getpid(),))
    else:
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver"),
                                   initializer=_start_worker, initargs=writer.arguments)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # a failed or interrupted build stops its workers now
        raise
    else:
        pool.shutdown(wait=True)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills this worker when its parent dies (SIGKILL included)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _start_worker(style_folder: Path, stylesheets: tuple[str | Path, ...], allowed: tuple[Path, ...],
                  font_css: str = "") -> None:
    """Initializer of a fork-server worker: die with the fork server (which exits with the build), set up."""
    global _WORKER
    _die_with_parent(os.getppid())
    _WORKER = PdfWriter(style_folder, stylesheets, allowed, font_css)


def write_in_worker(html: str, options: dict) -> PdfResult:
    """Render one letter in a worker."""
    assert _WORKER is not None, "worker_pool sets the writer before it forks"
    return _WORKER.write(html, **options)
