"""Stage 1, load: read a campaign, its signatories, references, style and letter bodies, and check them all."""

from __future__ import annotations

import difflib
from pathlib import Path

from babel import Locale, UnknownLocaleError
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from . import fonts, schema
from .errors import CoalitionError, Problems
from .model import (
    Campaign,
    Channel,
    LetterSource,
    Localized,
    Recipient,
    Reference,
    Sender,
    FontFace,
    Signatory,
    Style,
)
from .yamlfile import YamlDocument, load_yaml, parse_yaml, read_text


def campaign_folder(root: Path, campaign_id: str) -> Path:
    """letters/<campaign_id>, refusing ids that would leave the letters folder."""
    if not schema.SLUG.match(campaign_id):
        raise CoalitionError(f"{campaign_id!r} is not a campaign id: use lower-case letters, digits and hyphens, "
                             "the name of a folder under letters/")
    folder = root / "letters" / campaign_id
    if not (folder / "campaign.yaml").is_file():
        known = sorted(path.parent.name for path in (root / "letters").glob("*/campaign.yaml"))
        close = difflib.get_close_matches(campaign_id, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known campaigns: {', '.join(known) or 'none'}"
        raise CoalitionError(f"no campaign {campaign_id!r}: {folder / 'campaign.yaml'} does not exist ({hint}; "
                             "--root names the folder that holds letters/)")
    return folder


def load_campaign(root: Path, campaign_id: str, problems: Problems) -> Campaign:
    """The campaign `campaign_id` under `root`, every problem recorded in `problems`.

    Raises DataError only when campaign.yaml is too broken to go on; otherwise later stages still run and add
    their own problems, so that the user sees every problem at once.
    """
    root = root.resolve()
    folder = campaign_folder(root, campaign_id)
    document = load_yaml(folder / "campaign.yaml", problems)
    values = schema.check_record(document, schema.CAMPAIGN, problems) if document else None
    references = load_references(root, problems)
    if document is None or values is None:
        problems.stop()
    languages = values["languages"]
    style = load_style(root, values["style"], document, languages, problems)
    signatories = load_signatories(root, values["signatories"], document, problems)
    recipients = build_recipients(campaign_id, values["recipients"], values["sender"], document, languages, problems)
    check_languages(document, values, languages, problems)
    sources = tuple(filter(None, (load_source(folder, language, problems) for language in languages)))
    sender = values["sender"]
    return Campaign(
        id=campaign_id, folder=folder, subject=Localized(values["subject"]), place=Localized(values["place"]),
        date=values["date"], date_locales=values["date_locale"] or {}, closing=Localized(values["closing"]),
        languages=languages, style=style, signatories=signatories, recipients=recipients,
        sender=Sender(sender["name"], sender["email"]) if sender else None, sources=sources, references=references,
    )


def load_references(root: Path, problems: Problems) -> dict[str, Reference | None] | None:
    """The shared reference library, letters/references.yaml, by key; a key whose entry is broken maps to None
    (its problem is reported once, not again at every citation), and a library that cannot be read is None."""
    document = load_yaml(root / "letters" / "references.yaml", problems)
    if document is None:
        return None
    entries = document.data.get("references") if isinstance(document.data, dict) else None
    if not isinstance(entries, dict) or not isinstance(document.data, dict) or set(document.data) != {"references"}:
        schema.check_record(document, schema.REFERENCES, problems)
        return None
    library: dict[str, Reference | None] = {}
    for key, entry in entries.items():
        context = schema.Context(document, problems)
        checked_key = schema.REFERENCE_KEY_KIND.convert(key, ("references", key), context)
        values = schema.REFERENCE.convert(entry, ("references", key), context)
        if checked_key is schema.INVALID or values is schema.INVALID:
            library[key] = None
        else:
            library[key] = Reference(key, Localized(values["title"]), values["url"])
    return library


def load_signatories(root: Path, ids: tuple, campaign: YamlDocument, problems: Problems) -> tuple:
    """The organisations named in the campaign, in its order, each from signatories/<id>.yaml."""
    folder = root / "signatories"
    known = sorted(path.stem for path in folder.glob("*.yaml"))
    signatories = []
    for index, signatory_id in enumerate(ids):
        path = folder / f"{signatory_id}.yaml"
        if not path.is_file():
            close = difflib.get_close_matches(signatory_id, known, n=1)
            problems.add(campaign.path, campaign.line(("signatories", index)),
                         f"unknown signatory {signatory_id!r}: there is no signatories/{signatory_id}.yaml",
                         f"did you mean {close[0]!r}?" if close else "add the organisation's file or fix the id")
            continue
        document = load_yaml(path, problems)
        values = schema.check_record(document, schema.SIGNATORY, problems) if document else None
        if values:
            qualifier = values["qualifier"]
            signatories.append(Signatory(signatory_id, Localized(values["name"]),
                                         Localized(qualifier) if qualifier else None, values["contact"], path,
                                         tuple(values["review_languages"] or ())))
    return tuple(signatories)


def load_style(root: Path, style_id: str, campaign: YamlDocument, languages: tuple, problems: Problems) -> Style | None:
    """The letterhead styles/<style_id>/ with everything it inherits (`extends:`), checked to cover every language
    of the campaign."""
    chain = style_chain(root, style_id, campaign, problems)
    if chain is None:
        return None
    own_folder, own_values, own_document = chain[0]
    template = next((values["template"] for _, values, _ in chain if values["template"]), None)
    if template is None:
        problems.add(own_document.path, 1, f"style {style_id!r} names no template, nor does any style it extends",
                     "add 'template: letter.html.j2' to its style.yaml")
    stylesheets: list[Path] = []
    family_faces: list[FontFace] = []
    fallback: list[FontFace] = []
    strings: dict[str, dict] = {}
    for folder, values, document in reversed(chain):  # the base first: its CSS first, its strings overridden
        stylesheets += [folder / name for name in values["stylesheets"]]
        for family, files in (values["fonts"] or {}).items():
            family_faces += [face for position, entry in enumerate(files) if (face := load_font(
                folder, family, entry, document, ("fonts", family, position), problems))]
        for language, entries in values["strings"].items():
            strings.setdefault(language, {}).update(entries)
    for folder, values, document in chain:  # the style's own fallbacks first: they are its choice
        fallback += [face for position, entry in enumerate(values["fallback_fonts"])
                     if (face := load_font(folder, None, entry, document, ("fallback_fonts", position), problems))]
    faces = tuple(family_faces) + tuple(fallback)
    for folder, values, document in chain:
        for where, name in [(("stylesheets", index), name) for index, name in enumerate(values["stylesheets"])]:
            if not (folder / name).is_file():
                problems.add(document.path, document.line(where), f"{name!r} is listed but missing from "
                             f"styles/{folder.name}/", "add the file or remove it from style.yaml")
        if values["template"] and not (folder / values["template"]).is_file():
            problems.add(document.path, document.line(("template",)), f"{values['template']!r} is listed but "
                         f"missing from styles/{folder.name}/", "add the file or remove it from style.yaml")
    for folder, values, document in chain:
        for language, entries in values["strings"].items():
            for name, value in entries.items():
                if isinstance(value, dict) and "other" not in value:
                    problems.add(document.path, document.line(("strings", language, name)), f"string {name!r} in "
                                 f"{language!r} has plural forms but no 'other', the form CLDR uses for every "
                                 "count the others do not cover", "add 'other:'")
    for language in languages:
        if language not in strings:
            problems.add(campaign.path, campaign.line(("languages",)), f"style {style_id!r} has no strings for "
                         f"language {language!r}", f"add 'strings: {language}:' to styles/{style_id}/style.yaml "
                         "or to the style it extends")
    return Style(style_id, own_folder, own_values["name"], template or "", tuple(stylesheets), faces, strings,
                 tuple(folder for folder, _, _ in chain))


MAX_STYLE_DEPTH = 8


def style_chain(root: Path, style_id: str, campaign: YamlDocument, problems: Problems) -> list | None:
    """(folder, values, document) of the style and each style it extends, the style's own first; None (with the
    problem recorded) when one of them is missing or broken, or the chain loops."""
    chain: list = []
    where: tuple[YamlDocument | None, tuple] = (campaign, ("style",))
    current: str | None = style_id
    while current is not None:
        folder = root / "styles" / current
        document, path = where
        assert document is not None  # a document that failed to load ends the chain below
        if not (folder / "style.yaml").is_file():
            known = sorted(item.parent.name for item in (root / "styles").glob("*/style.yaml"))
            problems.add(document.path, document.line(path), f"unknown style {current!r}: there is no "
                         f"styles/{current}/style.yaml", f"known styles: {', '.join(known) or 'none'}")
            return None
        if any(item[0] == folder for item in chain) or len(chain) >= MAX_STYLE_DEPTH:
            problems.add(document.path, document.line(path), f"style {current!r} extends itself (through "
                         f"{' → '.join(item[0].name for item in chain)})", "remove one of the 'extends:' lines")
            return None
        style_document = load_yaml(folder / "style.yaml", problems)
        values = schema.check_record(style_document, schema.STYLE, problems) if style_document else None
        if values is None:
            return None
        chain.append((folder, values, style_document))
        current, where = values["extends"], (style_document, ("extends",))
    return chain


def load_font(folder: Path, family: str | None, entry, document: YamlDocument, where: tuple,
              problems: Problems) -> FontFace | None:
    """One font of a style: a file name, or a mapping with the file and the face index of a .ttc collection;
    `family` None for a fallback font, which serves a family named after its own."""
    name, index = (entry["file"], int(entry["index"])) if isinstance(entry, dict) else (entry, 0)
    path = folder / name
    if not path.is_file() or not path.resolve().is_relative_to(folder.resolve()):
        problems.add(document.path, document.line(where), f"{name!r} is listed but missing from "
                     f"styles/{folder.name}/", "add the file or remove it from style.yaml")
        return None
    try:
        return fonts.face(family, path, index)
    except Exception as error:  # fontTools raises many kinds on a damaged or mislabelled file
        problems.add(document.path, document.line(where), f"{name!r} cannot be read as a font"
                     + (f" with face {index}" if index else "") + f": {error}",
                     "use a .ttf, .otf, .woff2 or .ttc font file (and a face index the collection has)")
        return None


def build_recipients(campaign_id: str, entries: tuple, sender: dict | None, campaign: YamlDocument, languages: tuple,
                     problems: Problems) -> tuple:
    """The recipients, with their ids unique, languages known and a way to reach each of them."""
    recipients: list[Recipient] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where, line = ("recipients", index), campaign.line(("recipients", index))
        if entry["id"] in seen:
            problems.add(campaign.path, campaign.line(where + ("id",)), f"recipient id {entry['id']!r} is used twice "
                         f"(also on line {seen[entry['id']]})", "give each recipient its own id")
        seen.setdefault(entry["id"], campaign.line(where + ("id",)))
        own_languages = entry["languages"] or languages
        for position, language in enumerate(own_languages):
            if language not in languages:
                problems.add(campaign.path, campaign.line(where + ("languages", position)),
                             f"recipient {entry['id']!r} reads {language!r}, which the campaign is not written in",
                             f"add it to the campaign's languages ({', '.join(languages)}) or remove it here")
        if entry["channel"] == "email" and not entry["email"]:
            problems.add(campaign.path, line, f"recipient {entry['id']!r} is reached by e-mail but has no 'email' "
                         "address", "add 'email:' or set 'channel: post'")
        for position, address in enumerate(entry["cc"]):
            if address in entry["email"]:
                problems.add(campaign.path, campaign.line(where + ("cc", position)), f"{address} is both a To and a "
                             f"Cc address of recipient {entry['id']!r}", "keep it in one of the two")
        if entry["channel"] == "email" and not sender:
            problems.add(campaign.path, line, f"recipient {entry['id']!r} is reached by e-mail but the campaign has "
                         "no 'sender'", "add 'sender:' with the name and e-mail address the letters come from")
        if entry["channel"] == "post" and not entry["address"]:
            problems.add(campaign.path, line, f"recipient {entry['id']!r} is reached by post but has no 'address'",
                         "add the postal address, one line per item")
        recipients.append(Recipient(
            id=entry["id"], name=Localized(entry["name"]),
            title=Localized(entry["title"]) if entry["title"] else None,
            address=tuple(Localized(line_) for line_ in entry["address"]), salutation=Localized(entry["salutation"]),
            email=entry["email"], cc=entry["cc"], copies=tuple(Localized(copy) for copy in entry["copies"]),
            languages=own_languages, channel=Channel(entry["channel"]), campaign_id=campaign_id, line=line))
    return tuple(recipients)


def check_languages(document: YamlDocument, values: dict, languages: tuple, problems: Problems) -> None:
    """Every language named in the campaign's own texts is one the campaign is written in (catches typos)."""
    texts: list[tuple[str | int, ...]] = [(name,) for name in ("subject", "place", "closing")]
    texts += [("recipients", index, "salutation") for index in range(len(values["recipients"]))]
    for where in texts:
        value = values
        for part in where:
            value = value[part]
        for language, _ in value:
            if language and language not in languages:
                problems.add(document.path, document.line(where + (language,)), f"{'.'.join(map(str, where))}: "
                             f"{language!r} is not one of the campaign's languages ({', '.join(languages)})",
                             "fix the language code or add the language to 'languages'")
    for language, locale in list((values["date_locale"] or {}).items()):
        if language not in languages:
            problems.add(document.path, document.line(("date_locale", language)), f"date_locale: {language!r} is "
                         "not one of the campaign's languages", "fix the language code")
        try:
            Locale.parse(locale)
        except (UnknownLocaleError, ValueError):
            problems.add(document.path, document.line(("date_locale", language)), f"date_locale.{language}: unknown "
                         f"locale {locale!r}", "use a CLDR locale such as en_GB, ru or ky_KG")
            del values["date_locale"][language]  # later checks run with the language's own locale


def load_source(folder: Path, language: str, problems: Problems) -> LetterSource | None:
    """letter.<language>.md: its front matter (YAML between '---' lines) and Markdown body."""
    path = folder / f"letter.{language}.md"
    if not path.is_file():
        problems.add(path, 0, f"the letter in {language!r} is missing",
                     f"write letter.{language}.md or remove {language!r} from the campaign's languages")
        return None
    text = read_text(path, problems)
    if text is None:
        return None
    tokens = MarkdownIt("zero").use(front_matter_plugin).parse(text)
    front_matter, body_line, readable = None, 1, True
    if tokens and tokens[0].type == "front_matter":
        body_line = (tokens[0].map or [0, 0])[1] + 1
        document = parse_yaml(tokens[0].content, path, problems, first_line=2)
        if document and not isinstance(document.data, (dict, type(None))):
            problems.add(path, 2, "front matter must be 'key: value' lines")
            readable = False
        elif document:
            front_matter = YamlDocument(path, document.data or {}, document.lines)
        else:
            readable = False  # its problem is reported; checking it as if empty would only add noise
    return LetterSource(language, path, text, front_matter, body_line, readable)
