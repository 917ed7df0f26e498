"""WeasyPrint, confined: the only module that imports it, so the command line starts without paying for it.

The URL fetcher serves files from the allowed folders (the campaign's and the style chain's) and nothing else: no other
file, no network. What it refuses, and what WeasyPrint complains of, is reported instead of silently dropped.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .model import PdfResult


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
        self.setup_refused = tuple(self.fetcher.refused)
        self.setup_warnings = tuple(message for message in self.collector.messages
                                    if not any(url in message for url in self.setup_refused))

    def write(self, html: str, **options) -> PdfResult:
        """The PDF for one letter's HTML."""
        self.fetcher.refused.clear()
        self.collector.messages.clear()
        with self.collector.attached():
            document = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render(
                stylesheets=self.stylesheets, font_config=self.font_config)
            pdf = document.write_pdf(**options)
        return PdfResult(pdf, len(document.pages), tuple(self.fetcher.refused), tuple(self.collector.messages))


# Worker processes for parallel rendering: each sets up its PdfWriter (fonts, parsed stylesheets) once.
_WORKER: PdfWriter | None = None


def start_worker(style_folder: Path, stylesheets: tuple[str | Path, ...], allowed: tuple[Path, ...],
                 font_css: str = "") -> None:
    """Pool initializer: WeasyPrint is imported and the style loaded in the worker, once."""
    global _WORKER
    _WORKER = PdfWriter(style_folder, stylesheets, allowed, font_css)


def write_in_worker(html: str, options: dict) -> PdfResult:
    """Render one letter in a worker."""
    return _WORKER.write(html, **options)
