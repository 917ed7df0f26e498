"""The proof covers everything printed (issue 12): the template's and the strings' text, the salutations, the
recipients; a change makes a new proof ID, shows in the change report and stops the final build until approved.
A proof ends with an annex page listing the recipients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from helpers import edit, flat, page_texts

CAMPAIGN = Path("letters/march-2020")
SIGNATORIES = ("amnesty-international", "civil-rights-defenders", "committee-to-protect-journalists",
               "front-line-defenders", "helsinki-foundation-for-human-rights", "human-rights-watch", "fidh",
               "international-partnership-for-human-rights", "omct")
POSTSCRIPT = "P.S. The signatories withdraw all of the above requests."


def proof_ids(root: Path, campaign: str = "march-2020") -> dict[str, str]:
    from coalition.usecases import open_campaign

    return open_campaign(root, campaign, final=False).proof_ids


def change_report(cli, root: Path, out: Path, old: str, new: str) -> str:
    """Make the proofs and return the plain-text change report from `old` to `new`."""
    result = cli("proof", "march-2020", "--root", root, "--out", out)
    assert result.exit_code == 0, result.output
    return (out / "march-2020.proof" / "changes" / f"{old}-to-{new}.txt").read_text(encoding="utf-8")


def approve_all(cli, root: Path, languages: tuple[str, ...] = ("en", "ru", "ky"),
                organisations: tuple[str, ...] = SIGNATORIES) -> None:
    """Every organisation in `organisations` approves the current proof of each language in `languages`."""
    current = proof_ids(root)
    for language in languages:
        for organisation in organisations:
            result = cli("approve", "march-2020", organisation, current[language], "--by", "A. Person", "--root", root)
            assert result.exit_code == 0, result.output


def test_a_sentence_added_to_the_template_needs_a_new_approval(cli, project, tmp_path):
    before = proof_ids(project)
    edit(project / "styles/coalition/letter.html.j2", "  </section>\n", f"  </section>\n  <p>{POSTSCRIPT}</p>\n")
    after = proof_ids(project)
    assert all(after[language] != before[language] for language in before)
    report = change_report(cli, project, tmp_path / "out", before["en"], after["en"])
    assert "letter to Mr. Sooronbay Jeenbekov (president):" in report
    assert "Sincerely,{+ | " + POSTSCRIPT + "+}" in report
    assert "paragraph 1" not in report  # the body did not change
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert f"omct has not approved the current en proof {after['en']}" in result.stderr
    assert not (tmp_path / "out" / "march-2020").exists()
    approve_all(cli, project)
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    final = flat(" ".join(page_texts(tmp_path / "out" / "march-2020" / "president" / "march-2020-president-en.pdf")))
    assert POSTSCRIPT in final
    manifest = json.loads((tmp_path / "out" / "march-2020" / "manifest.json").read_text())
    assert manifest["proofs"] == after


def test_a_changed_salutation_needs_a_new_approval(cli, project, tmp_path):
    before = proof_ids(project)
    edit(project / CAMPAIGN / "campaign.yaml", "en: Your Excellency,", "en: Dear President,")
    after = proof_ids(project)
    assert after["en"] != before["en"] and after["ru"] == before["ru"] and after["ky"] == before["ky"]
    report = change_report(cli, project, tmp_path / "out", before["en"], after["en"])
    assert "| [-Your-]{+Dear+} [-Excellency,-]{+President,+} | […] |" in report
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1 and f"has not approved the current en proof {after['en']}" in result.stderr
    approve_all(cli, project, ("en",))
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_a_changed_recipient_address_or_copy_address_changes_the_proof_id(cli, project, tmp_path):
    before = proof_ids(project)
    edit(project / CAMPAIGN / "campaign.yaml", "en: 205 Chuy Prospect", "en: 207 Chuy Prospect")
    moved = proof_ids(project)
    assert moved["en"] != before["en"] and moved["ru"] == before["ru"]
    report = change_report(cli, project, tmp_path / "out", before["en"], moved["en"])
    assert "[-205-]{+207+}" in report
    edit(project / CAMPAIGN / "campaign.yaml", "      - oip@adm.gov.kg\n",
         "      - oip@adm.gov.kg\n    cc: [press@adm.gov.kg]\n")
    copied = proof_ids(project)
    assert all(copied[language] != moved[language] for language in ("en", "ru", "ky"))


def test_a_changed_style_string_or_stylesheet_text_changes_the_proof_id(project):
    before = proof_ids(project)
    edit(project / "styles/base/style.yaml", 'via_email: "По электронной почте:"', 'via_email: "Электронной почтой:"')
    changed = proof_ids(project)
    assert changed["ru"] != before["ru"] and changed["en"] == before["en"]
    edit(project / "styles/coalition/letter.css", 'content: "  ·  "', 'content: "  ·  SIGNED  ·  "')
    assert all(value != changed[language] for language, value in proof_ids(project).items())


@pytest.mark.parametrize("style", ["coalition", "urgent-action"])
def test_a_late_co_signer_keeps_the_proof_id_with_either_letterhead(project, style):
    edit(project / CAMPAIGN / "campaign.yaml", "style: coalition", f"style: {style}")
    before = proof_ids(project)
    edit(project / CAMPAIGN / "campaign.yaml", "  - omct\n", "")
    assert proof_ids(project) == before


def test_a_proof_history_file_from_before_keeps_being_read(project):
    from coalition.load import load_campaign
    from coalition.errors import Problems
    from coalition.records.proofs import read_proof

    campaign = load_campaign(project, "march-2020", Problems(project))
    entry = read_proof(campaign, "en-9fd7114396")  # recorded before proofs covered the whole printed letter
    assert entry is not None and entry[0].frames == () and entry[0].styled == ""
    current = read_proof(campaign, proof_ids(project)["en"])
    assert current is not None and any(label.startswith("letter to ") for label, _ in current[0].frames)


def test_the_proof_ends_with_an_annex_listing_the_recipients(cli, project, tmp_path):
    result = cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    ids = proof_ids(project)
    folder = tmp_path / "out" / "march-2020.proof"
    annex = flat(PdfReader(folder / f"march-2020-proof-{ids['en']}.pdf").pages[-1].extract_text())
    assert annex.index("Recipients of this letter") < annex.index("Mr. Sooronbay Jeenbekov")
    for text in ("President of Kyrgyzstan", "Via email:", "pisma@mail.gov.kg", "oip@adm.gov.kg",
                 "Languages: English, Russian, and Kyrgyz", "Ambassador Bolot Isakovich Otunbaev", "By post",
                 "2360 Massachusetts Avenue NW", "Washington, DC 20008", "Languages: English and Russian", ids["en"]):
        assert text in annex, text
    assert "Your Excellency" not in annex  # a page of its own: the letter ended on the page before
    russian = flat(PdfReader(folder / f"march-2020-proof-{ids['ru']}.pdf").pages[-1].extract_text())
    assert "Адресаты этого письма" in russian and "Г-н Сооронбай Жээнбеков" in russian and "Почтой" in russian
    kyrgyz = flat(PdfReader(folder / f"march-2020-proof-{ids['ky']}.pdf").pages[-1].extract_text())
    assert "Бул каттын алуучулары" in kyrgyz and "Ambassador Bolot" not in kyrgyz  # only who reads Kyrgyz


def test_every_language_has_the_annex_strings():
    from coalition.yamlfile import parse_yaml
    from coalition.errors import Problems
    from helpers import REPO

    path = REPO / "styles" / "base" / "style.yaml"
    strings = parse_yaml(path.read_text(encoding="utf-8"), path, Problems(REPO)).data["strings"]
    assert len(strings) >= 20
    for language, values in strings.items():
        for key in ("proof_recipients", "by_post", "letter_languages"):
            assert values.get(key), f"{language} has no {key}"


def test_the_annex_of_an_arabic_proof_runs_right_to_left(cli, tmp_path):
    import pypdfium2

    from languages.project import approve_everything, write_project

    root = tmp_path / "project"
    write_project(root, ["ar", "en"])
    approve_everything(root)
    result = cli("proof", "every-language", "--root", root, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    [pdf] = (tmp_path / "out" / "every-language.proof").glob("every-language-proof-ar-*.pdf")
    document = pypdfium2.PdfDocument(pdf)
    page = document[len(document) - 1]
    width = page.get_width()
    text = page.get_textpage()
    heading = "إليها هذه الرسالة"  # (pdfium extracts the fatha of المرسَل out of place)
    content = text.get_text_range()
    assert heading in content and "office@president.example.org" in content
    start = content.rindex("\n", 0, content.index(heading)) + 1  # the heading's whole line
    end = content.index("\r", start)
    boxes = [text.get_charbox(index) for index in range(start, end) if not content[index].isspace()]
    right = max(box[2] for box in boxes)
    left = min(box[0] for box in boxes)
    assert right > width * 0.8 and left > width * 0.4  # set from the right margin, not the left


def test_a_letter_template_without_the_annex_is_refused(cli, project):
    edit(project / "styles/coalition/letter.html.j2", '  {% include "proof-annex.html.j2" %}\n', "")
    result = cli("check", "march-2020", "--root", project)
    assert result.exit_code == 1
    assert ("styles/coalition/letter.html.j2: the letter template does not include proof-annex.html.j2, so proofs "
            "would not list the recipients") in result.stderr
