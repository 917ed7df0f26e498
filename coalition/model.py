"""The values the pipeline's stages hand to each other: frozen dataclasses, never loose dicts."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
from dataclasses import dataclass
from pathlib import Path

from .checks.layout import LayoutFault
from .errors import CoalitionError


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


@dataclass(frozen=True)
class Signatory:
    """An organisation that signs: its name and qualifier as printed, and where review requests go."""

    id: str
    name: Localized
    qualifier: Localized | None
    contact: str
    source: Path
    review_languages: tuple[str, ...] = ()  # most preferred first

    def review_language(self, campaign_languages: tuple[str, ...]) -> str:
        """The language its review e-mails are written in: the first it reads that the letter is in."""
        return next((language for language in self.review_languages if language in campaign_languages),
                    campaign_languages[0])


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
class Sender:
    """Who the e-mails come from: the coordinator, on the coalition's behalf."""

    name: str
    address: str


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
    style: Style | None  # None only while a broken letterhead's problems are gathered with the rest
    signatories: tuple[Signatory, ...]
    recipients: tuple[Recipient, ...]
    sender: Sender | None  # None: a campaign sent by post only
    sources: tuple[LetterSource, ...]
    references: dict[str, Reference | None] | None  # None for a broken entry; None for an unreadable library
    # language -> the ids of the organisations that sign the letter in it, where a build left some off for that
    # language only (--drop-pending); a language not listed is signed by every organisation in `signatories`
    signed_by: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def signatories_of(self, language: str) -> tuple[Signatory, ...]:
        """The organisations that sign the letter in `language`, in the campaign's order."""
        only = dict(self.signed_by).get(language)
        return self.signatories if only is None else tuple(item for item in self.signatories if item.id in only)

    @property
    def letterhead(self) -> Style:
        """The style, for the stages past the checks: a campaign whose style could not be loaded never gets there."""
        if self.style is None:
            raise CoalitionError(f"{self.folder / 'campaign.yaml'}: its style could not be loaded; run 'coalition "
                                 f"check {self.id}' for why")
        return self.style

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
    """A file a build or a proof run writes: where it goes, its bytes, and what the manifest says of it."""

    path: str  # under out/<campaign>/ (or out/<campaign>.proof/), e.g. "president/march-2020-president-en.pdf"
    data: bytes
    kind: FileKind
    language: str | None = None
    recipient: str | None = None  # the recipient whose bundle it belongs to

    @property
    def name(self) -> str:
        """The file's own name, without its folder."""
        return self.path.rpartition("/")[2]


MADE_BY = "coalition-letters"  # a manifest's mark: the tool replaces only an output folder that carries it


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a build as its manifest lists it."""

    path: str
    sha256: str
    bytes: int
    recipient: str | None
    language: str | None
    kind: FileKind


@dataclass(frozen=True)
class Manifest:
    """What a build wrote (manifest.json): every file with its hash, the proofs and signatories it is of, and the
    hash of every input file it read. No timestamps, so that builds reproduce byte for byte."""

    campaign: str
    date: str
    files: tuple[ManifestEntry, ...]
    proofs: dict[str, str]  # language -> proof ID
    inputs: dict[str, str] | None = None  # input file, from the project root -> sha256; None: a proof run's
    signatories: tuple[str, ...] | None = None  # every organisation that signs some language; None: a proof run
    signatories_by_language: dict[str, tuple[str, ...]] | None = None  # who signs each language's letters
    dropped: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # language -> left off it
    made_by: str = MADE_BY

    def signed_in(self, language: str) -> tuple[str, ...]:
        """The organisations this build's `language` letters are signed by."""
        return (self.signatories_by_language or {}).get(language, self.signatories or ())

    def to_json(self) -> str:
        """The manifest as manifest.json holds it."""
        record: dict[str, object] = {"made_by": self.made_by, "campaign": self.campaign, "date": self.date,
                                     "proofs": self.proofs}
        if self.signatories is not None:
            record |= {"signatories": list(self.signatories),
                       "signatories_by_language": {language: list(ids) for language, ids in
                                                   (self.signatories_by_language or {}).items()},
                       "dropped": {language: list(ids) for language, ids in self.dropped.items()}}
        if self.inputs is not None:
            record["inputs"] = self.inputs
        record["files"] = [{"path": entry.path, "sha256": entry.sha256, "bytes": entry.bytes,
                            "recipient": entry.recipient, "language": entry.language, "kind": entry.kind.value}
                           for entry in self.files]
        return json.dumps(record, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """A manifest read back; ValueError if it is not one (damaged, or from another tool)."""
        try:
            record = json.loads(text)
            files = tuple(ManifestEntry(str(entry["path"]), str(entry["sha256"]), int(entry["bytes"]),
                                        entry["recipient"], entry["language"], FileKind(entry["kind"]))
                          for entry in record["files"])
            signatories = record.get("signatories")
            by_language = record.get("signatories_by_language")
            return cls(str(record["campaign"]), str(record["date"]), files, dict(record["proofs"]),
                       dict(record["inputs"]) if record.get("inputs") is not None else None,
                       tuple(signatories) if signatories is not None else None,
                       {language: tuple(ids) for language, ids in by_language.items()} if by_language else None,
                       {language: tuple(ids) for language, ids in (record.get("dropped") or {}).items()},
                       str(record.get("made_by", "")))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a manifest of this tool ({error!r})") from error


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
    fonts: tuple[str, ...] = ()  # the fonts embedded, as the PDF names them: "Letter-Serif-Bold"
