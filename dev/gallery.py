"""Make docs/gallery/<script>.png: the first page of a letter in one language per script, with the shipped letterhead.

Run `.venv/bin/python dev/gallery.py` from the repository; it builds tests/languages/ (one short real letter per
language) in a temporary folder and renders each first page at 100 dpi.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pypdfium2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from languages.project import approve_everything, write_project  # noqa: E402

from coalition.usecases import build  # noqa: E402

# One language per script, with the letterhead it is shown in.
SCRIPTS = {
    "latin": ("fr", "coalition"),
    "cyrillic": ("kk", "urgent-action"),
    "arabic": ("ar", "coalition"),
    "hebrew": ("he", "urgent-action"),
    "devanagari": ("hi", "coalition"),
    "han-simplified": ("zh-Hans", "coalition"),
    "japanese": ("ja", "urgent-action"),
    "hangul": ("ko", "coalition"),
}
DPI = 100


def main() -> None:
    out = REPO / "docs" / "gallery"
    out.mkdir(parents=True, exist_ok=True)
    for style in sorted({style for _, style in SCRIPTS.values()}):
        languages = [language for language, own in SCRIPTS.values() if own == style]
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            write_project(root, languages, style)
            approve_everything(root)
            build("every-language", root=root, out=root / "out", jobs=1, cache=False)
            for script, (language, own) in SCRIPTS.items():
                if own != style:
                    continue
                pdf = next((root / "out" / "every-language").rglob(f"*-{language}.pdf"))
                image = pypdfium2.PdfDocument(pdf)[0].render(scale=DPI / 72).to_pil().convert("L")
                image.save(out / f"{script}.png", optimize=True)
                print(f"docs/gallery/{script}.png: {language}, {style}")


if __name__ == "__main__":
    main()
