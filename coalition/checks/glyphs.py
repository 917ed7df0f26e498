"""Every printed character has a glyph in the style's own fonts: no blank boxes, no font of the machine's.

The check uses the chain WeasyPrint is given (each family's faces, then the fallback faces), skips the invisible
format characters no font needs to draw (bidi isolates, joiners), and reports one line per place in the files the
text comes from, listing every character missing there.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from .. import fonts
from ..errors import Problems
from ..model import Campaign, Style
from ..printed import page_values

# Unicode's Default_Ignorable_Code_Point: drawn as nothing, whatever the font (bidi marks and isolates, joiners,
# variation selectors, the soft hyphen).
DEFAULT_IGNORABLE = frozenset((0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0,
                               *range(0x180B, 0x1810), *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                               *range(0x2060, 0x2070), *range(0xFE00, 0xFE10), *range(0xFFF0, 0xFFF9),
                               *range(0xE0000, 0xE1000)))


EMAIL_STRINGS = ("cover_", "review_", "organisations")


def drawn(char: str) -> bool:
    """Whether a character needs a glyph: not white space, not a control or default-ignorable character."""
    return not char.isspace() and ord(char) not in DEFAULT_IGNORABLE and unicodedata.category(char) != "Cc"


def printed_texts(campaign: Campaign, letters: dict) -> list[tuple[str, tuple[Path, ...]]]:
    """Everything the letters print, each text with the files it may come from (the likeliest first)."""
    root = campaign.folder.parent.parent
    references = root / "letters" / "references.yaml"
    campaign_file = campaign.folder / "campaign.yaml"
    style_files = tuple(folder / "style.yaml" for folder in campaign.letterhead.folders)
    texts: list[tuple[str, tuple[Path, ...]]] = []
    for language, letter in letters.items():
        source = campaign.source(language).path
        texts += [(unit.text, (source, references)) for unit in (*letter.paragraphs, *letter.footnotes)]
    for recipient in campaign.recipients:
        for language in recipient.languages:
            if language not in letters or language not in campaign.letterhead.strings:
                continue
            page = page_values(campaign, letters[language], recipient)
            for name, value in vars(page).items():
                if isinstance(value, str) and name not in ("body", "lang", "dir", "created", "author"):
                    texts.append((value, (campaign_file,)))
            texts += [(value, (campaign_file,)) for value in (*page.address, *page.email, *page.copies)]
            # the e-mails' words are not printed in a PDF: no font needs them
            texts += [(value, style_files) for name, value in page.strings.items()
                      if not name.startswith(EMAIL_STRINGS)]
            for signatory, (name, qualifier) in zip(campaign.signatories, page.signatories):
                texts += [(part, (signatory.source,)) for part in (name, qualifier) if part]
    return texts


def where_written(char: str, text: str, files: tuple[Path, ...], campaign: Campaign) -> tuple[Path, int]:
    """The file and line a character of a printed text is written on: the line holding the character in its
    context, outside comments and (for letters) front matter."""
    position = text.index(char)
    context = text[max(0, position - 3):position + 4].strip()
    first_lines = {source.path: source.body_line for source in campaign.sources}
    fallback = None
    for path in files:
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            code = line.split(" #")[0] if path.suffix == ".yaml" else line
            if number < first_lines.get(path, 1) or line.lstrip().startswith("#") or char not in code:
                continue
            if context in code or any(part and part in code for part in context.split()):
                return path, number
            fallback = fallback or (path, number)
    return fallback or (campaign.folder / "campaign.yaml", 0)


def check_glyphs(campaign: Campaign, letters: dict, problems: Problems) -> None:
    """Every character the letters print is drawn by a font the style ships, in every family its stylesheets
    name; and the stylesheets name no family the style does not ship."""
    style = campaign.style
    if style is None or not style.fonts:
        return  # no style, or no fonts: reported by the loader
    families = style.families
    named, without_fallback = set(), set()
    for stylesheet in style.stylesheets:
        if not stylesheet.is_file():
            continue
        for line, family, with_fallback in fonts.families_named(stylesheet.read_text(encoding="utf-8")):
            if family not in families:
                problems.add(stylesheet, line, f"font family {family!r} is not one of the style's fonts "
                             f"({', '.join(families)}): WeasyPrint would draw it with a font of the machine's",
                             "use one of those families, or add the family's files under 'fonts:' in style.yaml")
            named.add(family)
            if not with_fallback:
                without_fallback.add(family)  # where it is named without var(--fallback-fonts), it stands alone
    used = [family for family in families if family in named] or list(families)
    fallback = tuple(face for face in style.fonts if face.fallback)
    own = {family: fonts.coverage(tuple(face for face in style.fonts if face.family == family)) for family in used}

    def drawable(char: str, family: str) -> bool:
        # the fallback fonts' character maps are read only for a character the family's own fonts lack
        return ord(char) in own[family] or (family not in without_fallback
                                            and any(ord(char) in fonts.characters(face) for face in fallback))

    missing: dict[tuple[Path, int], dict[str, None]] = {}
    lacking: set[str] = set()
    for text, files in printed_texts(campaign, letters):
        for char in dict.fromkeys(text):
            if not drawn(char):
                continue
            short = [family for family in used if not drawable(char, family)]
            if short:
                lacking.update(short)
                missing.setdefault(where_written(char, text, files, campaign), {})[char] = None
    for (path, line), chars in sorted(missing.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        listed = ", ".join(f"{char!r} (U+{ord(char):04X})" for char in chars)
        families_hint = f" (family {', '.join(sorted(lacking))})" if len(lacking) < len(used) else ""
        problems.add(path, line, f"{listed} cannot be drawn by the fonts of style {style.id!r}{families_hint}",
                     "replace the character, or add a font that has it to the style's 'fonts' or 'fallback_fonts' "
                     "(and end each font-family with var(--fallback-fonts))")


def foreign_fonts(embedded: tuple[str, ...], style: Style) -> list[str]:
    """The embedded fonts (named as CSS family, hyphens for spaces) the style does not ship: the machine's fonts."""
    shipped = tuple(family.replace(" ", "-") for family in dict.fromkeys(face.family for face in style.fonts))
    return [name for name in embedded if name and not name.startswith(shipped)]
