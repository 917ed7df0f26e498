"""The values the pipeline's stages hand to each other: frozen dataclasses, never loose dicts."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from pathlib import Path

from .checks.layout import LayoutFault


class Channel(enum.StrEnum):
    """How a recipient gets the letter."""

    EMAIL = "email"
    POST = "post"


class FileKind(enum.StrEnum):
    """What a file in a build's output is."""

    LETTER = "letter"
    PROOF = "proof"
    ADDRESS_PAGE = "address-page"
    COVER_EMAIL = "cover-email"
    REVIEW_EMAIL = "review-email"
    CHANGE_REPORT = "change-report"
    ZIP = "zip"


@dataclass(frozen=True)
class Localized:
    """Text in one or more languages; the first entry is the original, used where a language has none."""

    entries: tuple[tuple[str, str], ...]

    def get(self, language: str) -> str:
        """The text in `language`, or the original."""
        return dict(self.entries).get(language, self.entries[0][1])

    def has(self, language: str) -> bool:
        """Whether a form of its own exists for `language` (plain text counts for every language)."""
        return self.entries[0][0] == "" or language in dict(self.entries)

    @classmethod
    def plain(cls, text: str) -> Localized:
        """The same text in every language."""
        return cls((("", text),))


@dataclass(frozen=True)
class Signatory:
    """An organisation that signs: its name and qualifier as printed, and where review requests go."""

    id: str
    name: Localized
    qualifier: Localized | None
    contact: str
    source: Path


@dataclass(frozen=True)
class Reference:
    """An entry in the shared reference library, cited in a footnote as [@key]."""

    key: str
    title: Localized
    url: str | None


@dataclass(frozen=True)
class Recipient:
    """An official the letter goes to, and how."""

    id: str
    name: Localized
    title: Localized | None
    address: tuple[Localized, ...]
    salutation: Localized
    email: tuple[str, ...]
    cc: tuple[str, ...]
    copies: tuple[Localized, ...]
    languages: tuple[str, ...]
    channel: Channel
    campaign_id: str
    line: int  # where it is defined in campaign.yaml, for messages


@dataclass(frozen=True)
class LetterSource:
    """The Markdown body of the letter in one language, as read from letter.<language>.md."""

    language: str
    path: Path
    text: str
    front_matter: object  # the YamlDocument between the '---' lines, or None
    body_line: int  # the file line on which the Markdown body starts (after any front matter)
    front_matter_readable: bool = True  # False when it has a syntax error (already reported)


@dataclass(frozen=True)
class FontFace:
    """One font file (or one face of a .ttc collection) serving a CSS font family."""

    family: str
    path: Path
    index: int  # the face in a .ttc collection; 0 for a single font
    weight: int  # 100-900, read from the font; 0 for a fallback font, read when it is first needed
    italic: bool  # read from the font (see weight)
    fallback: bool = False  # one of the fallback fonts every family's CSS ends with (var(--fallback-fonts))


@dataclass(frozen=True)
class Style:
    """A letterhead with what it inherits (`extends:`): template, stylesheets, fonts and the words it prints itself.

    Values are resolved along the chain: the style's own first, then its parent's, up to the base style.
    """

    id: str
    folder: Path
    name: str
    template: str
    stylesheets: tuple[Path, ...]  # the chain's CSS files, the base's first, so that a letterhead overrides
    fonts: tuple[FontFace, ...]  # the families' own faces, then the chain's fallback faces, in order of preference
    strings: dict  # language -> {name: text, or {CLDR plural category: text}}, the style's own over its parent's
    chain: tuple[Path, ...] = ()  # the folders of the style and its ancestors, the style's own first

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder a template, stylesheet or font of this style may come from."""
        return self.chain or (self.folder,)

    @property
    def families(self) -> tuple[str, ...]:
        """The CSS font families the stylesheets may name, in the order declared (not the fallback ones)."""
        return tuple(dict.fromkeys(face.family for face in self.fonts if not face.fallback))


@dataclass(frozen=True)
class Campaign:
    """Everything one letter campaign needs, loaded and checked."""

    id: str
    folder: Path
    subject: Localized
    place: Localized
    date: datetime.date
    date_locales: dict
    closing: Localized
    languages: tuple[str, ...]
    style: Style
    signatories: tuple[Signatory, ...]
    recipients: tuple[Recipient, ...]
    sender: tuple[str, str] | None  # (name, e-mail address)
    sources: tuple[LetterSource, ...]
    references: dict[str, Reference | None] | None  # None for a broken entry; None for an unreadable library
    # language -> the ids of the organisations that sign the letter in it, where a build left some off for that
    # language only (--drop-pending); a language not listed is signed by every organisation in `signatories`
    signed_by: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def signatories_of(self, language: str) -> tuple[Signatory, ...]:
        """The organisations that sign the letter in `language`, in the campaign's order."""
        only = dict(self.signed_by).get(language)
        return self.signatories if only is None else tuple(item for item in self.signatories if item.id in only)

    def source(self, language: str) -> LetterSource:
        """The Markdown body in `language`."""
        return next(source for source in self.sources if source.language == language)


@dataclass(frozen=True)
class Unit:
    """What a reader, a translator and a reviewer each call one piece of the letter: a paragraph or a footnote.

    Paragraphs are numbered over the body's top-level blocks that print words (a '* * *' break is none);
    footnotes in order of their calls. The translation guard fingerprints `source`, proofs keep `text`.
    """

    label: str  # "paragraph 3", "footnote 1"
    line: int  # where it starts in the letter file
    text: str  # as printed, footnote calls as [1]
    source: str  # the Markdown as written


@dataclass(frozen=True)
class Letter:
    """The composed body of the letter in one language: safe HTML with footnotes inline at their calls."""

    campaign: Campaign
    language: str
    body_html: str
    paragraphs: tuple[Unit, ...]
    footnotes: tuple[Unit, ...]  # in order of call
    cited: tuple[str, ...]  # reference keys in order of citation
    citation_lines: tuple[int, ...]  # the source line of each citation


@dataclass(frozen=True)
class RenderedLetter:
    """One PDF: the letter in one language, addressed to one recipient."""

    recipient: Recipient
    language: str
    html: str
    pdf: bytes
    pages: int
    kind: str  # "letter", "proof", or "address-page" for a post recipient's envelope
    proof: str | None = None  # the proof ID printed on a proof

    @property
    def file_name(self) -> str:
        """The PDF's name: unambiguous once attached to an e-mail or downloaded ('march-2020-president-en.pdf')."""
        campaign = self.recipient.campaign_id
        if self.kind == "letter":
            return f"{campaign}-{self.recipient.id}-{self.language}.pdf"
        if self.kind == "proof":
            return f"{campaign}-proof-{self.proof}.pdf"
        return f"{campaign}-{self.recipient.id}-{self.kind}.pdf"


@dataclass(frozen=True)
class OutputFile:
    """A file in a recipient's bundle, with what the manifest says of it."""

    name: str
    data: bytes
    kind: str  # "letter", ...
    language: str | None


@dataclass(frozen=True)
class Bundle:
    """Everything one recipient gets, ready to be written under out/<campaign>/<recipient-id>/."""

    recipient: Recipient
    files: tuple[OutputFile, ...]


@dataclass(frozen=True)
class PdfResult:
    """A written PDF and what WeasyPrint said while making it (refused URLs, warnings)."""

    pdf: bytes
    pages: int
    refused: tuple[str, ...]
    warnings: tuple[str, ...]
    layout: tuple[LayoutFault, ...] = ()  # footnotes off their call's page, text off the page
