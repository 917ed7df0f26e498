"""The march-2020 letter read back from its PDF: text, footnotes on their pages, layout, metadata, fonts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from helpers import FIXTURE, flat, page_texts, SEEDS, squash

LETTER = FIXTURE / "letters" / "march-2020" / "letter.en.md"
SEED = next(SEEDS.glob("001_*.txt"))
ORGANISATIONS = [
    "Amnesty International", "Civil Rights Defenders", "Committee to Protect Journalists", "Front Line Defenders",
    "Helsinki Foundation for Human Rights", "Human Rights Watch",
    "International Federation for Human Rights, within the framework of the Observatory for the Protection of "
    "Human Rights Defenders",
    "International Partnership for Human Rights",
    "World Organisation Against Torture (OMCT), within the framework of the Observatory for the Protection of "
    "Human Rights Defenders",
]
FOOTNOTES = [
    "Committee on Economic, Social and Cultural Rights, General Comment No. 14 on the right to health, para. 34; "
    "UN Standard Minimum Rules for the Treatment of Prisoners (Nelson Mandela Rules), Resolution adopted by the "
    "General Assembly on 17 December 2015, A/RES/70/175: https://www.un.org/ga/search/viewm_doc.asp?symbol=A/RES/70/175",
    "See statement of March 25, https://www.ohchr.org/Documents/HRBodies/OPCAT/AdviceStatePartiesCoronavirusPandemic2020.pdf",
    "Urgent action needed to prevent COVID-19 “rampaging through places of detention” – 25 March 2020: "
    "https://www.ohchr.org/EN/NewsEvents/Pages/DisplayNews.aspx?NewsID=25745&LangID=E",
]


def markdown_paragraphs() -> list[str]:
    """The body paragraphs of letter.en.md, footnote definitions left out."""
    blocks = LETTER.read_text(encoding="utf-8").split("\n\n")
    return [block.strip() for block in blocks if block.strip() and not block.startswith("[^")]


def seed_body() -> str:
    """The seed letter's body, between the salutation and the closing, its footnote block and calls removed."""
    text = SEED.read_text(encoding="utf-8").replace("\xa0", " ")
    body = text[text.index("Your Excellency,") + len("Your Excellency,"): text.index("Sincerely,")]
    footnotes = body[body.index("\n1 Committee"): body.index("prison populations, including")]
    body = body.replace(footnotes, " ")
    body = body.replace("care.1", "care.[^1]").replace("Torture2,", "Torture[^2],").replace("Bachelet,3", "Bachelet,[^3]")
    return flat(body.replace("\u2010", "-"))


@pytest.fixture(scope="module")
def pdf(march_build: Path) -> Path:
    return march_build / "president" / "march-2020-president-en.pdf"


def test_markdown_is_the_seed_word_for_word():
    assert flat(" ".join(markdown_paragraphs())) == seed_body()


def test_every_paragraph_of_the_seed_is_in_the_pdf(pdf):
    text = flat(" ".join(page_texts(pdf)))
    paragraphs = markdown_paragraphs()
    assert len(paragraphs) == 10
    for paragraph in paragraphs:
        for piece in re.split(r"\[\^\d\]", paragraph):  # the footnote call is a superscript number in the PDF
            assert flat(piece) in text


def test_address_subject_date_and_salutation_open_the_letter(pdf):
    first = flat(page_texts(pdf)[0])
    expected = ("Mr. Sooronbay Jeenbekov President of Kyrgyzstan Presidential administration 205 Chuy Prospect "
                "Bishkek, Kyrgyzstan Via email: pisma@mail.gov.kg, oip@adm.gov.kg RE: Case of Azimjon Askarov "
                "Brussels, 31 March 2020 Your Excellency,")
    assert expected in first


def test_each_footnote_is_on_the_page_of_its_call_and_numbered_once(pdf):
    pages = page_texts(pdf)
    calls = ["palliative health care.", "Subcommittee on Prevention of Torture", "Michelle Bachelet,"]
    for number, (call, note) in enumerate(zip(calls, FOOTNOTES), start=1):
        call_page = next(index for index, text in enumerate(pages) if call in flat(text))
        note_pages = [index for index, text in enumerate(pages) if squash(note) in squash(text)]
        assert note_pages == [call_page], f"footnote {number}"
        assert len(re.findall(rf"(?m)^{number}\.\s", pages[call_page])) == 1


def test_signature_block_lists_the_nine_organisations_in_order_on_one_page(pdf):
    pages = [flat(text) for text in page_texts(pdf)]
    signed = [text for text in pages if "Sincerely," in text]
    assert len(signed) == 1
    after = signed[0][signed[0].index("Sincerely,"):]
    positions = [after.index(name) for name in ORGANISATIONS]
    assert positions == sorted(positions)


def test_two_a4_pages_numbered_from_page_two(pdf):
    reader = PdfReader(pdf)
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    assert page_texts(pdf)[1].rstrip().endswith("\n2")
    assert not re.search(r"(?m)^1$", page_texts(pdf)[0])


def test_metadata_names_the_letter_the_coalition_and_the_language(pdf):
    reader = PdfReader(pdf)
    assert reader.metadata.title == "RE: Case of Azimjon Askarov"
    for name in ("Amnesty International", "Human Rights Watch", "World Organisation Against Torture (OMCT)"):
        assert name in reader.metadata.author
    assert reader.trailer["/Root"]["/Lang"] == "en"
    assert reader.metadata["/CreationDate"] == "D:20200331"


def test_fonts_are_embedded_letter_serif(pdf):
    reader = PdfReader(pdf)
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = "/FontFile2" in descriptor or "/FontFile3" in descriptor
    assert fonts and all(fonts.values()), fonts
    assert all("Letter-Serif" in name for name in fonts), fonts  # the base style's family (PT Serif, Noto)


def test_links_point_to_the_cited_documents(pdf):
    reader = PdfReader(pdf)
    uris = {annotation.get_object()["/A"]["/URI"] for page in reader.pages
            for annotation in page.get("/Annots", []) if "/A" in annotation.get_object()}
    assert "https://www.un.org/ga/search/viewm_doc.asp?symbol=A/RES/70/175" in uris
    assert "https://www.ohchr.org/EN/NewsEvents/Pages/DisplayNews.aspx?NewsID=25745&LangID=E" in uris


def test_without_harfbuzz_subset_the_build_succeeds_with_one_warning(project, cli, monkeypatch, tmp_path):
    import weasyprint.pdf.fonts

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)  # as on a system without the library
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out", "--no-cache", "--jobs", "1")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    harfbuzz = [line for line in warnings if "libharfbuzz-subset" in line]
    assert len(harfbuzz) == 1 and "to get the speed back: 'apt install libharfbuzz-subset0'" in harfbuzz[0]
    assert not any("fontTools" in line for line in result.output.splitlines() if line not in harfbuzz)


def test_a_build_from_a_threaded_process_renders_in_clean_workers_with_the_same_bytes(project, tmp_path):
    """A web server runs builds beside other threads: its workers come from a fork server, and agree byte for
    byte with the forked workers of the command line."""
    import threading

    from coalition.usecases import build

    serial = build("march-2020", root=project, out=tmp_path / "forked", jobs=2, cache=False).folder
    stop = threading.Event()
    bystander = threading.Thread(target=stop.wait)
    bystander.start()
    try:
        threaded = build("march-2020", root=project, out=tmp_path / "threaded", jobs=2, cache=False).folder
    finally:
        stop.set()
        bystander.join()
    files = sorted(path.relative_to(serial) for path in serial.rglob("*") if path.is_file())
    assert files and all((serial / name).read_bytes() == (threaded / name).read_bytes() for name in files)
