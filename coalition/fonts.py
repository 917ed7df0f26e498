"""A style's fonts as WeasyPrint gets them: @font-face rules made from style.yaml, and the fallback chain.

Each family the stylesheets name ("Letter Serif") is followed by var(--fallback-fonts): the fallback fonts, each a
family of its own ("Fallback Noto Naskh Arabic"), in order. WeasyPrint 70 merges the faces of one family, weight
and slant into one PDF font, so a fallback must not share its family's name. A fallback is declared only when the
letters print a character it is the first to draw: a letter in English does not load the CJK font.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from .model import FontFace

CSS_KEYWORDS = ("inherit", "initial", "unset", "revert", "normal", "italic", "oblique", "bold", "bolder", "lighter",
                "small-caps", "caption", "icon", "menu", "message-box", "small-caption", "status-bar")
FONT_DECLARATION = re.compile(r"(?<![\w-])(font-family|font)\s*:\s*([^;{}]+)")
FALLBACK_VARIABLE = "--fallback-fonts"
FALLBACK_PREFIX = "Fallback "
FONT_SIZE = re.compile(r"(?:^|\s)(?:[\d.]+(?:pt|px|mm|cm|in|em|rem|ex|%)|x*-?(?:small|large)|medium|larger|smaller)"
                       r"(?:\s*/\s*[\d.]+\w*%?)?\s+")


@functools.lru_cache(maxsize=64)
def _describe(path: Path, index: int) -> tuple[str, int, bool]:
    """A face's family name, weight and italic flag (its character map is read only when needed)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index if path.suffix == ".ttc" else -1, lazy=True) as font:
        family = font["name"].getDebugName(16) or font["name"].getDebugName(1) or path.stem
        weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
        italic = bool(font["head"].macStyle & 0b10) or ("OS/2" in font and bool(font["OS/2"].fsSelection & 1))
        return family, weight, italic


@functools.lru_cache(maxsize=64)
def _characters(path: Path, index: int) -> frozenset[int]:
    """A face's character map."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index if path.suffix == ".ttc" else -1, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def face(family: str | None, path: Path, index: int) -> FontFace:
    """The face `index` of the font file at `path`, serving `family`, or (None) a fallback family named after the
    file (raises on an unreadable font of a named family; a fallback is opened only when it is needed)."""
    if family is None:
        # named after its file (NotoNaskhArabic-Bold.ttf: "Fallback NotoNaskhArabic"), so that its weights form
        # one family without opening it: most letters never need a fallback font, and opening a .woff2 is slow
        return FontFace(FALLBACK_PREFIX + path.name.split("-")[0].split(".")[0], path, index, 0, False, True)
    _, weight, italic = _describe(path, index)
    return FontFace(family, path, index, weight, italic)


def shape(font: FontFace) -> tuple[int, bool]:
    """The face's weight and slant, read from the font where the loader left them to be read when needed."""
    if font.weight:
        return font.weight, font.italic
    _, weight, italic = _describe(font.path, font.index)
    return weight, italic


def characters(font: FontFace) -> frozenset[int]:
    """Every code point the face can draw."""
    return _characters(font.path, font.index)


def coverage(faces: tuple[FontFace, ...]) -> frozenset[int]:
    """Every code point some face in the list can draw."""
    covered: set[int] = set()
    for font in faces:
        covered |= characters(font)
    return frozenset(covered)


def font_face_css(faces: tuple[FontFace, ...], printed: frozenset[int] | None = None) -> str:
    """@font-face rules for the faces and the --fallback-fonts list: every face of the families the stylesheets
    name, and each fallback family that is the first to draw a character in `printed` (all when None)."""
    own = [font for font in faces if not font.fallback]
    covered = set(coverage(tuple(own)))
    fallbacks: dict[str, list[FontFace]] = {}
    for font in faces:
        if font.fallback:
            fallbacks.setdefault(font.family, []).append(font)
    declared = list(own)
    chain = []
    for family, family_faces in fallbacks.items():
        if printed is not None and not printed - covered:
            break  # every printed character has its font: the rest are not loaded
        drawn = coverage(tuple(family_faces))
        if printed is None or (drawn & printed) - covered:
            declared += family_faces
            chain.append(family)
            covered |= drawn
    rules = []
    for font in declared:
        url = font.path.resolve().as_uri() + (f"#{font.index}" if font.path.suffix == ".ttc" else "")
        weight, italic = shape(font)
        rules.append(f'@font-face {{ font-family: "{font.family}"; src: url("{url}"); font-weight: {weight}; '
                     f'font-style: {"italic" if italic else "normal"}; }}')
    # never empty: a var() that expands to nothing would void every declaration that ends with it
    names = chain or [font.family for font in own[:1]]
    rules.append(f":root {{ {FALLBACK_VARIABLE}: {', '.join(f'{chr(34)}{name}{chr(34)}' for name in names)}; }}")
    return "\n".join(rules) + "\n"


def families_named(css: str) -> list[tuple[int, str, bool]]:
    """Each font family a stylesheet names in font-family or font declarations, with its line and whether the
    declaration ends with the fallback fonts (var(--fallback-fonts))."""
    found = []
    text = re.sub(r"/\*.*?\*/", lambda match: re.sub(r"[^\n]", " ", match[0]), css, flags=re.DOTALL)
    for match in FONT_DECLARATION.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        value = match[2].replace("!important", "").strip()
        with_fallback = FALLBACK_VARIABLE in value
        if match[1] == "font":
            sized = list(FONT_SIZE.finditer(" " + value))
            if not sized:
                continue  # 'font: inherit' and the like name no family
            value = (" " + value)[sized[-1].end():]
        for name in value.split(","):
            name = name.strip().strip("\"'").strip()
            if name and name.lower() not in CSS_KEYWORDS and not name.startswith("var("):
                found.append((line, name, with_fallback))
    return found
