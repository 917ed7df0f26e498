"""The other campaigns from the seeds build with no code change, and say what the seeds say."""

from __future__ import annotations

import email
import json
from email import policy

import pytest

from helpers import flat, frozen_project, page_texts


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from click.testing import CliRunner

    from coalition.cli import main

    out = tmp_path_factory.mktemp("campaigns")
    for campaign in ("ua-61-20", "june-2010"):
        result = CliRunner().invoke(main, ["build", campaign, "--root", str(frozen_project()), "--out", str(out)])
        assert result.exit_code == 0, result.output
    return out


def test_ua_61_20_to_the_president_by_email_and_the_embassy_by_post_only(built):
    manifest = json.loads((built / "ua-61-20" / "manifest.json").read_text())
    kinds = {(entry["recipient"], entry["kind"]) for entry in manifest["files"]}
    assert ("president", "cover-email") in kinds and ("ambassador", "address-page") in kinds
    assert ("ambassador", "cover-email") not in kinds
    text = flat(" ".join(page_texts(built / "ua-61-20" / "ambassador" / "ua-61-20-ambassador-en.pdf")))
    assert "Ambassador Bolot Isakovich Otunbaev" in text and "2360 Massachusetts Avenue NW" in text
    assert "I am writing to you concerning human rights defender Azimjan Askarov" in text
    assert "URGENT ACTION" in text.upper()


def test_june_2010_two_officials_in_russian_and_english_with_a_copy_to_the_interim_president(built):
    folder = built / "june-2010"
    manifest = json.loads((folder / "manifest.json").read_text())
    letters = {(entry["recipient"], entry["language"]) for entry in manifest["files"] if entry["kind"] == "letter"}
    assert letters == {(recipient, language) for recipient in ("minister-internal-affairs", "deputy-head")
                       for language in ("en", "ru")}
    eml = folder / "minister-internal-affairs" / "june-2010-minister-internal-affairs.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(message["To"]) == "pressa@mail.mvd.kg" and str(message["Cc"]) == "admin@kyrgyz-el.kg"
    russian = flat(" ".join(page_texts(folder / "minister-internal-affairs" / "june-2010-minister-internal-affairs-ru.pdf")))
    assert "Болотбек Шерниязов" in russian and "18 июня 2010 г." in russian
    assert "Копия: Роза Отунбаева, Президент Временного правительства" in russian
    english = flat(" ".join(page_texts(folder / "deputy-head" / "june-2010-deputy-head-en.pdf")))
    assert "Dear Deputy Head of Interim Government," in english
    assert "immediately and unconditionally release human rights defender Azimzhan Askarov" in english
