"""What a language implies for the page, all from CLDR (Babel) and Pyphen: direction, dates, plurals, line breaking."""

from __future__ import annotations

import datetime
import functools
import re

import pyphen
from babel import Locale
from babel.core import get_global
from babel.dates import format_date

# Languages written without spaces between words: lines break between characters, so justification needs no
# hyphenation (Korean has spaces, and with no Pyphen dictionary it stays ragged).
UNSPACED = ("zh", "ja")
# Scripts whose letters join or stack, where letter-spacing pulls a word apart.
NO_LETTER_SPACING = ("Arab", "Deva", "Hebr")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@functools.lru_cache(maxsize=64)
def locale(language: str) -> Locale:
    """The CLDR locale of a language tag ('ru', 'zh-Hans', 'uz-Cyrl')."""
    return Locale.parse(language, sep="-")


def script(language: str) -> str:
    """The language's ISO 15924 script as CLDR has it (Latn, Cyrl, Arab, Hans, …)."""
    tag = locale(language)
    if tag.script:
        return tag.script
    likely = get_global("likely_subtags").get(tag.language, "")  # 'ar' -> 'ar_Arab_EG'
    parts = [part for part in likely.split("_") if len(part) == 4]
    return parts[0] if parts else "Latn"


def is_right_to_left(language: str) -> bool:
    """Whether the language is written right to left (CLDR's character order)."""
    return locale(language).character_order == "right-to-left"


def direction(language: str) -> str:
    """The HTML dir value: 'rtl' or 'ltr'."""
    return "rtl" if is_right_to_left(language) else "ltr"


def hyphenation_dictionary(language: str) -> str | None:
    """The Pyphen dictionary WeasyPrint uses for the language, if there is one."""
    return pyphen.language_fallback(language.replace("-", "_"))


def justified(language: str) -> bool:
    """Whether text may be justified: where lines can break inside words (hyphenation, or no spaces at all), and
    never right to left (WeasyPrint 70 leaves short lines of justified right-to-left text)."""
    if is_right_to_left(language):
        return False
    return hyphenation_dictionary(language) is not None or locale(language).language in UNSPACED


def letter_spacing_allowed(language: str) -> bool:
    """Whether the script tolerates letter-spacing (not Arabic, Hebrew or Devanagari, whose letters join)."""
    return script(language) not in NO_LETTER_SPACING


def long_date(date: datetime.date, language: str, locale_name: str | None = None) -> str:
    """A date as the language writes it (CLDR long form: '31 March 2020', '31 марта 2020 г.', '2020年3月31日')."""
    return format_date(date, "long", locale=Locale.parse(locale_name) if locale_name else locale(language))


def language_name(language: str, in_language: str) -> str:
    """The name of `language` written in `in_language` ('Russian', 'русский')."""
    names = locale(in_language).languages
    tag = locale(language)
    return names.get(str(tag).replace("-", "_")) or names.get(tag.language) or language


def plural_category(language: str, count: int) -> str:
    """CLDR's plural category of `count` in the language: 'one', 'few', 'many', 'other', …"""
    return locale(language).plural_form(count)


def fill(text: str, values: dict) -> str:
    """`text` with each {name} replaced by its value: plain substitution, no attribute or index lookups, so a
    string from a style can never reach into the values it is given."""
    return PLACEHOLDER.sub(lambda match: str(values[match[1]]) if match[1] in values else match[0], text)
