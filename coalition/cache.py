"""A content-addressed cache of rendered PDFs, so that a rebuild renders only what changed.

The key is a hash of the letter's HTML and of everything else that decides its PDF: every file of the style's
folder (stylesheets, fonts, images), the pipeline's own stylesheet and writer, the WeasyPrint, Pango and HarfBuzz
versions, whether HarfBuzz's subsetter is there, and the PDF options. A hit is the very bytes an earlier render
wrote, so a cached build is byte-identical to a fresh one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

from .files import remove_stale_temporaries, write_atomically
from .model import PdfResult


# The stylesheet laid over every letterhead and the writer that re-lays out pages: a PDF cached by an older
# version of either is not what this version would print.
RENDERING_FILES = (Path(__file__).parent / "layout.css", Path(__file__).parent / "pdf.py")


@functools.cache
def native_libraries() -> str:
    """The versions of the C libraries that lay out and subset fonts, found without importing WeasyPrint."""
    # a PDF cached before libharfbuzz-subset was installed (or Pango upgraded) has other bytes than a fresh render
    found = []
    for name, function in (("pango-1.0", "pango_version_string"), ("harfbuzz", "hb_version_string"),
                           ("harfbuzz-subset", "hb_subset_or_fail")):
        path = ctypes.util.find_library(name)
        try:
            library = ctypes.CDLL(path) if path else None
        except OSError:
            library = None
        symbol = getattr(library, function, None) if library is not None else None
        if symbol is None:
            found.append(f"{name} none")
        elif function.endswith("version_string"):
            symbol.restype = ctypes.c_char_p
            found.append(f"{name} {symbol().decode()}")
        else:
            found.append(f"{name} present")
    return ", ".join(found)


class PdfCache:
    """PDFs by key under one folder (out/.cache by default)."""

    def __init__(self, folder: Path, style_folders: tuple[Path, ...], options: dict):
        self.folder = folder
        for shard in (folder.iterdir() if folder.is_dir() else ()):
            remove_stale_temporaries(shard)
        salt = hashlib.sha256()
        salt.update(f"weasyprint {version('weasyprint')}\0{native_libraries()}\0"
                    f"{json.dumps(options, sort_keys=True)}\0".encode())
        for path in RENDERING_FILES:
            salt.update(path.read_bytes() + b"\0")
        for style_folder in style_folders:  # the style and every style it extends
            for path in sorted(style_folder.rglob("*")):
                if path.is_file():
                    salt.update(str(path.relative_to(style_folder.parent)).encode() + b"\0" + path.read_bytes()
                                + b"\0")
        self.salt = salt.digest()

    def key(self, html: str) -> str:
        """The key of a letter's HTML under this style and these options."""
        return hashlib.sha256(self.salt + html.encode()).hexdigest()

    def get(self, key: str) -> PdfResult | None:
        """The cached PDF, or None."""
        pdf, meta = self.folder / key[:2] / f"{key}.pdf", self.folder / key[:2] / f"{key}.json"
        try:
            data = pdf.read_bytes()
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            return None
        fonts = info.get("fonts") if isinstance(info, dict) else None
        if not isinstance(info, dict) or not isinstance(info.get("pages"), int) or \
                hashlib.sha256(data).hexdigest() != info.get("sha256") or not isinstance(fonts, list) or \
                not all(isinstance(name, str) for name in fonts):
            return None  # a damaged (or older) entry is rendered again, and replaced
        return PdfResult(data, info["pages"], (), (), (), tuple(fonts))

    def put(self, key: str, result: PdfResult) -> None:
        """Keep a clean render (one with no refusals, warnings or layout faults).

        A cache that cannot be written (disk full, read-only) only makes the next build slower: the build goes on.
        """
        if result.refused or result.warnings or result.layout:
            return
        info = {"pages": result.pages, "sha256": hashlib.sha256(result.pdf).hexdigest(), "fonts": list(result.fonts)}
        try:
            write_atomically(self.folder / key[:2] / f"{key}.pdf", result.pdf)
            write_atomically(self.folder / key[:2] / f"{key}.json", json.dumps(info).encode())
        except OSError:
            return
