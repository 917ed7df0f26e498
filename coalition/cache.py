"""A content-addressed cache of rendered PDFs, so that a rebuild renders only what changed.

The key is a hash of the letter's HTML and of everything else that decides its PDF: every file of the style's
folder (stylesheets, fonts, images), the WeasyPrint version and the PDF options. A hit is the very bytes an
earlier render wrote, so a cached build is byte-identical to a fresh one.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

from .files import remove_stale_temporaries, write_atomically
from .model import PdfResult


class PdfCache:
    """PDFs by key under one folder (out/.cache by default)."""

    def __init__(self, folder: Path, style_folders: tuple[Path, ...], options: dict):
        self.folder = folder
        for shard in (folder.iterdir() if folder.is_dir() else ()):
            remove_stale_temporaries(shard)
        salt = hashlib.sha256()
        salt.update(f"weasyprint {version('weasyprint')}\0{json.dumps(options, sort_keys=True)}\0".encode())
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
        if not isinstance(info, dict) or not isinstance(info.get("pages"), int) or \
                hashlib.sha256(data).hexdigest() != info.get("sha256"):
            return None  # a damaged entry is rendered again, and replaced
        return PdfResult(data, info["pages"], (), ())

    def put(self, key: str, result: PdfResult) -> None:
        """Keep a clean render (one with no refusals, warnings or layout faults).

        A cache that cannot be written (disk full, read-only) only makes the next build slower: the build goes on.
        """
        if result.refused or result.warnings or result.layout:
            return
        info = {"pages": result.pages, "sha256": hashlib.sha256(result.pdf).hexdigest()}
        try:
            write_atomically(self.folder / key[:2] / f"{key}.pdf", result.pdf)
            write_atomically(self.folder / key[:2] / f"{key}.json", json.dumps(info).encode())
        except OSError:
            return
