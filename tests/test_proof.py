"""Proofs and sign-off: stable proof IDs, watermarks, change reports, review e-mails, approvals gating the build."""

from __future__ import annotations

import email
import json
import subprocess
import sys
from email import policy
from pathlib import Path

from pypdf import PdfReader

from helpers import edit, flat, frozen_project, page_texts, REPO

LETTER = Path("letters/march-2020/letter.en.md")
PROOF_ID_CODE = ("from pathlib import Path; from coalition.usecases import open_campaign; "
                 "print(open_campaign(Path(%r), 'march-2020', final=False).proofs['en'].id)")


def proof_id(root: Path, language: str = "en") -> str:
    from coalition.usecases import open_campaign

    return open_campaign(root, "march-2020", final=False).proofs[language].id


def test_proof_ids_are_the_same_in_another_process_and_change_with_one_word(project):
    other = subprocess.run([sys.executable, "-c", PROOF_ID_CODE % str(project)], cwd=REPO, capture_output=True,
                           text=True, env={"TZ": "Asia/Bishkek", "LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    assert other.returncode == 0, other.stderr
    before = proof_id(project)
    assert other.stdout.strip() == before
    edit(project / LETTER, "a very challenging time", "a very difficult time")
    assert proof_id(project) != before


def test_a_late_signatory_does_not_change_the_proof_id(project):
    before = proof_id(project)
    edit(project / "letters/march-2020/campaign.yaml", "  - omct\n", "")
    assert proof_id(project) == before


def test_proofs_are_watermarked_and_footed_with_their_id(cli, project, tmp_path):
    result = cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    identifier = proof_id(project)
    pdf = tmp_path / "out" / "march-2020.proof" / f"march-2020-proof-{identifier}.pdf"
    pages = page_texts(pdf)
    for text in pages:
        assert "PROOF — not for sending" in text and identifier in text
    assert "World Organisation Against Torture (OMCT)" in flat(" ".join(pages))
    russian = page_texts(next((tmp_path / "out" / "march-2020.proof").glob("march-2020-proof-ru-*.pdf")))
    assert "ПРОЕКТ — не для отправки" in russian[0]


def test_the_final_letters_carry_no_watermark_and_the_manifest_names_the_approved_proofs(march_build):
    text = " ".join(page_texts(march_build / "president" / "march-2020-president-en.pdf"))
    assert "PROOF" not in text
    manifest = json.loads((march_build / "manifest.json").read_text())
    assert set(manifest["proofs"]) == {"en", "ru", "ky"} and manifest["dropped"] == {}
    assert manifest["proofs"]["en"] == proof_id(frozen_project())


def test_a_stale_approval_stops_the_final_build_naming_the_organisation(cli, project, tmp_path):
    edit(project / LETTER, "a very challenging time", "a very difficult time")
    assert cli("translated", "march-2020", "ru", "--root", project).exit_code == 0
    assert cli("translated", "march-2020", "ky", "--root", project).exit_code == 0
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1
    new = proof_id(project)
    assert f"omct has not approved the current en proof {new} (it approved en-" in result.stderr
    assert "--drop-pending" in result.stderr
    assert not (tmp_path / "out" / "march-2020").exists()


def test_drop_pending_leaves_the_organisation_off_the_letter(cli, project, tmp_path):
    edit(project / LETTER, "a very challenging time", "a very difficult time")
    for language in ("ru", "ky"):
        cli("translated", "march-2020", language, "--root", project)
    assert cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out").exit_code == 0
    for language in ("en", "ru", "ky"):
        identifier = proof_id(project, language)
        for signatory in ("amnesty-international", "civil-rights-defenders", "committee-to-protect-journalists",
                          "front-line-defenders", "helsinki-foundation-for-human-rights", "human-rights-watch",
                          "fidh", "international-partnership-for-human-rights"):
            assert cli("approve", "march-2020", signatory, identifier, "--by", "A. Person", "--root",
                       project).exit_code == 0
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out", "--drop-pending")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "omct has not approved" in result.stderr
    folder = tmp_path / "out" / "march-2020"
    text = flat(" ".join(page_texts(folder / "president" / "march-2020-president-en.pdf")))
    assert "International Partnership for Human Rights" in text
    assert "World Organisation Against Torture" not in text
    assert "a very difficult time" in text
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["dropped"] == {"en": ["omct"]}  # only the English text changed: it still signs the others
    russian = flat(" ".join(page_texts(folder / "president" / "march-2020-president-ru.pdf")))
    assert "Всемирная организация против пыток (ВОПП)" in russian


def test_the_change_report_marks_the_edited_paragraph_and_review_emails_carry_proofs(cli, project, tmp_path):
    old = proof_id(project)
    edit(project / LETTER, "a very challenging time", "a very difficult time")
    result = cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    new = proof_id(project)
    folder = tmp_path / "out" / "march-2020.proof"
    report = (folder / "changes" / f"{old}-to-{new}.html").read_text()
    assert "<h2>paragraph 1</h2>" in report
    assert "<del>challenging</del><ins>difficult</ins>" in report
    assert "paragraph 2" not in report
    text = (folder / "changes" / f"{old}-to-{new}.txt").read_text()
    assert "[-challenging-]{+difficult+}" in text
    message = email.message_from_bytes((folder / "review" / "omct.eml").read_bytes(), policy=policy.default)
    assert str(message["To"]) == "omct@example.org" and message["X-Unsent"] == "1"
    names = {part.get_filename() for part in message.iter_attachments()}
    assert f"march-2020-proof-{new}.pdf" in names and f"{old}-to-{new}.html" in names
    assert f"changed since the proof you approved, {old}" in message.get_body(("plain",)).get_content()
    # the history outlives out/: the proof is kept under the campaign folder
    assert (project / "letters" / "march-2020" / "proofs" / f"{new}.json").is_file()


def test_approving_an_unknown_proof_or_organisation_is_refused(cli, project):
    result = cli("approve", "march-2020", "omct", "en-0000000000", "--by", "X", "--root", project)
    assert result.exit_code == 1 and "'en-0000000000' is not a proof of march-2020" in result.stderr
    result = cli("approve", "march-2020", "omtc", proof_id(project), "--by", "X", "--root", project)
    assert result.exit_code == 1 and "did you mean 'omct'?" in result.stderr


def test_the_watermark_hides_no_text(march_build, project, tmp_path, cli):
    """Every sentence of the final letter is still extracted from the proof."""
    result = cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 0
    proof = next((tmp_path / "out" / "march-2020.proof").glob("march-2020-proof-en-*.pdf"))
    final = flat(" ".join(page_texts(march_build / "president" / "march-2020-president-en.pdf")))
    proofed = flat(" ".join(page_texts(proof))).replace("PROOF — not for sending", " ")
    for sentence in final.split(". ")[:40]:
        assert sentence.split(" 1 ")[0][:60] in proofed
    assert len(PdfReader(proof).pages) == 3  # the letter's two pages, and the annex listing the recipients
