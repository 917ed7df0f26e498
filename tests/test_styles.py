"""Styles: inheritance from base, and fonts from .ttc collections chosen by face index."""

from __future__ import annotations

import re

import pytest
from fontTools.ttLib import TTCollection, TTFont
from pypdf import PdfReader

from helpers import REPO, edit, page_texts


def test_the_shipped_letterheads_keep_only_what_differs_from_base():
    for style in ("coalition", "urgent-action"):
        folder = REPO / "styles" / style
        assert "extends: base" in (folder / "style.yaml").read_text(encoding="utf-8")
        assert not (folder / "fonts").exists()
        css = (folder / "letter.css").read_text(encoding="utf-8")
        assert "float: footnote" not in css and "@font-face" not in css  # both come from base


def make_style_with_collection(project, index: int, text: str = "Oʻzbekiston") -> None:
    """styles/collection: a letterhead whose text family is face `index` of a .ttc (0: PT Serif, 1: Noto Serif)."""
    folder = project / "styles" / "collection"
    (folder / "fonts").mkdir(parents=True)
    collection = TTCollection()
    collection.fonts = [TTFont(REPO / "styles/base/fonts/PTF55F.ttf"),
                        TTFont(REPO / "styles/base/fonts/NotoSerif-Regular.ttf")]
    collection.save(folder / "fonts" / "pair.ttc")
    (folder / "style.yaml").write_text(
        "name: Collection test\nextends: coalition\nstylesheets: [collection.css]\n"
        f"fonts:\n  Pair Serif:\n    - file: fonts/pair.ttc\n      index: {index}\n", encoding="utf-8")
    # named alone, without var(--fallback-fonts): every character must come from the chosen face
    (folder / "collection.css").write_text('.body p { font-family: "Pair Serif"; }\n', encoding="utf-8")
    edit(project / "letters/march-2020/campaign.yaml", "style: coalition", "style: collection")
    edit(project / "letters/march-2020/letter.ru.md", "Мы, международные", f"{text}: Мы, международные")


@pytest.mark.parametrize("index, text", [(0, "Ozbekiston"), (1, "Oʻzbekiston")])
def test_a_ttc_face_chosen_by_index_is_the_one_checked_and_drawn(index, text, cli, project, tmp_path):
    make_style_with_collection(project, index, text)
    out = tmp_path / "out"
    result = cli("proof", "march-2020", "--root", project, "--out", out)
    assert result.exit_code == 0, result.stderr
    pdf = next(out.rglob("march-2020-proof-ru-*.pdf"))
    fonts = {str(font.get_object()["/BaseFont"]).split("+")[-1]: font.get_object() for page in PdfReader(pdf).pages
             for font in page["/Resources"]["/Font"].values()}
    assert "Pair-Serif" in fonts, fonts

    def ascent(name: str) -> int:
        return fonts[name]["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()["/Ascent"]

    # face 0 is PT Serif, as Letter Serif is; face 1 is Noto Serif, whose ascent differs
    assert (ascent("Pair-Serif") == ascent("Letter-Serif")) == (index == 0)
    content = PdfReader(pdf).pages[0].get_contents().get_data().decode("latin-1")
    glyphs = [run[index:index + 4] for run in re.findall(r"<([0-9a-fA-F]+)>", content)
              for index in range(0, len(run), 4)]
    assert "0000" not in glyphs
    assert text in page_texts(pdf)[0]


def test_the_glyph_check_reads_the_face_the_index_names(cli, project):
    make_style_with_collection(project, 0)  # PT Serif, which has no U+02BB
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1
    assert "'ʻ' (U+02BB) cannot be drawn by the fonts of style 'collection' (family Pair Serif)" in result.stderr


def test_a_style_may_not_name_a_family_it_does_not_ship(cli, project):
    edit(project / "styles/coalition/letter.css", ".subject { font-weight: bold;",
         '.subject { font-family: "DejaVu Sans", sans-serif; font-weight: bold;')
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1
    assert "styles/coalition/letter.css:" in result.stderr
    assert "font family 'DejaVu Sans' is not one of the style's fonts" in result.stderr
    assert "font family 'sans-serif' is not one of the style's fonts" in result.stderr


def test_a_style_extending_itself_is_refused(cli, project):
    edit(project / "styles/base/style.yaml", "name: Base\n", "name: Base\nextends: coalition\n")
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1 and "extends itself" in result.stderr


def test_a_plural_string_without_its_other_form_is_refused(cli, project):
    edit(project / "styles/base/style.yaml",
         'organisations: {one: "{count} organisation", other: "{count} organisations"}',
         'organisations: {one: "{count} organisation"}')
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1
    assert "string 'organisations' in 'en' has plural forms but no 'other'" in result.stderr
