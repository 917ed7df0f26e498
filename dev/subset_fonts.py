"""Make styles/base/fonts/ from Debian's Noto fonts: subsets small enough to commit, OFL licence kept.

Run `python dev/subset_fonts.py` (needs fonts-noto-core and fonts-noto-cjk installed). The build never reads the
system's fonts: only the files this writes, committed with the project.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto")
OUT = Path(__file__).resolve().parent.parent / "styles" / "base" / "fonts"

# Latin and Cyrillic letters PT Serif and PT Sans lack (U+02BB for Uzbek oʻ, U+202F for French, U+2010):
# the whole Latin, IPA-modifier, Cyrillic and punctuation blocks, so that any Latin or Cyrillic language works.
GAP_FILLER = [*range(0x20, 0x7F), *range(0xA0, 0x250), *range(0x2B0, 0x370), *range(0x400, 0x530),
              *range(0x2000, 0x2070), *range(0x20A0, 0x20C1), 0x2116, 0x2122]


def double_byte(encoding: str, first: range, second: range) -> set[int]:
    """Every character a double-byte legacy encoding has in the given lead and trail byte ranges."""
    decoder = codecs.getdecoder(encoding)
    found = set()
    for lead in first:
        for trail in second:
            try:
                text = decoder(bytes((lead, trail)))[0]
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                found.add(ord(text))
    return found


def cjk_characters() -> set[int]:
    """The characters in everyday use, about 13,000: GB 2312 (6,763 simplified Chinese characters: level 1 lacks
    legal words such as 羁押, detention), Big5's 5,401 frequent characters (traditional Chinese), JIS X 0208 level 1 (2,965 kanji) and
    its symbols and kana, KS X 1001's 2,350 Hangul syllables (Korean), CJK punctuation and full-width forms."""
    chars = double_byte("gb2312", range(0xA1, 0xAA), range(0xA1, 0xFF))  # symbols, full-width forms
    chars |= double_byte("gb2312", range(0xB0, 0xF8), range(0xA1, 0xFF))
    chars |= double_byte("big5", range(0xA4, 0xC7), range(0x40, 0xFF))
    chars |= double_byte("euc_jp", range(0xA1, 0xA9), range(0xA1, 0xFF))
    chars |= double_byte("euc_jp", range(0xB0, 0xD0), range(0xA1, 0xFF))
    chars |= double_byte("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))
    chars |= {*range(0x3000, 0x3100), *range(0x3130, 0x3190), *range(0xFF00, 0xFFF0), *range(0x20, 0x7F)}
    return chars


def write_subset(font: TTFont, characters: set[int] | None, out: Path, features: tuple = ("*",)) -> None:
    """Subset `font` to `characters` (None: keep them all) with the given layout features (shaping, locl)."""
    options = subset.Options()
    options.layout_features = list(features)
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=characters if characters is not None else font.getBestCmap().keys())
    subsetter.subset(font)
    if out.suffix == ".woff2":
        font.flavor = "woff2"  # Brotli-compressed: two thirds of the size; WeasyPrint unpacks it when loading
    font.save(out)
    print(f"{out.name}: {len(font.getBestCmap())} characters, {out.stat().st_size // 1024} KB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("NotoSerif-Regular", "NotoSerif-Bold", "NotoSerif-Italic", "NotoSerif-BoldItalic"):
        write_subset(TTFont(NOTO / f"{name}.ttf"), set(GAP_FILLER), OUT / f"{name}.ttf")
    for name in ("NotoNaskhArabic-Regular", "NotoNaskhArabic-Bold", "NotoSerifHebrew-Regular",
                 "NotoSerifHebrew-Bold", "NotoSerifDevanagari-Regular", "NotoSerifDevanagari-Bold"):
        write_subset(TTFont(NOTO / f"{name}.ttf"), None, OUT / f"{name}.ttf")
    for weight in ("Regular", "Bold"):  # bold too: emphasis in a Chinese letter must not print as regular text
        collection = TTCollection(NOTO_CJK / f"NotoSerifCJK-{weight}.ttc")
        simplified = next(font for font in collection.fonts if "SC" in font["name"].getDebugName(1))
        # one family for zh-Hans, zh-Hant, ja and ko: its 'locl' feature gives each language its own glyph forms
        write_subset(simplified, cjk_characters(), OUT / f"NotoSerifCJKsc-{weight}.woff2",
                     ("locl", "ccmp", "kern", "vert", "halt", "palt"))
    copyright = Path("/usr/share/doc/fonts-noto-core/copyright").read_text()
    licence = copyright[copyright.index("License: OFL-1.1\n", copyright.index("Files: *")):]
    (OUT / "LICENSE-Noto.txt").write_text(
        "Noto Serif, Noto Naskh Arabic, Noto Serif Hebrew, Noto Serif Devanagari and Noto Serif CJK SC\n"
        "Copyright 2012-2020 Google Inc. and Google LLC; Noto Serif CJK: Copyright 2017 Adobe.\n"
        "Subset from Debian's fonts-noto-core and fonts-noto-cjk by dev/subset_fonts.py.\n\n" + licence)


if __name__ == "__main__":
    main()
