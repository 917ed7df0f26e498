"""Property tests: arbitrary Markdown and YAML end in a result or a clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.compose import compose
from coalition.errors import Problems
from coalition.load import load_campaign
from coalition.model import LetterSource
from coalition.yamlfile import parse_yaml
from helpers import frozen_project

CAMPAIGN = load_campaign(frozen_project(), "march-2020", Problems(frozen_project()))
MARKDOWN_PIECES = st.sampled_from([
    "text", " ", "\n", "\n\n", "[^1]", "[^1]: note", "[^x]", "[@mandela-rules]", "[@nope|url]", "[@cescr-gc14|title]",
    "*", "**", "_", "`", "<b>", "</b>", "<!-- c -->", "![i](x.png)", "[l](https://example.org)", "[l](file:///x)",
    "> ", "- ", "1. ", "# ", "---\n", "```\n", "    code", "&amp;", "\\", "|", "[", "]", "(", ")", "ң", "€",
])
YAML_PIECES = st.sampled_from([
    "a", ":", " ", "\n", "- ", "  ", "&x ", "*x", "!!str ", "!!python/object ", "{", "}", "[", "]", ",", "'", '"',
    "#", "---", "...", "? ", "<<: ", "NO", "012", "2020-03-31", "\t", "|", ">", "%YAML 1.1\n",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MARKDOWN_PIECES, max_size=40).map("".join) | st.text(max_size=200))
def test_any_markdown_composes_or_gets_located_problems(text):
    problems = Problems(frozen_project())
    letter = compose(CAMPAIGN, LetterSource("en", CAMPAIGN.folder / "letter.en.md", text, None, 1), problems)
    assert isinstance(letter.body_html, str)
    for problem in problems.found:
        assert problem.file == "letters/march-2020/letter.en.md" and problem.message
        assert 0 <= problem.line <= text.count("\n") + 1
    assert "<script" not in letter.body_html.lower() and "<b>" not in letter.body_html


@settings(max_examples=300, deadline=None)
@given(st.lists(YAML_PIECES, max_size=40).map("".join) | st.text(max_size=200))
def test_any_yaml_loads_strictly_or_gets_located_problems(text):
    problems = Problems(frozen_project())
    document = parse_yaml(text, Path("x.yaml"), problems)
    assert (document is None) == bool(problems.found)
    for problem in problems.found:
        assert problem.file == "x.yaml" and problem.message
    if document is not None:
        assert all(isinstance(value, (str, list, dict, type(None))) for value in [document.data])
