"""Hostile content: nothing is fetched, nothing from outside the campaign and style folders reaches a PDF."""

from __future__ import annotations

import io
import zlib

import pytest
from pypdf import PdfReader

from coalition.pdf import PdfWriter
from helpers import edit, FIXTURE, REPO

SECRET = b"TOP-SECRET-DO-NOT-LEAK-4711"


@pytest.fixture
def secret(tmp_path):
    """A file outside the project: any of its bytes in a PDF is a leak."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "secret.css").write_bytes(b"body::after { content: '" + SECRET + b"' }")
    (folder / "secret.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><text>" + SECRET + b"</text></svg>")
    return folder


def pdf_bytes_everywhere(pdf: bytes) -> bytes:
    """The PDF's bytes with every stream decompressed too, so that nothing hides in a compressed stream."""
    reader = PdfReader(io.BytesIO(pdf))
    parts = [pdf]
    for number in range(1, len(reader.xref_objStm) + 1000):
        try:
            obj = reader.get_object(number)
        except Exception:  # noqa: BLE001 - past the last object
            continue
        if hasattr(obj, "get_data"):
            try:
                parts.append(obj.get_data())
            except Exception:  # noqa: BLE001
                parts.append(zlib.decompress(obj._data) if obj._data else b"")
    return b"".join(parts)


HOSTILE_HTML = [
    '<link rel="attachment" href="{uri}/secret.txt">',
    '<a rel="attachment" href="{uri}/secret.txt">attached</a>',
    '<img src="{uri}/secret.svg">',
    '<img src="../../outside/secret.svg">',
    '<link rel="stylesheet" href="{uri}/secret.css">',
    '<style>@import url("{uri}/secret.css");</style>',
    '<div style="background: url({uri}/secret.svg)">x</div>',
    '<img src="http://127.0.0.1:9/secret.svg">',
    '<img src="https://example.org/secret.svg">',
]


@pytest.mark.parametrize("element", HOSTILE_HTML)
def test_the_confined_fetcher_refuses_and_nothing_leaks(element, secret):
    writer = PdfWriter(REPO / "styles" / "coalition", ("letter.css",), (FIXTURE / "letters" / "march-2020",))
    html = f"<html><body><p>Letter</p>{element.format(uri=secret.as_uri())}</body></html>"
    result = writer.write(html)
    assert result.refused, "the resource was not refused"
    everything = pdf_bytes_everywhere(result.pdf)
    assert SECRET not in everything
    assert b"/EmbeddedFile" not in everything


def test_the_style_folders_own_files_are_served(secret):
    writer = PdfWriter(REPO / "styles" / "coalition", ("letter.css",), ())
    result = writer.write("<html><body><p>Fonts come from the style folder.</p></body></html>")
    assert result.refused == () and result.warnings == ()


def test_a_hostile_style_stops_the_build_and_says_what_was_refused(cli, project, tmp_path, secret):
    edit(project / "styles/coalition/letter.html.j2", "<body>", f'<body><img src="{secret.as_uri()}/secret.svg">')
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert f"styles/coalition/letter.html.j2: refused to load {secret.as_uri()}/secret.svg" in result.stderr
    assert not (tmp_path / "out" / "march-2020").exists()


def test_a_hostile_stylesheet_import_is_refused(cli, project, tmp_path, secret):
    css = project / "styles/coalition/letter.css"
    css.write_text(f'@import url("{secret.as_uri()}/secret.css");\n' + css.read_text(encoding="utf-8"),
                   encoding="utf-8")
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "refused to load" in result.stderr and "secret.css" in result.stderr


@pytest.mark.parametrize("markdown, refused", [
    ('<link rel="attachment" href="file:///etc/passwd">', "raw HTML refused"),
    ('<img src="file:///etc/passwd">', "raw HTML refused"),
    ("![x](file:///etc/passwd)", "image 'file:///etc/passwd' refused"),
    ("![x](../../../etc/passwd)", "image '../../../etc/passwd' refused"),
    ("[x](file:///etc/passwd)", "link to 'file:///etc/passwd' refused"),
    ("<style>@import url(http://example.org/x.css);</style>", "raw HTML refused"),
])
def test_hostile_markdown_is_refused_with_its_line(cli, project, tmp_path, markdown, refused):
    letter = project / "letters/march-2020/letter.en.md"
    edit(letter, "We thank you for your attention to this urgent matter.",
         f"We thank you for your attention to this urgent matter. {markdown}")
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1
    line = next(number for number, text in enumerate(letter.read_text().splitlines(), 1) if markdown in text)
    assert f"letters/march-2020/letter.en.md:{line}: {refused}" in result.stderr
