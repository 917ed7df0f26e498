"""`coalition new`: a new campaign's folder with a commented campaign.yaml and one letter file per language.

The files hold no invented content: every value the coordinator must give is left empty, so `coalition check`
lists each one at its line until it is filled in.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from . import schema
from .errors import CoalitionError
from .files import write_atomically
from .languages import language_name, locale


def new_campaign(root: Path, campaign_id: str, languages: tuple[str, ...], style: str,
                 today: datetime.date | None = None) -> list[Path]:
    """Write letters/<campaign_id>/ for `languages` (the first is the original) in `style`; the files written."""
    if not schema.SLUG.match(campaign_id):
        raise CoalitionError(f"{campaign_id!r} is not a campaign id: use lower-case letters, digits and hyphens, "
                             "like 'ua-12-24'")
    folder = root / "letters" / campaign_id
    if folder.exists():
        raise CoalitionError(f"{folder} already exists: choose another campaign id")
    if not languages:
        raise CoalitionError("name at least one language with --languages, the original first (e.g. en,ru,ky)")
    for language in languages:
        try:
            if not schema.LANGUAGE.match(language):
                raise ValueError(language)
            locale(language)
        except Exception:  # Babel raises several kinds for an unknown tag
            raise CoalitionError(f"unknown language {language!r}: use a BCP 47 tag like 'en', 'ru', 'zh-Hans' or "
                                 "'uz-Cyrl'") from None
    if len(set(languages)) != len(languages):
        raise CoalitionError("a language is named twice in --languages")
    if not (root / "styles" / style / "style.yaml").is_file():
        known = sorted(path.parent.name for path in (root / "styles").glob("*/style.yaml"))
        raise CoalitionError(f"unknown style {style!r}: known styles are {', '.join(known) or 'none'} (--root names "
                             "the folder that holds styles/)")
    signatories = sorted(path.stem for path in (root / "signatories").glob("*.yaml"))
    files = {folder / "campaign.yaml": campaign_yaml(languages, style, signatories, today or datetime.date.today())}
    files[folder / f"letter.{languages[0]}.md"] = ""
    for language in languages[1:]:
        files[folder / f"letter.{language}.md"] = (
            f"---\ntranslated_from: {languages[0]}\ntranslator:\nreviewed: false\n---\n")
    folder.mkdir(parents=True)
    for path, text in files.items():
        write_atomically(path, text.encode("utf-8"))
    return list(files)


def campaign_yaml(languages: tuple[str, ...], style: str, signatories: list[str], today: datetime.date) -> str:
    """The commented campaign.yaml of a new campaign: every value to give is empty, with what it is beside it."""

    def per_language(field: str, example: str) -> list[str]:
        return [f"{field}:  # {example}"] + [f"  {language}:  # in {language_name(language, 'en')}"
                                             for language in languages]

    lines = [
        "# A new campaign: fill in every empty value, write the letter in letter.<language>.md, then run",
        "# 'coalition check <campaign>'. Every field is documented in coalition/schema.py (CAMPAIGN).",
        *per_language("subject", "the subject line, e.g. \"RE: Case of Azimjon Askarov\""),
        *per_language("place", "where the letter is written, e.g. Brussels"),
        f"date: {today.isoformat()}  # the date printed on the letter, YYYY-MM-DD",
        f"style: {style}  # the letterhead: a folder under styles/",
        f"languages: [{', '.join(languages)}]  # the first is the original; each needs letter.<language>.md",
        *per_language("closing", "the words before the signatures, e.g. \"Sincerely,\" (it may span lines)"),
        "",
        "# The signing organisations, in the order they are printed: file names under signatories/ without .yaml.",
        "# Known: " + (", ".join(signatories) if signatories else "none yet (add signatories/<id>.yaml)"),
        "signatories:",
        "  -",
        "",
        "# Who sends the letters and review requests on the coalition's behalf.",
        "sender:",
        "  name:",
        "  email:",
        "",
        "# The officials the letter goes to; copy the block for each one.",
        "recipients:",
        "  - id:  # lower-case letters, digits and hyphens, e.g. president",
        "    name:  # as printed, e.g. Mr Sadyr Japarov",
        "    title:  # optional, e.g. President of the Kyrgyz Republic",
        "    salutation:",
        *(f"      {language}:  # e.g. \"Your Excellency,\"" for language in languages),
        "    channel: email  # or post (then give 'address:', one line per item)",
        "    email:",
        "      -",
        "",
    ]
    return "\n".join(lines)
