"""A project with one short real letter in every language (tests/languages/letters.yaml), for the language test
and for dev/gallery.py: the shipped styles, one signatory, one e-mail recipient per language, all approved."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from coalition.errors import Problems

REPO = Path(__file__).resolve().parents[2]
LETTERS = yaml.safe_load((Path(__file__).parent / "letters.yaml").read_text(encoding="utf-8"))
URL = "https://www.un.org/ga/search/viewm_doc.asp?symbol=A/RES/70/175"
DATE = "2020-03-31"


def quoted(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_project(root: Path, languages: list[str] | None = None, style: str = "coalition") -> None:
    """A project with one campaign in every language (or those given), one e-mail recipient per language, one
    signatory."""
    languages = languages or list(LETTERS)
    shutil.copytree(REPO / "styles", root / "styles")
    (root / "signatories").mkdir(parents=True)
    shutil.copy(REPO / "signatories" / "amnesty-international.yaml", root / "signatories")
    folder = root / "letters" / "every-language"
    folder.mkdir(parents=True)
    (root / "letters" / "references.yaml").write_text(
        "references:\n  mandela-rules:\n    title: \"Nelson Mandela Rules, A/RES/70/175\"\n"
        f"    url: {URL}\n", encoding="utf-8")
    lines = ["subject:", *(f"  {language}: {quoted(LETTERS[language]['subject'])}" for language in languages),
             "place:", *(f"  {language}: {quoted(LETTERS[language]['place'])}" for language in languages),
             f"date: {DATE}", f"style: {style}", f"languages: [{', '.join(languages)}]",
             "closing:", *(f"  {language}: {quoted(LETTERS[language]['closing'])}" for language in languages),
             "signatories: [amnesty-international]",
             "sender: {name: Coalition coordinator, email: coordinator@example.org}", "recipients:"]
    for language in languages:
        lines += [f"  - id: official-{language.lower()}", "    name: Sadyr Japarov",
                  f"    salutation: {{{language}: {quoted(LETTERS[language]['salutation'])}}}",
                  f"    languages: [{language}]", "    email: [office@president.example.org]", "    channel: email"]
    (folder / "campaign.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for language in languages:
        front = "" if language == languages[0] else (f"---\ntranslated_from: {languages[0]}\ntranslator: test\n"
                                                     "reviewed: true\n---\n")
        body = front + LETTERS[language]["body"] + "\n[^1]: [@mandela-rules]\n"
        (folder / f"letter.{language}.md").write_text(body, encoding="utf-8")


def approve_everything(root: Path) -> None:
    """Record every translation as current and the organisation's approval of every proof."""
    from coalition.load import load_campaign
    from coalition.usecases import open_campaign, translated

    problems = Problems(root)
    campaign = load_campaign(root, "every-language", problems)
    problems.check()
    for language in campaign.languages[1:]:
        translated("every-language", language, root)
    checked = open_campaign(root, "every-language", final=False)
    lines = [f"- {{at: 2020-03-30T12:00:00Z, organisation: amnesty-international, language: {language}, "
             f'proof: {proof.id}, action: approved, by: "test", via: {{command-line: "the test"}}}}'
             for language, proof in checked.proofs.items()]
    (root / "letters" / "every-language" / "approvals.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


