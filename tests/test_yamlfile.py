"""Strict YAML: scalars stay the text typed, duplicate keys and odd tags are refused, lines are known."""

from __future__ import annotations

from pathlib import Path

from coalition.errors import Problems
from coalition.yamlfile import load_yaml


def read(tmp_path: Path, text: str | bytes):
    path = tmp_path / "file.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    problems = Problems(tmp_path)
    return load_yaml(path, problems), [str(problem) for problem in problems.found]


def test_yaml_11_surprises_stay_the_text_that_was_typed(tmp_path):
    document, problems = read(tmp_path, "country: NO\npostcode: 012345\ndate: 2020-03-31\nflag: yes\n")
    assert problems == []
    assert document.data == {"country": "NO", "postcode": "012345", "date": "2020-03-31", "flag": "yes"}


def test_every_value_knows_its_line(tmp_path):
    document, _ = read(tmp_path, "a: 1\nlist:\n  - x\n  - y\nmap:\n  key: v\n")
    assert document.line(("list", 1)) == 4
    assert document.line(("map", "key")) == 6
    assert document.line(("map", "missing")) == 5


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    _, problems = read(tmp_path, "subject: one\nplace: x\nsubject: two\n")
    assert problems == ["file.yaml:3: duplicate key 'subject' (first given on line 1) "
                        "(keep one of the two; YAML would silently drop the first)"]


def test_syntax_error_names_the_line(tmp_path):
    _, problems = read(tmp_path, "a: 1\nb: [unclosed\nc: 3\n")
    assert len(problems) == 1 and problems[0].startswith("file.yaml:") and "YAML syntax error" in problems[0]


def test_python_tags_are_refused(tmp_path):
    _, problems = read(tmp_path, "a: !!python/object/apply:os.system ['true']\n")
    assert problems == ["file.yaml:1: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' "
                        "(remove the tag and write a plain value)"]


def test_alias_bombs_are_refused(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(6))
    _, problems = read(tmp_path, bomb)
    assert len(problems) == 1 and "too large once its aliases are expanded" in problems[0]


def test_files_that_are_not_utf8(tmp_path):
    _, problems = read(tmp_path, "a: ok\nb: caf\xe9\n".encode("latin-1"))
    assert problems == ["file.yaml:2: not UTF-8 (byte 0xe9 at offset 12) (save the file as UTF-8 in your editor)"]


def test_values_nested_too_deep_are_an_error_at_their_line_not_a_crash(tmp_path):
    for text, line in [("a: " + "[" * 5000 + "]" * 5000 + "\n", 1),
                       ("a:\n" + "".join("  " * depth + "k:\n" for depth in range(3000)), 65),
                       ("- " * 3000 + "x\n", 1)]:
        _, problems = read(tmp_path, text)
        assert problems == [f"file.yaml:{line}: values nested more than 64 levels deep (a coalition file needs a few "
                            "levels at most: check the brackets and indentation)"]
    _, problems = read(tmp_path, "a: " + "[" * 60 + "x" + "]" * 60 + "\n")
    assert problems == []


def test_a_campaign_nested_too_deep_is_reported_by_the_command_line(project, cli):
    path = project / "letters" / "march-2020" / "campaign.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "notes: " + "[" * 10_000 + "]" * 10_000 + "\n",
                    encoding="utf-8")
    result = cli("build", "march-2020", "--root", project, "--out", project / "out")
    assert result.exit_code == 1 and "letters/march-2020/campaign.yaml:" in result.output
    assert "values nested more than 64 levels deep" in result.output and "Traceback" not in result.output
