"""Bundles read back: the .eml parsed with `email`, zips opened, the manifest checked against the files."""

from __future__ import annotations

import email
import hashlib
import json
import zipfile
from email import policy
from pathlib import Path

import pytest

from coalition.bundle import make_bundles
from coalition.compose import compose_letters
from coalition.errors import Problems
from coalition.load import load_campaign
from coalition.render import render_letters
from helpers import flat, frozen_project, line_of, page_texts


@pytest.fixture(scope="module")
def manifest(march_build: Path) -> dict:
    return json.loads((march_build / "manifest.json").read_text(encoding="utf-8"))


def files_of(manifest: dict, **where) -> list[dict]:
    return [entry for entry in manifest["files"] if all(entry[key] == value for key, value in where.items())]


def test_every_recipient_gets_a_pdf_in_each_of_its_languages(manifest):
    letters = {(entry["recipient"], entry["language"]) for entry in files_of(manifest, kind="letter")}
    assert letters == {("president", "en"), ("president", "ru"), ("president", "ky"),
                       ("embassy-washington", "en"), ("embassy-washington", "ru")}


def test_the_cover_email_is_a_draft_to_the_right_people_with_the_manifest_letters_attached(march_build, manifest):
    [entry] = files_of(manifest, kind="cover-email")
    assert entry["recipient"] == "president"
    message = email.message_from_bytes((march_build / entry["path"]).read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == "pisma@mail.gov.kg"
    assert [address.addr_spec for address in message["To"].addresses] == ["pisma@mail.gov.kg", "oip@adm.gov.kg"]
    assert message["Cc"] is None
    assert message["From"].addresses[0].addr_spec == "coordinator@example.org"
    assert message["Subject"] == "RE: Case of Azimjon Askarov"
    assert message["X-Unsent"] == "1" and message["Date"] is None
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("Your Excellency,\n") and "joint letter of 31 March 2020" in body
    attached = {part.get_filename(): hashlib.sha256(part.get_content()).hexdigest()
                for part in message.iter_attachments()}
    expected = {Path(entry["path"]).name: entry["sha256"] for entry in files_of(manifest, recipient="president",
                                                                               kind="letter")}
    assert attached == expected


def test_a_post_only_recipient_gets_a_print_bundle_with_an_address_page(march_build, manifest):
    kinds = sorted(entry["kind"] for entry in files_of(manifest, recipient="embassy-washington"))
    assert kinds == ["address-page", "letter", "letter", "zip"]
    [page] = files_of(manifest, kind="address-page")
    text = flat(page_texts(march_build / page["path"])[0])
    assert ("Ambassador Bolot Isakovich Otunbaev Embassy of the Kyrgyz Republic 2360 Massachusetts Avenue NW "
            "Washington, DC 20008 USA") in text
    assert "march-2020-embassy-washington-ru.pdf" in text


def test_each_recipient_zip_holds_its_folder(march_build, manifest):
    for recipient in ("president", "embassy-washington"):
        [archive] = files_of(manifest, kind="zip", recipient=recipient)
        with zipfile.ZipFile(march_build / archive["path"]) as opened:
            inside = {name: hashlib.sha256(opened.read(name)).hexdigest() for name in opened.namelist()}
        expected = {entry["path"]: entry["sha256"] for entry in files_of(manifest, recipient=recipient)
                    if entry["kind"] != "zip"}
        assert inside == expected


def test_the_russian_letter_has_the_localized_date_and_cyrillic_text(march_build):
    text = flat(" ".join(page_texts(march_build / "president" / "march-2020-president-ru.pdf")))
    assert "Брюссель, 31 марта 2020 г." in text
    assert "Ваше Превосходительство!" in text
    assert "Мы, международные организации, защищающие права человека и свободу прессы" in text
    assert "Международная федерация за права человека (FIDH), в рамках Обсерватории по защите правозащитников" in text
    assert "С уважением," in text


def test_the_kyrgyz_letter_is_kyrgyz(march_build):
    text = flat(" ".join(page_texts(march_build / "president" / "march-2020-president-ky.pdf")))
    assert "Урматтуу Президент мырза!" in text and "Урматтоо менен," in text
    assert any(letter in text for letter in "ңөү")


def test_attachments_over_the_limit_are_refused_before_anything_is_written():
    problems = Problems(frozen_project())
    campaign = load_campaign(frozen_project(), "march-2020", problems)
    rendered, _ = render_letters(campaign, compose_letters(campaign, problems), problems)
    bundles = make_bundles(campaign, rendered, problems, attachment_limit=50_000)
    assert [bundle.recipient.id for bundle in bundles] == ["embassy-washington"]  # post: nothing attached
    [problem] = problems.found
    line = line_of(frozen_project() / "letters" / "march-2020" / "campaign.yaml", "- id: president")
    assert str(problem).startswith(f"letters/march-2020/campaign.yaml:{line}: recipient 'president': the letters "
                                   "attached come to")
    assert "over the 0.05 MB that official mail servers accept once encoded" in str(problem)
