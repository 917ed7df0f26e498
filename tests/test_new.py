"""`coalition new`: the files it writes pass `check` once filled in, and say what is missing until then."""

from __future__ import annotations

import re

from helpers import edit

FILLED = {
    "subject": {"en": "Case of Azimjon Askarov", "ar": "قضية عظيمجان أسكاروف", "zh-Hans": "关于阿斯卡罗夫案"},
    "place": {"en": "Brussels", "ar": "بروكسل", "zh-Hans": "布鲁塞尔"},
    "closing": {"en": "Sincerely,", "ar": "مع فائق الاحترام،", "zh-Hans": "此致\n敬礼！"},
    "salutation": {"en": "Your Excellency,", "ar": "صاحب الفخامة،", "zh-Hans": "尊敬的总统阁下："},
}
BODIES = {"en": "We urge you to release Azimjon Askarov.", "ar": "نحثكم على الإفراج عن عظيمجان أسكاروف.",
          "zh-Hans": "我们敦促阁下释放阿斯卡罗夫。"}


def fill(text: str) -> str:
    """campaign.yaml as a coordinator fills it in."""
    section = None
    lines = []
    for line in text.splitlines():
        key = re.match(r"(\s*)(?:- )?([\w-]+):", line)
        if key and key[2] in FILLED:
            section = key[2]
        elif key and key[1] == "" or key and key[2] not in BODIES:
            section = None
        if section and key and key[2] in BODIES and re.match(r"\s*[\w-]+:\s*(#.*)?$", line):
            value = FILLED[section][key[2]].replace("\n", "\\n")
            line = f'{key[1]}{key[2]}: "{value}"'
        lines.append(line)
    text = "\n".join(lines) + "\n"
    for old, new in (("signatories:\n  -\n", "signatories:\n  - amnesty-international\n"),
                     ("  name:\n  email:\n", "  name: Coalition coordinator\n  email: coordinator@example.org\n"),
                     ("  - id:  #", "  - id: president  #"), ("    name:  #", "    name: Sadyr Japarov  #"),
                     ("    title:  #", "    title: President  #"), ("    email:\n      -\n",
                                                                  "    email:\n      - president@example.org\n")):
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_a_new_campaign_lists_what_to_fill_in_then_passes_check(cli, project):
    result = cli("new", "ua-1-25", "--languages", "en,ar,zh-Hans", "--style", "urgent-action", "--root", project)
    assert result.exit_code == 0, result.output
    folder = project / "letters" / "ua-1-25"
    assert sorted(path.name for path in folder.iterdir()) == [
        "campaign.yaml", "letter.ar.md", "letter.en.md", "letter.zh-Hans.md"]
    result = cli("check", "ua-1-25", "--root", project)
    assert result.exit_code == 1
    assert "letters/ua-1-25/campaign.yaml:4: subject.en:" in result.stderr
    assert "sender.email: has no value" in result.stderr

    campaign = folder / "campaign.yaml"
    campaign.write_text(fill(campaign.read_text(encoding="utf-8")), encoding="utf-8")
    (folder / "letter.en.md").write_text(BODIES["en"] + "\n", encoding="utf-8")
    for language in ("ar", "zh-Hans"):
        edit(folder / f"letter.{language}.md", "translator:\n", "translator: A. Translator\n")
        with open(folder / f"letter.{language}.md", "a", encoding="utf-8") as letter:
            letter.write(BODIES[language] + "\n")
    for language in ("ar", "zh-Hans"):  # every command checks the whole campaign: the letters are written first
        assert cli("translated", "ua-1-25", language, "--root", project).exit_code == 0
    result = cli("check", "ua-1-25", "--root", project)
    assert result.exit_code == 0, result.stderr
    assert "no problems found (3 letters to build; 3 PDFs laid out" in result.output  # Arabic and Chinese too
    assert "amnesty-international has not approved the current en proof" in result.stderr  # none has, yet


def test_new_refuses_what_it_cannot_make_and_writes_nothing(cli, project):
    for arguments, message in ((("march-2020", "--languages", "en"), "already exists"),
                               (("x-1", "--languages", "en,klingon"), "unknown language 'klingon'"),
                               (("x-1", "--languages", "en", "--style", "nope"), "unknown style 'nope'"),
                               (("X 1", "--languages", "en"), "is not a campaign id")):
        result = cli("new", *arguments, "--root", project)
        assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert not (project / "letters" / "x-1").exists()
