"""A style's fonts as WeasyPrint gets them: each family is its own faces, then the fallback faces, as @font-face rules.

Each face serves only the characters no earlier face of its family has (its unicode-range), so the first font in
the list that can draw a character draws it, exactly as the glyph check assumes. Fallback faces are declared only
when the letters print a character they serve: a letter in English does not load the CJK font.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from .model import FontFace

GENERIC_FAMILIES = ("serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "emoji", "math",
                    "fangsong", "ui-serif", "ui-sans-serif", "ui-monospace", "ui-rounded")
CSS_KEYWORDS = ("inherit", "initial", "unset", "revert", "normal", "italic", "oblique", "bold", "bolder", "lighter",
                "small-caps", "caption", "icon", "menu", "message-box", "small-caption", "status-bar")
FONT_DECLARATION = re.compile(r"(?<![\w-])(font-family|font)\s*:\s*([^;{}]+)")
FONT_SIZE = re.compile(r"(?:^|\s)(?:[\d.]+(?:pt|px|mm|cm|in|em|rem|ex|%)|x*-?(?:small|large)|medium|larger|smaller)"
                       r"(?:\s*/\s*[\d.]+\w*%?)?\s+")


@functools.lru_cache(maxsize=64)
def _read(path: Path, index: int) -> tuple[int, bool, frozenset[int]]:
    """A face's weight, italic flag and character map."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index if path.suffix == ".ttc" else -1, lazy=True) as font:
        weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
        italic = bool(font["head"].macStyle & 0b10) or ("OS/2" in font and bool(font["OS/2"].fsSelection & 1))
        return weight, italic, frozenset(font.getBestCmap() or {})


def face(family: str, path: Path, index: int) -> FontFace:
    """The face `index` of the font file at `path`, serving `family` (raises on an unreadable font)."""
    weight, italic, _ = _read(path, index)
    return FontFace(family, path, index, weight, italic)


def characters(font: FontFace) -> frozenset[int]:
    """Every code point the face can draw."""
    return _read(font.path, font.index)[2]


def coverage(faces: tuple[FontFace, ...]) -> frozenset[int]:
    """Every code point some face in the list can draw."""
    covered: set[int] = set()
    for font in faces:
        covered |= characters(font)
    return frozenset(covered)


def served(faces: tuple[FontFace, ...]) -> list[tuple[FontFace, frozenset[int]]]:
    """Each face of each family with the characters it draws: those no earlier face of its family, weight and
    slant draws (a bold letter missing from every bold face comes from a regular one, which fontconfig then
    prefers to any font outside the family)."""
    result: list[tuple[FontFace, frozenset[int]]] = []
    seen_by_shape: dict[tuple[str, int, bool], set[int]] = {}
    for font in faces:
        seen = seen_by_shape.setdefault((font.family, font.weight, font.italic), set())
        own = characters(font) - seen
        seen |= own
        result.append((font, frozenset(own)))
    return result


def _ranges(code_points: frozenset[int]) -> str:
    """A CSS unicode-range value for a set of code points."""
    ordered, parts = sorted(code_points), []
    start = previous = ordered[0]
    for point in ordered[1:] + [-1]:
        if point != previous + 1:
            parts.append(f"U+{start:X}" if start == previous else f"U+{start:X}-{previous:X}")
            start = point
        previous = point
    return ", ".join(parts)


def font_face_css(faces: tuple[FontFace, ...], printed: frozenset[int] | None = None) -> str:
    """@font-face rules for the faces: a family's first face of each weight and slant always, a later one only
    where it serves a character in `printed` (all of them when `printed` is None)."""
    rules, declared = [], set()
    for font, own in served(faces):
        shape = (font.family, font.weight, font.italic)
        needed = shape not in declared or printed is None or bool(own & printed)
        if not own or not needed:
            continue
        declared.add(shape)
        url = font.path.resolve().as_uri() + (f"#{font.index}" if font.path.suffix == ".ttc" else "")
        rules.append(f'@font-face {{ font-family: "{font.family}"; src: url("{url}"); font-weight: {font.weight}; '
                     f'font-style: {"italic" if font.italic else "normal"}; unicode-range: {_ranges(own)}; }}')
    return "\n".join(rules) + "\n"


def families_named(css: str) -> list[tuple[int, str]]:
    """Each font family a stylesheet names in font-family or font declarations, with its line."""
    found = []
    text = re.sub(r"/\*.*?\*/", lambda match: re.sub(r"[^\n]", " ", match[0]), css, flags=re.DOTALL)
    for match in FONT_DECLARATION.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        value = match[2].replace("!important", "").strip()
        if match[1] == "font":
            sized = list(FONT_SIZE.finditer(" " + value))
            if not sized:
                continue  # 'font: inherit' and the like name no family
            value = (" " + value)[sized[-1].end():]
        for name in value.split(","):
            name = name.strip().strip("\"'").strip()
            if name and name.lower() not in CSS_KEYWORDS and not name.startswith("var("):
                found.append((line, name))
    return found
