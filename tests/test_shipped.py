"""The shipped data itself: every campaign checks, its approvals are current, march-2020 says what seed 001 says.

The rest of the suite runs on its own fixture project (tests/fixtures/project); only this module reads the
shipped letters/, signatories/ and styles/, so adding to them changes no other test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from coalition.cli import main
from helpers import REPO, SEEDS, flat

CAMPAIGNS = sorted(path.parent.name for path in (REPO / "letters").glob("*/campaign.yaml"))
FROM_THE_SEEDS = ("march-2020", "ua-61-20", "june-2010")  # approved as the seed documents were signed


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_every_shipped_campaign_checks(campaign):
    checked = CliRunner().invoke(main, ["check", campaign, "--root", str(REPO)])
    assert checked.exit_code == 0, checked.output + checked.stderr


@pytest.mark.parametrize("campaign", FROM_THE_SEEDS)
def test_the_seed_campaigns_are_approved_as_they_were_signed(campaign):
    status = CliRunner().invoke(main, ["status", campaign, "--root", str(REPO)])
    assert status.exit_code == 0, status.output
    assert "every organisation has approved every current proof" in status.output


def test_the_shipped_march_2020_letter_is_seed_001_word_for_word():
    seed = (next(SEEDS.glob("001_*.txt"))).read_text(encoding="utf-8")
    letter = (REPO / "letters" / "march-2020" / "letter.en.md").read_text(encoding="utf-8")
    for paragraph in letter.split("\n\n"):
        if paragraph.startswith("[^") or not paragraph.strip():
            continue
        words = flat(paragraph).replace("[^1]", "").replace("[^2]", "").replace("[^3]", "")
        assert flat(words)[:60] in flat(seed), paragraph[:60]


def test_build_py_is_the_coordinators_entry_point(tmp_path):
    """The README's command in a real process: the shipped march-2020, and a data error without a traceback."""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "march-2020", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / "march-2020" / "president" / "march-2020-president-en.pdf").is_file()
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "no-such-campaign", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: no campaign 'no-such-campaign'") and "Traceback" not in done.stderr
