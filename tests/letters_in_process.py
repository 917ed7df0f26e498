"""Letters rendered in-process from Markdown written by a test: no CLI, no files beyond a copy of the project.

A campaign is loaded once per letterhead from a copy of march-2020; each letter is then composed from the test's
Markdown in any of en/ru/fr/de and rendered by the same Renderer and PdfWriter a build uses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coalition.compose import compose
from coalition.errors import Problems
from coalition.load import load_campaign
from coalition.model import LetterSource, PdfResult
from coalition.render import Printed, Renderer

LANGUAGES = ("en", "ru", "fr", "de")
STYLES = ("coalition", "urgent-action")
STRINGS = {  # the words a letterhead prints itself, for the languages the shipped styles do not carry
    "fr": {"letterhead": "Lettre commune", "via_email": "Par courriel :", "copy_to": "Copie :",
           "enclosures": "Pièces jointes :", "proof": "ÉPREUVE — ne pas envoyer"},
    "de": {"letterhead": "Gemeinsamer Brief", "via_email": "Per E-Mail:", "copy_to": "Kopie an:",
           "enclosures": "Anlagen:", "proof": "KORREKTURABZUG — nicht versenden"},
}


class LetterPress:
    """Renders Markdown letters with one letterhead, as `recipient` of march-2020 would get them."""

    def __init__(self, project: Path, style: str):
        campaign_file = project / "letters" / "march-2020" / "campaign.yaml"
        text = campaign_file.read_text(encoding="utf-8")
        campaign_file.write_text(text.replace("style: coalition", f"style: {style}"), encoding="utf-8")
        problems = Problems(project)
        campaign = load_campaign(project, "march-2020", problems)
        problems.check()
        strings = {**STRINGS, **campaign.style.strings}
        self.campaign = dataclasses.replace(campaign, style=dataclasses.replace(campaign.style, strings=strings))
        self.recipient = self.campaign.recipients[0]
        self.renderer = Renderer(self.campaign, Problems(project))

    def render(self, markdown: str, language: str) -> tuple[PdfResult, Problems]:
        """The PDF of `markdown` as the letter in `language`, and the problems compose and render found."""
        problems = Problems(self.campaign.folder.parent.parent)
        path = self.campaign.folder / f"letter.{language}.md"
        letter = compose(self.campaign, LetterSource(language, path, markdown, None, 1), problems)

        self.renderer.problems = problems
        html = self.renderer.html(letter, self.recipient)
        assert html is not None, problems.found
        printed = Printed(path, 0, f"the {language} letter to {self.recipient.id!r}",
                          tuple(unit.line for unit in letter.footnotes))
        result = self.renderer.pdf_writer.write(html)
        self.renderer.report(result, printed)
        return result, problems
