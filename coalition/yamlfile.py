"""Strict YAML reading: safe, no duplicate keys, every scalar kept as the text the user typed, every value's line known.

PyYAML's `safe_load` turns `NO` into False, `012345` into 5349 and `2020-03-31` into a date, and silently keeps
the last of two equal keys. Here every scalar stays a string and the schema decides what it means, so none of
those surprises can happen; explicit tags other than the standard ones are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import Problems

Path_ = tuple  # a location inside a document: ("recipients", 0, "email", 1)

STANDARD_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp",
}
MAX_NODES = 50_000  # aliases can expand a small file exponentially ("billion laughs")
MAX_DEPTH = 64  # lists and mappings inside each other; PyYAML would recurse until Python gives up


class _Invalid(Exception):
    """Raised inside the converter; becomes one Problem."""

    def __init__(self, line: int, message: str, hint: str = ""):
        super().__init__(message)
        self.line, self.message, self.hint = line, message, hint


class _DepthLimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing values nested deeper than MAX_DEPTH where it would otherwise crash."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Invalid(line, f"values nested more than {MAX_DEPTH} levels deep",
                               "a coalition file needs a few levels at most: check the brackets and indentation")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


@dataclass(frozen=True)
class YamlDocument:
    """A YAML file read strictly: plain data (dicts, lists, strings, None) and the line of every value."""

    path: Path
    data: object
    lines: dict

    def line(self, where: Path_) -> int:
        """The line of the value at `where`, or of its nearest enclosing value."""
        while where not in self.lines and where:
            where = where[:-1]
        return self.lines.get(where, 1)


def read_text(path: Path, problems: Problems) -> str | None:
    """A file's text as UTF-8, or None after recording why it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.add(path, 0, "file not found", "create it or fix the name that points to it")
        return None
    except OSError as error:
        problems.add(path, 0, f"cannot read the file: {error.strerror}")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        problems.add(path, line, f"not UTF-8 (byte {raw[error.start]:#04x} at offset {error.start})",
                     "save the file as UTF-8 in your editor")
        return None


def load_yaml(path: Path, problems: Problems) -> YamlDocument | None:
    """Read a YAML file strictly, or return None after recording every problem found in it."""
    text = read_text(path, problems)
    return None if text is None else parse_yaml(text, path, problems)


def parse_yaml(text: str, path: Path, problems: Problems, first_line: int = 1) -> YamlDocument | None:
    """Parse YAML text that starts on line `first_line` of `path` (front matter starts on line 2)."""
    try:
        node = yaml.compose(text, Loader=_DepthLimitedLoader)
    except _Invalid as invalid:
        problems.add(path, invalid.line + first_line - 1, invalid.message, invalid.hint)
        return None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = error.problem or str(error)
        if error.context and what.startswith("but "):  # "but found another document" needs its context
            what = f"{error.context}, {what}"
        problems.add(path, mark.line + first_line if mark else 0, f"YAML syntax error: {what}",
                     "check indentation, colons and quotes on this line or the one before")
        return None
    except yaml.YAMLError as error:
        problems.add(path, 0, f"YAML error: {error}")
        return None
    lines: dict = {}
    try:
        data = _convert(node, (), lines, [0], first_line - 1) if node is not None else None
    except _Invalid as invalid:
        problems.add(path, invalid.line + first_line - 1, invalid.message, invalid.hint)
        return None
    except RecursionError:
        problems.add(path, 0, "YAML nesting too deep", "aliases that refer to themselves are not allowed")
        return None
    if first_line != 1:
        lines = {where: line + first_line - 1 for where, line in lines.items()}
    return YamlDocument(path, data, lines)


def _convert(node: yaml.Node, where: Path_, lines: dict, count: list, offset: int = 0) -> object:
    """Plain data from a composed node, recording every value's line; scalars stay strings."""
    count[0] += 1
    line = node.start_mark.line + 1
    if count[0] > MAX_NODES:
        raise _Invalid(line, "the document is too large once its aliases are expanded",
                       "write the values out instead of using anchors and aliases")
    if node.tag not in STANDARD_TAGS:
        raise _Invalid(line, f"unsupported YAML tag {node.tag!r}", "remove the tag and write a plain value")
    lines[where] = line
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:null" and node.style is None:
            return None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, where + (index,), lines, count, offset) for index, item in enumerate(node.value)]
    mapping: dict = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise _Invalid(key_node.start_mark.line + 1, "merge keys (<<) are not supported", "write the keys out")
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Invalid(key_node.start_mark.line + 1, "a key must be plain text")
        key = key_node.value
        if key in mapping:
            first = lines[where + (key,)] + offset
            raise _Invalid(key_node.start_mark.line + 1, f"duplicate key {key!r} (first given on line {first})",
                           "keep one of the two; YAML would silently drop the first")
        mapping[key] = _convert(value_node, where + (key,), lines, count, offset)
        lines[where + (key,)] = key_node.start_mark.line + 1
    return mapping
