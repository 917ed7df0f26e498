"""Every language a coalition writes in, by data alone: a short real letter in each, built with the shipped
letterhead and read back (direction, fonts, the URL, the date), and each language's cover e-mail parsed."""

from __future__ import annotations

import ctypes
import datetime
import difflib
import email
import os
import re
import subprocess
import sys
from email import policy
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
import yaml
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from coalition.languages import is_right_to_left, long_date, plural_category
from helpers import REPO
from languages.project import DATE, LETTERS, URL, approve_everything, write_project


LANGUAGES = list(LETTERS)
BASE = yaml.safe_load((REPO / "styles/base/style.yaml").read_text(encoding="utf-8"))
# the names WeasyPrint gives the fonts it embeds: the CSS family, spaces as hyphens
SHIPPED_FAMILIES = tuple(family.replace(" ", "-") for family in BASE["fonts"]) + tuple(
    "Fallback-" + Path(name).name.split("-")[0] for name in BASE["fallback_fonts"])
ISOLATES = "\u2066\u2067\u2068\u2069"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The campaign built once, in this process."""
    from coalition.usecases import build

    root = tmp_path_factory.mktemp("every-language")
    write_project(root)
    approve_everything(root)
    build("every-language", root=root, out=root / "out", jobs=1, cache=False)
    return root / "out" / "every-language"


def letter_pdf(built: Path, language: str) -> Path:
    return built / f"official-{language.lower()}" / f"every-language-official-{language.lower()}-{language}.pdf"


def lines_of(page) -> list[tuple[float, float, str]]:
    """Each text line of a page as (left, right, text), from pypdfium2's character boxes."""
    text_page = page.get_textpage()
    rows: dict[int, list[tuple[float, float, str]]] = {}
    for index in range(text_page.count_chars()):
        char = text_page.get_text_range(index, 1)
        if not char.strip() or char in ISOLATES:
            continue
        left, bottom, right, top = text_page.get_charbox(index)
        if right - left <= 0:
            continue
        x, y = ctypes.c_double(), ctypes.c_double()
        pdfium_c.FPDFText_GetCharOrigin(text_page, index, x, y)
        baseline = y.value
        rows.setdefault(round(baseline / 4), []).append((left, right, char))
    return [(min(box[0] for box in row), max(box[1] for box in row), "".join(box[2] for box in row))
            for _, row in sorted(rows.items(), reverse=True)]


def compact(text: str) -> str:
    """Text without white space and isolates, to compare with what a PDF gives back."""
    return re.sub(r"[\s\u200c\u200d\u2060" + ISOLATES + "]", "", text)


def similar(printed: str, written: str) -> bool:
    """Whether text read back from a PDF is `written`: exactly, or for Devanagari (whose conjuncts and vowel signs
    come back from the PDF as other code points, a limit of WeasyPrint's ToUnicode maps) nearly."""
    printed, written = compact(printed), compact(written)
    if printed == written:
        return True
    return bool(re.search("[\u0900-\u097F]", written)) and difflib.SequenceMatcher(None, printed, written).ratio() > 0.6


def contains(text: str, written: str) -> bool:
    """Whether `written` is in `text` read back from a PDF (nearly, for Devanagari: see similar)."""
    text, written = compact(text), compact(written)
    if written in text:
        return True
    size = len(written)
    return bool(re.search("[\u0900-\u097F]", written)) and any(
        similar(text[start:start + size], written) for start in range(0, max(1, len(text) - size + 1)))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_letter_runs_in_its_direction(built, language):
    """Every line of the body starts at the margin where the language starts its lines: right to left at the
    right margin (and not at the left), left to right at the left one; so does the salutation."""
    document = pypdfium2.PdfDocument(letter_pdf(built, language))
    page = document[0]
    left_margin, right_margin = 25 / 25.4 * 72, page.get_width() - 22 / 25.4 * 72
    lines = lines_of(page)
    salutation = compact(LETTERS[language]["salutation"])
    closing = compact(LETTERS[language]["closing"])
    first = next(index for index, line in enumerate(lines) if similar(line[2], salutation))
    last = next(index for index, line in enumerate(lines) if index > first and contains(closing, line[2]))
    body = [line for line in lines[first:last] if len(line[2]) >= 4]  # not a raised footnote call alone
    assert len(body) >= 3, body
    rtl = is_right_to_left(language)
    for left, right, text in body:
        at_start = abs(right - right_margin) < 6 if rtl else abs(left - left_margin) < 6
        assert at_start, (language, left, right, text, left_margin, right_margin)
    salutation_left, salutation_right, _ = lines[first]
    at_end = abs(salutation_left - left_margin) < 6 if rtl else abs(salutation_right - right_margin) < 6
    assert not at_end


@pytest.mark.parametrize("language", LANGUAGES)
def test_only_the_projects_fonts_are_embedded_and_every_glyph_is_real(built, language):
    reader = PdfReader(letter_pdf(built, language))
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            name = str(font["/BaseFont"]).split("+")[-1]
            assert name.startswith(SHIPPED_FAMILIES), name
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, name
        # every font is Identity-H: a text string is glyph IDs, four hex digits each; glyph 0 is .notdef
        content = page.get_contents().get_data().decode("latin-1")
        glyphs = [run[index:index + 4] for run in re.findall(r"<([0-9a-fA-F]+)>", content)
                  for index in range(0, len(run), 4)]
        assert glyphs and "0000" not in glyphs


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_url_and_the_date_are_printed_whole(built, language):
    document = pypdfium2.PdfDocument(letter_pdf(built, language))
    text = "".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    squashed = re.sub(r"[\s\u2011\u00ad" + ISOLATES + "]", "", text)
    assert URL in squashed
    date = long_date(datetime.date.fromisoformat(DATE), language)
    assert contains(squashed, date), date


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_cover_email_is_in_the_language(built, language):
    strings = yaml.safe_load((REPO / "styles/base/style.yaml").read_text(encoding="utf-8"))["strings"][language]
    path = next((built / f"official-{language.lower()}").glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    assert message["Subject"] == LETTERS[language]["subject"]
    assert LETTERS[language]["salutation"] in body
    assert strings["cover_thanks"] in body
    assert strings["cover_signatories"] in body
    assert "organisation" not in body or language in ("en", "fr")


def test_plurals_follow_cldr():
    from coalition.cover import Words

    class Campaign:  # only what Words reads
        class letterhead:
            strings = yaml.safe_load((REPO / "styles/base/style.yaml").read_text(encoding="utf-8"))["strings"]
            folders = (REPO / "styles/base",)

    russian = Words(Campaign, "ru")
    assert [russian.plural("organisations", count) for count in (1, 21, 22, 25, 111)] == [
        "1 организации", "21 организации", "22 организаций", "25 организаций", "111 организаций"]
    arabic = Words(Campaign, "ar")
    assert arabic.plural("organisations", 2) == "منظمتين" and arabic.plural("organisations", 5) == "5 منظمات"
    for language, strings in Campaign.letterhead.strings.items():
        for name, value in strings.items():
            if isinstance(value, dict):
                needed = {plural_category(language, count) for count in range(0, 200)}
                assert needed <= set(value), (language, name, needed - set(value))


def test_a_font_of_the_machines_in_a_pdf_stops_the_build(tmp_path, monkeypatch):
    """Without the CJK fallback and the glyph check, Chinese drawn in a machine's font stops the build."""
    # The build looks at the fonts WeasyPrint embedded. The machine's font is the test's own: a fontconfig file
    # adds a folder holding a copy of the CJK face, so the test does not depend on what this machine has
    # installed. Fontconfig reads its file once per process, hence the child process.
    write_project(tmp_path, ["en", "zh-Hans"])
    style = tmp_path / "styles/base/style.yaml"
    style.write_text("".join(line for line in style.read_text(encoding="utf-8").splitlines(True)
                             if "fonts/NotoSerifCJKsc-" not in line), encoding="utf-8")  # regular and bold
    import coalition.usecases as pipeline

    monkeypatch.setattr(pipeline, "check_glyphs", lambda *arguments: None)  # approving opens the campaign too
    approve_everything(tmp_path)
    machine_fonts = tmp_path / "machine-fonts"
    machine_fonts.mkdir()
    face = TTFont(REPO / "styles/base/fonts/NotoSerifCJKsc-Regular.woff2")
    face.flavor = None  # as a machine has it: HarfBuzz, which reads the machine's fonts, cannot read WOFF2
    face.save(machine_fonts / "NotoSerifCJKsc-Regular.otf")
    (tmp_path / "fonts.conf").write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f'<dir>{machine_fonts}</dir><cachedir>{tmp_path / "fontconfig-cache"}</cachedir></fontconfig>')
    child = (
        "import sys\n"
        "import coalition.usecases as pipeline\n"
        "from coalition.errors import DataError\n"
        "pipeline.check_glyphs = lambda *arguments: None\n"
        "root = __import__('pathlib').Path(sys.argv[1])\n"
        "for _ in range(2):  # and again, its PDFs now in the cache: a cached PDF is judged by its fonts too\n"
        "    try:\n"
        "        pipeline.build('every-language', root=root, out=root / 'out', jobs=1, cache=True)\n"
        "    except DataError as error:\n"
        "        print(error, end='\\n---\\n')\n"
        "    else:\n"
        "        print('built', end='\\n---\\n')\n")
    environment = {**os.environ, "FONTCONFIG_FILE": str(tmp_path / "fonts.conf")}
    ran = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True, text=True,
                         env=environment, timeout=300)
    assert ran.returncode == 0, ran.stderr
    first, second, _ = ran.stdout.split("---\n")
    for said in (first, second):
        assert "drew some text in Noto-Serif-CJK-SC, a font of this machine's that the style does not ship" in said
    assert not (tmp_path / "out" / "every-language").exists()


def test_review_emails_are_written_in_the_campaigns_first_language(cli, tmp_path):
    write_project(tmp_path, ["ru", "en"])
    result = cli("proof", "every-language", "--root", tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    strings = BASE["strings"]["ru"]
    review = next((tmp_path / "out").rglob("*.eml"))
    message = email.message_from_bytes(review.read_bytes(), policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    assert message["Subject"].startswith("На согласование: Дело Азимжана Аскарова")
    assert strings["review_how"] in body and strings["review_pending"] in body
    assert "английский" in body and "русский" in body  # the proofs' languages, named in Russian


def test_the_address_page_of_a_right_to_left_reader_runs_right_to_left(tmp_path):
    from coalition.usecases import build

    write_project(tmp_path, ["ar"])
    campaign = tmp_path / "letters/every-language/campaign.yaml"
    campaign.write_text(campaign.read_text(encoding="utf-8") + (
        "  - id: embassy\n    name: سفارة جمهورية قيرغيزستان\n    address: [\"شارع النيل 12\", \"القاهرة\"]\n"
        "    salutation: {ar: \"سعادة السفير،\"}\n    languages: [ar]\n    channel: post\n"), encoding="utf-8")
    approve_everything(tmp_path)
    build("every-language", root=tmp_path, out=tmp_path / "out", jobs=1, cache=False)
    page = pypdfium2.PdfDocument(next((tmp_path / "out").rglob("*-address-page.pdf")))[0]
    lines = [line for line in lines_of(page) if len(line[2]) > 4]
    window_right = (20 + 85) / 25.4 * 72
    address = [line for line in lines if any(part in line[2] for part in ("سفارة", "النيل", "القاهرة"))]
    assert len(address) == 3, lines
    assert all(abs(right - window_right) < 6 for _, right, _ in address), address


@pytest.mark.parametrize("language", ["zh-Hans", "ja"])
def test_bold_chinese_and_japanese_are_printed_in_the_bold_face(tmp_path, language):
    """The same characters, plain then bold: the bold ones carry clearly more ink (a regular face drawn for bold
    text would carry the same)."""
    from PIL import ImageStat

    from helpers import copy_project
    from letters_in_process import LetterPress

    press = LetterPress(copy_project(tmp_path / "project"), "coalition")
    result, problems = press.render("释放人权捍卫者 **释放人权捍卫者**\n", language)
    assert not problems.found and not result.layout
    page = pypdfium2.PdfDocument(result.pdf)[0]
    scale = 4
    image = page.render(scale=scale, grayscale=True).to_pil()
    text_page = page.get_textpage()
    ink: list[float] = []
    for index in range(text_page.count_chars()):
        if text_page.get_text_range(index, 1) == "释":
            left, bottom, right, top = text_page.get_charbox(index)
            box = image.crop((int(left * scale), int((page.get_height() - top) * scale),
                              int(right * scale), int((page.get_height() - bottom) * scale)))
            ink.append(255 - ImageStat.Stat(box).mean[0])
    plain, bold = ink
    assert bold > 1.25 * plain, (plain, bold)
