"""The pipeline: load → compose → render → bundle. Everything is gathered and checked before anything is written."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .bundle import make_bundles, publish
from .compose import compose_letters
from .errors import Problems
from .load import load_campaign
from .render import render_letters
from .translation import check_translations


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote."""

    folder: Path
    letters: int
    recipients: int
    languages: int
    seconds: float

    def summary(self) -> str:
        """One line for the coordinator."""
        return (f"{self.letters} letters for {self.recipients} recipients in {self.languages} languages "
                f"written to {self.folder} in {self.seconds:.1f} s")


def build(campaign_id: str, root: Path = Path("."), out: Path = Path("out")) -> BuildReport:
    """Build every recipient's letters for `campaign_id` and publish them under `out`; raise CoalitionError on bad data."""
    started = time.perf_counter()
    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    check_translations(campaign, letters, problems, final=True)
    problems.check()
    rendered = render_letters(campaign, letters, problems)
    problems.check()
    bundles = make_bundles(campaign, rendered, problems)
    problems.check()
    folder = publish(out, campaign, bundles)
    letter_count = sum(1 for item in rendered if item.kind == "letter")
    return BuildReport(folder, letter_count, len(campaign.recipients), len(campaign.languages),
                       time.perf_counter() - started)


def check(campaign_id: str, root: Path = Path(".")) -> int:
    """Load and compose `campaign_id` without rendering or writing; the number of letters that would be built."""
    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    check_translations(campaign, letters, problems, final=True)
    problems.check()
    return sum(len(recipient.languages) for recipient in campaign.recipients)
