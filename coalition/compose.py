"""Stage 2, compose: each language's Markdown becomes safe HTML, footnotes inline at their calls, citations resolved.

Markdown footnotes are endnotes (a call plus a list at the end); WeasyPrint prints a footnote where an element with
`float: footnote` stands. So each note's content is rendered into a <span class="footnote"> at its call and the
list is dropped. A footnote cites the shared reference library as [@key] (title and URL), [@key|title] or
[@key|url].
"""

from __future__ import annotations

import difflib
import re
from html import escape

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from .errors import Problems
from .languages import is_right_to_left, locale
from .model import Campaign, Letter, LetterSource, Unit

CITATION = re.compile(r"\[@([a-z0-9]+(?:[-.][a-z0-9]+)*)(?:\|(title|url))?\]")
UNDEFINED_FOOTNOTE = re.compile(r"\[\^([^\]\s]+)\]")
FOOTNOTE_DEFINITION = re.compile(r" {0,3}\[\^([^\]\s]+)\]:")
FOOTNOTE_PREFIX = re.compile(r"^ {0,3}\[\^[^\]\s]+\]:\s*")
ALLOWED_LINK = re.compile(r"(?:https?:|mailto:)", re.IGNORECASE)

# Bidi isolation (WeasyPrint 70 has no unicode-bidi): a left-to-right run inside right-to-left text (a URL, a
# citation such as A/RES/70/175, a Latin name, an e-mail address) is wrapped in LRI … PDI, and a right-to-left run
# inside left-to-right text in FSI … PDI, so that no line break reorders it. Both are default-ignorable: no font
# draws them.
LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"
LATIN = "A-Za-z0-9\u00C0-\u024F"
LTR_RUN = re.compile(rf"[{LATIN}][{LATIN}./:@#%&=?+_~\-]*(?:[ ,]+[{LATIN}][{LATIN}./:@#%&=?+_~\-]*)*")
RTL_LETTERS = "\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFC"
RTL_RUN = re.compile(rf"[{RTL_LETTERS}][{RTL_LETTERS}\s\d.,،؛]*")
TRAILING = ".,:;!?-،؛"
# French: a narrow no-break space before ; : ! ? and inside « » (not in URLs or times: only before a space or
# the end).
FRENCH_SPACE = re.compile(r"(?<=[^\s\u202f\u00a0])[ \u00a0]?([;:!?»])(?=\s|$|[)\].,»])")
FRENCH_GUILLEMET = re.compile(r"«[ \u00a0]?(?=\S)")
# Korean breaks lines between words, not between syllables (CSS word-break: keep-all, which WeasyPrint 70 lacks):
# a word joiner between the syllables of a word.
HANGUL_PAIR = re.compile(r"(?<=[\uAC00-\uD7A3])(?=[\uAC00-\uD7A3])")


def isolate(text: str, language: str) -> str:
    """`text` with its runs in the other direction isolated (see LRI above)."""
    pattern, opening = (LTR_RUN, LRI) if is_right_to_left(language) else (RTL_RUN, FSI)

    def wrap(match: re.Match) -> str:
        run = match[0].rstrip(TRAILING + " ")
        return f"{opening}{run}{PDI}{match[0][len(run):]}" if run else match[0]

    return pattern.sub(wrap, text)


def typeset(text: str, language: str) -> str:
    """Plain text as it is printed in `language`: its punctuation spacing, other-direction runs isolated."""
    if locale(language).language == "fr":
        text = FRENCH_GUILLEMET.sub("«\u202f", FRENCH_SPACE.sub("\u202f\\1", text))
    elif locale(language).language == "ko":
        text = HANGUL_PAIR.sub("\u2060", text)
    return isolate(text, language)


def compose_letters(campaign: Campaign, problems: Problems) -> dict:
    """The letter in each of the campaign's languages, by language; problems are recorded in `problems`."""
    return {source.language: compose(campaign, source, problems) for source in campaign.sources}


def compose(campaign: Campaign, source: LetterSource, problems: Problems) -> Letter:
    """One language's letter; problems are recorded, not raised."""
    composer = _Composer(campaign, source, problems)
    return composer.letter()


def _citation_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: [@key], [@key|title] or [@key|url] becomes a 'citation' token."""
    if not state.src.startswith("[@", state.pos):
        return False
    match = CITATION.match(state.src, state.pos)
    if not match:
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"key": match[1], "form": match[2] or "full"}
        token.content = match[0]
    state.pos = match.end()
    return True


def markdown_parser() -> MarkdownIt:
    """CommonMark with footnotes, front matter and citations; raw HTML is parsed only so it can be refused."""
    parser = MarkdownIt("commonmark", {"html": True}).use(front_matter_plugin).use(footnote_plugin)
    parser.inline.ruler.before("link", "citation", _citation_rule)
    # markdown-it quietly turns javascript:, file: and data: links into plain text; let every link through to
    # the composer instead, which refuses all but http(s) and mailto and tells the user where.
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    _report_blocks_too_deep(parser)
    return parser


def _report_blocks_too_deep(parser: MarkdownIt) -> None:
    """Make the parser note, in env["too_deep"], each line it skips for being nested past `maxNesting`.

    markdown-it silently drops every block nested deeper than its limit (lists 10 levels deep, quotes 20); the
    composer turns each such line into an error instead of a letter that lacks them.
    """
    tokenize = parser.block.tokenize

    def tokenize_noting_drops(state, start_line: int, end_line: int, *args) -> None:
        if state.level >= parser.options.maxNesting:
            line = state.skipEmptyLines(start_line)
            if line < end_line and state.sCount[line] >= state.blkIndent:
                state.env.setdefault("too_deep", []).append(line)
        tokenize(state, start_line, end_line, *args)

    # an attribute of this parser's block parser: the block rules (lists, quotes) call it through the parser
    setattr(parser.block, "tokenize", tokenize_noting_drops)


PARSER = markdown_parser()


class _Composer:
    """Renders one letter source to HTML, recording every problem with its line."""

    def __init__(self, campaign: Campaign, source: LetterSource, problems: Problems):
        self.campaign, self.source, self.problems = campaign, source, problems
        self.language = source.language
        self.cited: list[str] = []
        self.citation_lines: list[int] = []
        self.line = source.body_line

    def report(self, line: int, message: str, hint: str = "") -> None:
        """Record a problem at `line` of the letter file."""
        self.problems.add(self.source.path, line, message, hint)

    def letter(self) -> Letter:
        """Parse, check and render the whole body."""
        env: dict = {}
        tokens = PARSER.parse(self.source.text, env)
        body, notes = self.split_footnotes(tokens)
        self.check_footnote_definitions(env)
        for line in sorted(set(env.get("too_deep", []))):
            limit = PARSER.options.maxNesting
            self.report(line + 1, "nested too deep: this and what follows at its depth would be left out of the "
                        f"letter (lists are read up to {(limit - 2) // 2} levels deep, quotes up to {limit - 1})",
                        "nest fewer levels: a letter rarely needs more than three")
        if not any(token.type == "inline" and token.content.strip() for token in body):
            self.report(self.source.body_line, "the letter is empty", "write the body of the letter in Markdown")
        note_html = {note_id: self.render_inline_blocks(note_tokens) for note_id, note_tokens in notes.items()}
        note_calls: dict[int, int] = {}
        parts: list[str] = []
        footnotes: list[tuple[int, str]] = []
        blocks: list[tuple[Token, list[str]]] = []  # each top-level block that prints words, with its words
        for token in body:
            if token.map:
                self.line = token.map[0] + 1
            if token.type == "front_matter":
                continue
            if token.level == 0 and token.nesting >= 0:
                blocks.append((token, []))
            if token.type == "inline":
                parts.append(self.render_inline(token.children or [], note_html, note_calls, footnotes))
                blocks[-1][1].append(plain_text(token.children or [], self.campaign, self.language, note_calls))
            elif token.type in ("html_block",):
                self.refuse_html(token.content)
            elif token.type in BLOCK_TAGS:
                parts.append(BLOCK_TAGS[token.type](token))
            elif token.type not in ("paragraph_close",):
                self.report(self.line, f"Markdown element '{token.type}' is not supported in a letter",
                            "use paragraphs, emphasis, lists, block quotes and footnotes")
        lines = self.source.text.splitlines()
        # A block without words (a '* * *' break) is no paragraph: every numbering of paragraphs skips it.
        worded = [(token.map or [0, 0], texts) for token, texts in blocks if texts]
        paragraphs = [Unit(f"paragraph {number}", start + 1, " ".join(texts), "\n".join(lines[start:end]))
                      for number, ((start, end), texts) in enumerate(worded, start=1)]
        notes_units = [Unit(f"footnote {number}", line, text, source)
                       for number, (note_id, text) in enumerate(footnotes, start=1)
                       for line, source in [self.footnote_source(notes.get(note_id, []), lines)]]
        return Letter(self.campaign, self.language, "".join(parts), tuple(paragraphs), tuple(notes_units),
                      tuple(self.cited), tuple(self.citation_lines))

    @staticmethod
    def footnote_source(tokens: list[Token], lines: list[str]) -> tuple[int, str]:
        """Where a footnote's definition starts, and its Markdown without the '[^label]:' marker."""
        maps = [token.map for token in tokens if token.map]
        if not maps:
            return 0, ""
        start, end = min(start for start, _ in maps), max(end for _, end in maps)
        return start + 1, FOOTNOTE_PREFIX.sub("", "\n".join(lines[start:end]), count=1)

    def split_footnotes(self, tokens: list[Token]) -> tuple[list[Token], dict]:
        """The body's tokens, and each footnote's content tokens by footnote id."""
        body: list[Token] = []
        notes: dict[int, list[Token]] = {}
        current: list[Token] | None = None
        for token in tokens:
            if token.type == "footnote_open":
                current = notes.setdefault(token.meta["id"], [])
            elif token.type == "footnote_close":
                current = None
            elif token.type in ("footnote_block_open", "footnote_block_close", "footnote_anchor"):
                continue
            elif current is not None:
                current.append(token)
            else:
                body.append(token)
        return body, notes

    def check_footnote_definitions(self, env: dict) -> None:
        """Footnotes defined twice or never called are mistakes the Markdown renderer would pass over."""
        definitions: dict[str, int] = {}
        in_fence = False
        for number, line in enumerate(self.source.text.splitlines(), start=1):
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
            match = None if in_fence else FOOTNOTE_DEFINITION.match(line)
            if not match:
                continue
            label = match[1]
            if label in definitions:
                self.report(number, f"footnote [^{label}] is defined twice (first on line {definitions[label]})",
                            "remove one of the two definitions or give this one its own label")
            else:
                definitions[label] = number
        for key, note_id in env.get("footnotes", {}).get("refs", {}).items():
            if note_id == -1:
                label = key[1:]
                self.report(definitions.get(label, 0), f"footnote [^{label}] is defined but never called",
                            f"call it with [^{label}] in the text, or delete the definition")

    def render_inline_blocks(self, tokens: list[Token]) -> tuple[str, str]:
        """A footnote's content as inline HTML (paragraphs joined by line breaks) and as plain text."""
        html_parts, text_parts = [], []
        for token in tokens:
            if token.map:
                self.line = token.map[0] + 1
            if token.type == "inline":
                html_parts.append(self.render_inline(token.children or [], {}, {}, None))
                text_parts.append(plain_text(token.children or [], self.campaign, self.language))
            elif token.type not in ("paragraph_open", "paragraph_close"):
                self.report(self.line, f"'{token.type}' is not supported inside a footnote",
                            "write footnotes as plain paragraphs")
        return "<br>".join(html_parts), " ".join(text_parts)

    def render_inline(self, children: list[Token], note_html: dict, note_calls: dict, footnotes: list | None) -> str:
        """Inline tokens to HTML: text escaped, citations resolved, footnote calls replaced by the note itself."""
        out = []
        for token in children:
            kind = token.type
            if kind == "text":
                for match in UNDEFINED_FOOTNOTE.finditer(token.content):
                    self.report(self.line, f"footnote [^{match[1]}] is called but not defined",
                                f"add a line '[^{match[1]}]: …' with the note's text")
                out.append(escape(typeset(token.content, self.language), quote=False))
            elif kind == "citation":
                out.append(self.render_citation(token.meta["key"], token.meta["form"]))
            elif kind == "footnote_ref":
                if footnotes is None:
                    self.report(self.line, "a footnote cannot call another footnote", "merge the two notes")
                    continue
                note_id = token.meta["id"]
                if note_id in note_calls:
                    self.report(self.line, f"footnote [^{token.meta['label']}] is called twice; a printed footnote "
                                "has one call", "write a second note, or refer to the first in words")
                    continue
                note_calls[note_id] = len(footnotes)
                html, text = note_html.get(note_id, ("", ""))
                footnotes.append((note_id, text))
                out.append(f'<span class="footnote">{html}</span>')
            elif kind in ("softbreak",):
                out.append("\n")
            elif kind == "hardbreak":
                out.append("<br>")
            elif kind in INLINE_TAGS:
                out.append(INLINE_TAGS[kind])
            elif kind == "code_inline":
                out.append(f"<code>{escape(token.content, quote=False)}</code>")
            elif kind == "link_open":
                href = token.attrs.get("href", "")
                if not ALLOWED_LINK.match(str(href)):
                    self.report(self.line, f"link to {href!r} refused: only http(s) and mailto links may appear",
                                "write the full https:// address")
                    href = ""
                out.append(f'<a href="{escape(str(href))}">')
            elif kind == "image":
                self.report(self.line, f"image {token.attrs.get('src', '')!r} refused: letters carry no images",
                            "put logos in the style's letterhead")
            elif kind == "html_inline":
                self.refuse_html(token.content)
            else:
                self.report(self.line, f"Markdown element '{kind}' is not supported in a letter")
        return "".join(out)

    def render_citation(self, key: str, form: str) -> str:
        """A reference from the library as HTML: title and URL, or one of them."""
        self.cited.append(key)
        self.citation_lines.append(self.line)
        library = self.campaign.references
        reference = library.get(key) if library is not None else None
        if reference is None:
            if library is not None and key not in library:  # a broken library or entry is reported already
                self.report(self.line, f"unknown reference [@{key}]", suggest_reference(key, library))
            return ""
        title = escape(typeset(reference.title.get(self.language), self.language), quote=False)
        if reference.url is None:
            if form == "url":
                self.report(self.line, f"reference {key!r} has no url to cite",
                            "add 'url:' to it in letters/references.yaml or cite [@key]")
            return title
        url = escape(reference.url)
        shown = f"{LRI}{url}{PDI}" if is_right_to_left(self.language) else url
        linked_title = f'<a href="{url}">{title}</a>'
        linked_url = f'<a class="url" href="{url}">{shown}</a>'
        return {"title": linked_title, "url": linked_url, "full": f"{linked_title}: {linked_url}"}[form]

    def refuse_html(self, content: str) -> None:
        """Raw HTML never reaches the PDF; the user is told where it was."""
        snippet = content.strip().splitlines()[0][:60] if content.strip() else content
        self.report(self.line, f"raw HTML refused: {snippet!r}", "write Markdown instead: *emphasis*, [text](https://…)")


def plain_text(children: list[Token], campaign: Campaign, language: str, note_calls: dict | None = None) -> str:
    """Inline tokens as the reader sees them, citations included and footnote calls as [1]: for change reports."""
    out = []
    for token in children:
        if token.type == "footnote_ref" and note_calls and token.meta["id"] in note_calls:
            out.append(f"[{note_calls[token.meta['id']] + 1}]")
        if token.type == "text" or token.type == "code_inline":
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif token.type == "citation":
            reference = (campaign.references or {}).get(token.meta["key"])
            if reference:
                title, url = reference.title.get(language), reference.url
                form = token.meta["form"]
                out.append(url if form == "url" and url else title if form == "title" or not url else f"{title}: {url}")
    return "".join(out)


def suggest_reference(key: str, references: dict) -> str:
    """A hint for an unknown reference key."""
    close = difflib.get_close_matches(key, list(references), n=1)
    if close:
        return f"did you mean [@{close[0]}]?"
    return "add it to letters/references.yaml"


BLOCK_TAGS = {
    "paragraph_open": lambda token: "<p>" if not token.hidden else "",
    "paragraph_close": lambda token: "</p>\n",
    "bullet_list_open": lambda token: "<ul>\n",
    "bullet_list_close": lambda token: "</ul>\n",
    "ordered_list_open": lambda token: f'<ol start="{int(token.attrs.get("start", 1))}">\n',
    "ordered_list_close": lambda token: "</ol>\n",
    "list_item_open": lambda token: "<li>",
    "list_item_close": lambda token: "</li>\n",
    "blockquote_open": lambda token: "<blockquote>\n",
    "blockquote_close": lambda token: "</blockquote>\n",
    "heading_open": lambda token: f"<{token.tag}>",
    "heading_close": lambda token: f"</{token.tag}>\n",
    "hr": lambda token: "<hr>\n",
}
INLINE_TAGS = {
    "em_open": "<em>", "em_close": "</em>", "strong_open": "<strong>", "strong_close": "</strong>",
    "link_close": "</a>",
}
