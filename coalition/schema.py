"""Every YAML field the project reads, what it means and what it accepts, in one place.

A field's `kind` checks and converts the text the user typed (the YAML reader keeps every scalar as text, so
`NO`, `012345` and `2020-03-31` arrive exactly as written). `check_record` applies a record's fields to a
YAML mapping, reports every problem with its line, and returns clean values for the loader to build its
dataclasses from.
"""

from __future__ import annotations

import datetime
import difflib
import re
import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from .errors import Problems
from .yamlfile import YamlDocument

INVALID = object()  # a value that failed its check; the problem is already recorded
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-[A-Z]{2})?\Z")  # BCP 47: en, zh-Hans, uz-Cyrl, pt-BR
LOCALE = re.compile(r"[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_[A-Z]{2})?\Z")
REFERENCE_KEY = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*\Z")
STRING_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
FONT_FILE = re.compile(r"(?:[\w-]+/)*[\w-][\w.-]*\.(?:ttf|otf|ttc|woff2?)\Z")
FONT_FAMILY = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]*\Z")
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
EXAMPLE_DOMAINS = ("example.org", "example.com", "example.net")


@dataclass
class Context:
    """Where a value sits: the document, its location inside it, and the collector of problems."""

    document: YamlDocument
    problems: Problems

    def report(self, where: tuple, message: str, hint: str = "") -> object:
        """Record a problem at `where` and return INVALID."""
        label = ".".join(str(part) for part in where)
        self.problems.add(self.document.path, self.document.line(where), f"{label}: {message}" if label else message,
                          hint)
        return INVALID


class Kind:
    """How one field's value is checked and converted."""

    description = "a value"

    def convert(self, value: object, where: tuple, context: Context) -> object:
        """The converted value, or INVALID after reporting the problem."""
        raise TypeError(f"{type(self).__name__} must define convert")


class Text(Kind):
    """A piece of text on one line (no line breaks), or several lines if `multiline`."""

    def __init__(self, multiline: bool = False, pattern: re.Pattern | None = None, hint: str = ""):
        self.multiline, self.pattern, self.hint = multiline, pattern, hint
        self.description = "text" if multiline else "one line of text"

    def convert(self, value, where, context):
        if not isinstance(value, str):
            return context.report(where, f"expected {self.description}, found {_shape(value)}",
                                  'write it as text, in quotes if it contains ":" or "#"')
        text = value.strip()
        if not text:
            return context.report(where, "is empty", "write a value or remove the field")
        if not self.multiline and ("\n" in text or "\r" in text):
            return context.report(where, "must be on one line", "remove the line break")
        if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") and char not in "\n\t" for char in text):
            return context.report(where, "contains a control character or an invisible line break",
                                  "retype the text")
        if self.pattern and not self.pattern.match(text):
            return context.report(where, f"{text!r} is not valid", self.hint)
        return text


class Identifier(Text):
    """A safe id used as a file or folder name: lower-case letters, digits and single hyphens."""

    def __init__(self):
        super().__init__(pattern=SLUG, hint="use lower-case letters, digits and hyphens, like 'president-kyrgyzstan'")


class Language(Text):
    """A language code of two or three letters that CLDR knows (en, ru, ky)."""

    def __init__(self):
        super().__init__(pattern=LANGUAGE, hint="use a BCP 47 language tag, like 'en', 'ru', 'ky', 'zh-Hans' or "
                         "'uz-Cyrl'")

    def convert(self, value, where, context):
        code = super().convert(value, where, context)
        if code is INVALID:
            return code
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(code, sep="-")
        except (UnknownLocaleError, ValueError):
            return context.report(where, f"unknown language {code!r}", self.hint)
        return code


class Date(Text):
    """A calendar date written as YYYY-MM-DD."""

    def __init__(self):
        super().__init__()
        self.description = "a date as YYYY-MM-DD"

    def convert(self, value, where, context):
        text = super().convert(value, where, context)
        if text is INVALID:
            return text
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            return context.report(where, f"{text!r} is not a date", "write it as YYYY-MM-DD, like 2020-03-31")


class Choice(Text):
    """One of a fixed set of words."""

    def __init__(self, *choices: str):
        super().__init__()
        self.choices = choices
        self.description = " or ".join(repr(choice) for choice in choices)

    def convert(self, value, where, context):
        text = super().convert(value, where, context)
        if text is INVALID or text in self.choices:
            return text
        return context.report(where, f"{text!r} is not one of {self.description}", _suggest(text, self.choices))


class Boolean(Kind):
    """true or false, written exactly so (YAML 1.1's yes/no/on/off are refused as ambiguous)."""

    description = "true or false"

    def convert(self, value, where, context):
        if value in ("true", "false"):
            return value == "true"
        return context.report(where, f"expected true or false, found {_shape(value)}", "write true or false")


class Email(Text):
    """An e-mail address, checked and normalised with email-validator (no DNS look-up)."""

    def __init__(self):
        super().__init__()
        self.description = "an e-mail address"

    def convert(self, value, where, context):
        text = super().convert(value, where, context)
        if text is INVALID:
            return text
        try:
            address = validate_email(text, check_deliverability=False, test_environment=True).normalized
        except EmailNotValidError as error:
            return context.report(where, f"{text!r} is not a valid e-mail address: {error}", "correct the address")
        mixed = mixed_script(address.rpartition("@")[2])
        if mixed:
            return context.report(where, f"{text!r}: its domain mixes scripts, {mixed}: a look-alike letter sends "
                                  "the mail elsewhere", "retype the domain in one script")
        return address


def mixed_script(domain: str) -> str | None:
    """A description of the first character of another script in a domain label (confusables), or None."""
    for label in domain.split("."):
        first: str | None = None
        for character in label:
            if not character.isalpha():
                continue
            script = unicodedata.name(character, "UNKNOWN").split()[0]
            if first is None:
                first = script
            elif script != first:
                return (f"{character!r} (U+{ord(character):04X} {unicodedata.name(character, '?')}) among "
                        f"{first.title()} letters in {label!r}")
    return None


class Url(Text):
    """An http(s) address."""

    def __init__(self):
        super().__init__(pattern=re.compile(r"https?://[^\s<>\"]+\Z"), hint="write a full http:// or https:// address")


class ListOf(Kind):
    """A list of values of one kind; `unique` refuses repeats (after normalisation)."""

    def __init__(self, item: Kind, unique: bool = True, allow_empty: bool = False):
        self.item, self.unique, self.allow_empty = item, unique, allow_empty
        self.description = f"a list of {item.description}"

    def convert(self, value, where, context):
        if isinstance(value, str) and not isinstance(self.item, Record):
            value = [value]  # a single value where a list is expected is the list of one
        if not isinstance(value, list):
            return context.report(where, f"expected {self.description}, found {_shape(value)}",
                                  "write one item per line, each starting with '- '")
        if not value and not self.allow_empty:
            return context.report(where, "is an empty list", "add at least one item or remove the field")
        items, seen, ok = [], set(), True
        for index, item in enumerate(value):
            converted = self.item.convert(item, where + (index,), context)
            if converted is INVALID:
                ok = False  # a list with a bad item is not used at all: no follow-on errors from what is left
                continue
            if self.unique and not isinstance(converted, dict):
                if converted in seen:
                    context.report(where + (index,), f"{converted!r} is listed twice", "remove the repeat")
                    ok = False
                    continue
                seen.add(converted)
            items.append(converted)
        return tuple(items) if ok else INVALID


class Localized(Kind):
    """Text that may differ by language: plain text (the same in every language) or a mapping from language code
    to text, whose first entry is the original used where a language has no entry of its own."""

    def __init__(self, text: Text | None = None):
        self.text = text or Text()
        self.description = f"{self.text.description}, or a mapping from language code to it"

    def convert(self, value, where, context):
        if isinstance(value, dict):
            if not value:
                return context.report(where, "is an empty mapping", "give at least one language, like 'en: ...'")
            result = []
            for language, text in value.items():
                if Language().convert(language, where + (language,), context) is INVALID:
                    continue
                converted = self.text.convert(text, where + (language,), context)
                if converted is not INVALID:
                    result.append((language, converted))
            return tuple(result) if len(result) == len(value) else INVALID
        converted = self.text.convert(value, where, context)
        return converted if converted is INVALID else (("", converted),)


class MappingOf(Kind):
    """A mapping whose keys are checked by one kind and values by another."""

    def __init__(self, key: Kind, value: Kind, allow_empty: bool = False):
        self.key, self.value, self.allow_empty = key, value, allow_empty
        self.description = f"a mapping from {key.description} to {value.description}"

    def convert(self, value, where, context):
        if not isinstance(value, dict):
            return context.report(where, f"expected {self.description}, found {_shape(value)}",
                                  "write it as 'key: value' lines")
        if not value and not self.allow_empty:
            return context.report(where, "is an empty mapping", "add an entry or remove the field")
        result = {}
        for key, item in value.items():
            checked_key = self.key.convert(key, where + (key,), context)
            checked_value = self.value.convert(item, where + (key,), context)
            if INVALID not in (checked_key, checked_value):
                result[checked_key] = checked_value
        return result if len(result) == len(value) else INVALID


@dataclass(frozen=True)
class Field:
    """One field of a record: its name, what it accepts, whether it must be given, and what it means."""

    name: str
    kind: Kind
    doc: str
    required: bool = True
    default: object = None


class Record(Kind):
    """A mapping with known fields; unknown keys (usually typos) are reported with a suggestion."""

    def __init__(self, name: str, *fields: Field):
        self.name, self.fields = name, {field.name: field for field in fields}
        self.description = f"a mapping ({name})"

    def convert(self, value, where, context):
        if not isinstance(value, dict):
            return context.report(where, f"expected {self.description}, found {_shape(value)}",
                                  "write it as 'key: value' lines")
        result, ok = {}, True
        for key in value:
            if key not in self.fields:
                context.report(where + (key,), f"unknown field in {self.name}", _suggest(key, self.fields))
                ok = False
        for name, field in self.fields.items():
            if name in value and value[name] is None:
                context.report(where + (name,), "has no value", f"write {field.doc}" if field.required else
                               f"write {field.doc}, or remove the line")
                ok = False
                result[name] = field.default
                continue
            if value.get(name) is None:
                if field.required:
                    context.report(where, f"missing required field {name!r} ({field.doc})",
                                   f"add '{name}:' to {self.name}")
                    ok = False
                result[name] = field.default
                continue
            converted = field.kind.convert(value[name], where + (name,), context)
            ok = ok and converted is not INVALID
            result[name] = converted
        return result if ok else INVALID


def check_record(document: YamlDocument, record: Record, problems: Problems) -> dict | None:
    """A whole YAML file checked against `record`: clean values, or None with the problems recorded."""
    result = record.convert(document.data, (), Context(document, problems))
    return None if result is INVALID else result


def is_example_address(address: str) -> bool:
    """True for the reserved example domains (RFC 2606) that mark an address nobody has filled in yet."""
    domain = address.rpartition("@")[2].lower()
    return any(domain == example or domain.endswith("." + example) for example in EXAMPLE_DOMAINS)


def _shape(value: object) -> str:
    """How a value looks, in the user's words."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _suggest(word: str, choices) -> str:
    """'did you mean …?' for a likely typo, else the list of valid choices."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "expected one of: " + ", ".join(sorted(choices))


# ---------------------------------------------------------------------------------------------------------------
# The files. Each record below is one kind of YAML file (or one entry in it); `doc` is what the user reads.

SIGNATORY = Record(
    "signatory",
    Field("name", Localized(), "the organisation's name as it signs, e.g. 'Amnesty International'; a mapping by "
          "language gives localized forms, its first entry being the original"),
    Field("qualifier", Localized(), "printed after the name, e.g. 'within the framework of the Observatory for the "
          "Protection of Human Rights Defenders'", required=False),
    Field("contact", Email(), "where review requests and proofs are sent; an example.org address marks one that "
          "the coalition has not filled in yet"),
    Field("website", Url(), "the organisation's website", required=False),
    Field("review_languages", ListOf(Language()), "the languages its reviewers read, most preferred first: its "
          "review e-mails are written in the first of them that the campaign's letter is in; default, and when "
          "none is: the campaign's original language", required=False),
)

REFERENCE = Record(
    "reference",
    Field("title", Localized(Text()), "the citation as printed, with the official title in each language that has "
          "one (first entry: the original)"),
    Field("url", Url(), "where the cited document is published; printed after the title and linked", required=False),
    Field("note", Text(multiline=True), "for the coalition's own use; never printed", required=False),
)

REFERENCE_KEY_KIND = Text(pattern=REFERENCE_KEY, hint="use lower-case letters, digits, '-' and '.'")

REFERENCES = Record(
    "references",
    Field("references", MappingOf(REFERENCE_KEY_KIND, REFERENCE),
          "a mapping from reference key, as cited by [@key], to a reference"),
)

RECIPIENT = Record(
    "recipient",
    Field("id", Identifier(), "a short safe name for the recipient, used for its output folder, e.g. 'president'"),
    Field("name", Localized(), "the person as addressed, e.g. 'Mr. Sooronbay Jeenbekov'"),
    Field("title", Localized(), "the office, e.g. 'President of Kyrgyzstan'", required=False),
    Field("address", ListOf(Localized(), unique=False), "the postal address, one line per item", required=False,
          default=()),
    Field("salutation", Localized(), "the greeting that opens the letter, e.g. 'Your Excellency,'"),
    Field("email", ListOf(Email()), "the To addresses, for the 'email' channel", required=False, default=()),
    Field("cc", ListOf(Email()), "addresses that receive a copy", required=False, default=()),
    Field("copies", ListOf(Localized(), unique=False), "who receives a copy, printed under the signatures, e.g. "
          "'Roza Otunbaeva, President of the Interim Government'", required=False, default=()),
    Field("languages", ListOf(Language()), "the languages this recipient gets the letter in; default: all the "
          "campaign's languages", required=False),
    Field("channel", Choice("email", "post"), "how the letter reaches this recipient: 'email', or 'post' where "
          "only paper is accepted", required=False, default="email"),
    Field("notes", Text(multiline=True), "for the coalition's own use (e.g. 'post only, COVID-19 restrictions'); "
          "never printed", required=False),
)

SENDER = Record(
    "sender",
    Field("name", Text(), "who the cover e-mails are from, e.g. the coordinator's name and the coalition"),
    Field("email", Email(), "the From address of cover e-mails and review requests"),
)

CAMPAIGN = Record(
    "campaign",
    Field("subject", Localized(), "the subject line of the letter, e.g. 'RE: Case of Azimjon Askarov'"),
    Field("place", Localized(), "where the letter is written, e.g. 'Brussels'"),
    Field("date", Date(), "the date of the letter, YYYY-MM-DD"),
    Field("style", Identifier(), "the letterhead: a folder under styles/"),
    Field("languages", ListOf(Language()), "the languages the letter is written in; the first is the original "
          "and each needs a letter.<language>.md"),
    Field("date_locale", MappingOf(Language(), Text(pattern=LOCALE, hint="write a CLDR locale like en_GB")),
          "optional mapping from language to the CLDR locale used for the date, e.g. "
          "'en: en_GB' for '31 March 2020'", required=False),
    Field("closing", Localized(Text(multiline=True)), "the words before the signatures, e.g. 'Sincerely,'; it may "
          "span lines, each printed on its own (Chinese '此致' and '敬礼！')"),
    Field("signatories", ListOf(Identifier()), "the signing organisations in the order they are printed: file "
          "names under signatories/ without '.yaml'"),
    Field("recipients", ListOf(RECIPIENT), "the officials the letter goes to"),
    Field("sender", SENDER, "who sends the letter on the coalition's behalf", required=False),
    Field("notes", Text(multiline=True), "for the coalition's own use; never printed", required=False),
)

TRANSLATION = Record(
    "translation front matter",
    Field("translated_from", Language(), "the language it was translated from: the campaign's original"),
    Field("translator", Text(), "who translated it (a person or 'machine-assisted draft')"),
    Field("reviewed", Boolean(), "true once a second fluent reader has checked it against the original"),
    Field("reviewed_by", Text(), "who reviewed it", required=False),
    Field("source_fingerprints", ListOf(Text(pattern=re.compile(r"[0-9a-f]{12}\Z"), hint="written by 'coalition "
          "translated'"), unique=False), "one fingerprint per paragraph and footnote of the original as it was "
          "translated; written by 'coalition translated <campaign> <language>'", required=False),
    Field("notes", Text(multiline=True), "for the coalition's own use; never printed", required=False),
)

UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
PROOF_ID = re.compile(r"[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-[A-Z]{2})?-[0-9a-f]{10}\Z")
LINK_ID = re.compile(r"[a-z0-9]{12}\Z")

APPROVAL_VIA = Record(
    "via",
    Field("link", Text(pattern=LINK_ID, hint="twelve lower-case letters and digits, as 'coalition links' shows"),
          "the organisation's private review link it came through (the link's id, never the secret link)",
          required=False),
    Field("ip", Text(), "the address the request came from", required=False),
    Field("agent", Text(), "the browser's User-Agent header", required=False),
    Field("command-line", Text(), "recorded with 'coalition approve' by this person (user@machine)", required=False),
)

APPROVAL_EVENT = Record(
    "approval event",
    Field("at", Text(pattern=UTC_TIME, hint="write the UTC time as YYYY-MM-DDTHH:MM:SSZ, like 2020-03-30T12:00:00Z"),
          "when it happened, in UTC; never in the future"),
    Field("organisation", Identifier(), "the signatory organisation: its file name under signatories/"),
    Field("language", Language(), "the language of the proof"),
    Field("proof", Text(pattern=PROOF_ID, hint="copy the ID from the proof's foot, like 'en-3f9a1c07b2'"),
          "the proof ID the event is about, as printed in the margin of every page of the proof"),
    Field("action", Choice("approved", "changes-requested", "withdrawn"),
          "approved, changes-requested (with a comment) or withdrawn (the organisation leaves the letter)"),
    Field("by", Text(), "the person who acted for the organisation"),
    Field("role", Text(), "that person's role in the organisation", required=False),
    Field("comment", Text(multiline=True), "what should change (for changes-requested), or a note",
          required=False),
    Field("via", APPROVAL_VIA, "how it was recorded: through a private link (link, ip, agent) or on the command "
          "line (command-line)"),
)

APPROVALS = ListOf(APPROVAL_EVENT, unique=False, allow_empty=True)
"""letters/<campaign>/approvals.yaml: the history of approvals, one event per line, oldest first; appended by
'coalition approve' and the review pages, never rewritten. The current state is derived from it."""

REVIEW_LINK = Record(
    "review link",
    Field("link", Text(pattern=LINK_ID, hint="twelve lower-case letters and digits; made by 'coalition links'"),
          "the id of the organisation's private review link (the link itself is signed with the server's secret "
          "and never written here)"),
    Field("made", Text(pattern=UTC_TIME, hint="YYYY-MM-DDTHH:MM:SSZ"), "when the link was made, in UTC"),
    Field("revoked", Text(pattern=UTC_TIME, hint="YYYY-MM-DDTHH:MM:SSZ"), "when it was revoked, in UTC; a revoked "
          "link opens nothing ('coalition links CAMPAIGN --regenerate ORG' makes a new one)", required=False),
)

LINKS = MappingOf(Identifier(), REVIEW_LINK, allow_empty=True)
"""letters/<campaign>/links.yaml: per signatory id, its private review link's id; written by 'coalition links'."""


class OneOf(Kind):
    """A value of the first kind that fits its shape: text for a Text kind, a mapping for a Record or MappingOf."""

    def __init__(self, text: Kind, mapping: Kind):
        self.text, self.mapping = text, mapping
        self.description = f"{text.description}, or {mapping.description}"

    def convert(self, value, where, context):
        return (self.mapping if isinstance(value, dict) else self.text).convert(value, where, context)


FONT = Record(
    "font",
    Field("file", Text(pattern=FONT_FILE, hint="a .ttf, .otf, .ttc, .woff or .woff2 file inside the style's folder"),
          "the font file, relative to the style's folder"),
    Field("index", Choice(*(str(number) for number in range(64))), "the face to use in a .ttc collection, from 0",
          required=False, default="0"),
)
FONT_LIST = ListOf(OneOf(Text(pattern=FONT_FILE, hint="a .ttf, .otf, .ttc, .woff or .woff2 file inside the "
                                                     "style's folder"), FONT))
STRING = OneOf(Text(multiline=True), MappingOf(Choice(*PLURAL_CATEGORIES), Text(multiline=True)))

STYLE = Record(
    "style",
    Field("name", Text(), "what the letterhead is called"),
    Field("extends", Identifier(), "the style this one builds on (a folder under styles/, usually 'base'): its "
          "stylesheets come first, its fonts, strings and templates are used where this style has none of its "
          "own", required=False),
    Field("template", Text(pattern=re.compile(r"[\w.-]+\Z"), hint="a file name in the style's folder"),
          "the Jinja2 template of the letter, found in the style's folder or its parent's", required=False),
    Field("stylesheets", ListOf(Text(pattern=re.compile(r"[\w.-]+\Z"), hint="a file name in the style's folder")),
          "CSS files in the style's folder, applied in order after the parent style's", required=False,
          default=()),
    Field("fonts", MappingOf(Text(pattern=FONT_FAMILY, hint="a family name of letters, digits and spaces"),
                             FONT_LIST),
          "the CSS font families the stylesheets may name, each with its font files (weight and italic are read "
          "from the files); a .ttc collection is written 'file: fonts/x.ttc' with 'index: N'. No stylesheet may "
          "name another family: every character is drawn by a font the project ships", required=False),
    Field("fallback_fonts", FONT_LIST,
          "font files added after every family's own, in order, for the characters those lack (other scripts: "
          "Arabic, Hebrew, Devanagari, CJK); a style's own come before its parent's. Files whose names share the "
          "part before '-' are one family (NotoNaskhArabic-Regular.ttf, NotoNaskhArabic-Bold.ttf)",
          required=False, default=()),
    Field("strings", MappingOf(Language(), MappingOf(Text(pattern=STRING_NAME, hint="use a-z, digits and '_'"),
                                                     STRING)),
          "per language, the words the templates print themselves (e.g. 'via_email: \"Via email:\"'), merged over "
          "the parent style's; a string may be a mapping from CLDR plural category (one, few, many, other) to "
          "text, and {name} marks where a value goes. A language the chain has no strings for cannot be built",
          required=False, default={}),
)


# ---------------------------------------------------------------------------------------------------------------
# The field reference for coordinators: `coalition fields`, kept in docs/fields.md.

FILES = (
    ("letters/<campaign>/campaign.yaml", CAMPAIGN),
    ("each entry of 'recipients' in campaign.yaml", RECIPIENT),
    ("'sender' in campaign.yaml", SENDER),
    ("signatories/<id>.yaml", SIGNATORY),
    ("letters/references.yaml", REFERENCES),
    ("each reference in letters/references.yaml", REFERENCE),
    ("the front matter of a translation, letters/<campaign>/letter.<language>.md", TRANSLATION),
    ("each entry of letters/<campaign>/approvals.yaml, a list of events appended by the tool", APPROVAL_EVENT),
    ("'via' of an approval event", APPROVAL_VIA),
    ("each entry of letters/<campaign>/links.yaml, the private review links", REVIEW_LINK),
    ("styles/<style>/style.yaml", STYLE),
)


def field_reference() -> str:
    """Every YAML field the project reads, as a Markdown page: file by file, what each field means and accepts."""
    lines = ["# Fields", "",
             "Every field of every YAML file the tool reads. Generated from `coalition/schema.py` by "
             "`coalition fields > docs/fields.md`; a test keeps it current.", ""]
    for where, record in FILES:
        lines += [f"## {record.name}", "", f"In {where}.", "", "| field | required | accepts | meaning |",
                  "|---|---|---|---|"]
        for field in record.fields.values():
            accepts, meaning = (text.replace("|", "\\|") for text in (field.kind.description, field.doc))
            lines.append(f"| `{field.name}` | {'yes' if field.required else 'no'} | {accepts} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
