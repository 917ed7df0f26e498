"""--drop-pending per language (issue 13): an organisation that approved some languages signs those letters, and
is left off only the others; the build's report, its manifest and the send dry run say who was left off which."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import edit, flat, page_texts

CAMPAIGN = Path("letters/march-2020")
OTHERS = ("amnesty-international", "civil-rights-defenders", "committee-to-protect-journalists",
          "front-line-defenders", "helsinki-foundation-for-human-rights", "human-rights-watch", "fidh",
          "international-partnership-for-human-rights")


def russian_changed_and_approved_by_all_but_omct(cli, project: Path, out: Path) -> str:
    """Edit the Russian letter only, make the proofs and have every organisation but OMCT approve the new one."""
    from coalition.usecases import open_campaign

    edit(project / CAMPAIGN / "letter.ru.md", "сейчас наступило очень трудное время",
         "сейчас наступило крайне трудное время")
    assert cli("proof", "march-2020", "--root", project, "--out", out).exit_code == 0
    russian = open_campaign(project, "march-2020", final=False).proof_ids["ru"]
    for organisation in OTHERS:
        result = cli("approve", "march-2020", organisation, russian, "--by", "A. Person", "--root", project)
        assert result.exit_code == 0, result.output
    return russian


def test_an_organisation_that_approved_english_but_not_russian_signs_only_the_english(cli, project, tmp_path):
    out = tmp_path / "out"
    russian = russian_changed_and_approved_by_all_but_omct(cli, project, out)
    refused = cli("build", "march-2020", "--root", project, "--out", out)
    assert refused.exit_code == 1 and f"omct has not approved the current ru proof {russian}" in refused.stderr
    result = cli("build", "march-2020", "--root", project, "--out", out, "--drop-pending")
    assert result.exit_code == 0, result.output
    assert (f"omct has not approved the current ru proof {russian} (it approved ru-608337855e, an earlier text); "
            "left off the ru letters") in result.stderr
    assert "left off the en letters" not in result.stderr and "left off the ky letters" not in result.stderr
    folder = out / "march-2020"
    english = flat(" ".join(page_texts(folder / "president" / "march-2020-president-en.pdf")))
    assert "World Organisation Against Torture (OMCT)" in english and "International Partnership" in english
    russian_text = flat(" ".join(page_texts(folder / "president" / "march-2020-president-ru.pdf")))
    assert "крайне трудное время" in russian_text
    assert "Всемирная организация против пыток" not in russian_text and "ВОПП" not in russian_text
    assert "Международное партнерство" in russian_text or "International Partnership" in russian_text
    kyrgyz = flat(" ".join(page_texts(folder / "president" / "march-2020-president-ky.pdf")))
    assert "World Organisation Against Torture (OMCT)" in kyrgyz  # OMCT approved the Kyrgyz text: it signs it
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["dropped"] == {"ru": ["omct"]}
    assert "omct" in manifest["signatories"]
    assert "omct" in manifest["signatories_by_language"]["en"]
    assert "omct" not in manifest["signatories_by_language"]["ru"]
    assert manifest["signatories_by_language"]["ru"] == list(OTHERS)
    dry = cli("send", "march-2020", "--root", project, "--out", out)
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "left off (had not approved the current proof of those languages): omct (ru)" in dry.output
    status = cli("status", "march-2020", "--root", project, "--out", out)
    assert "changed since the build" not in status.output and "have approved the current text now" not in status.output


def test_the_cover_counts_the_organisations_of_its_own_language(cli, project, tmp_path):
    import email
    from email import policy

    out = tmp_path / "out"
    russian_changed_and_approved_by_all_but_omct(cli, project, out)
    # the cover e-mail is written in the recipient's first language
    edit(project / CAMPAIGN / "campaign.yaml", "    languages: [en, ru, ky]\n", "    languages: [ru, en, ky]\n")
    result = cli("build", "march-2020", "--root", project, "--out", out, "--drop-pending")
    assert result.exit_code == 0, result.output
    message = email.message_from_bytes((out / "march-2020" / "president" / "march-2020-president.eml").read_bytes(),
                                       policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    assert "Всемирная организация против пыток" not in body and "Amnesty International" in body
