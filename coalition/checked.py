"""A campaign as the use-case layer hands it on: loaded, composed and checked, with nothing left to report.

`load.load_campaign` can return a campaign with parts missing (its problems are recorded, not raised, so that
the user sees them all at once); only a CheckedCampaign is known to be whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import Problem
from .model import Campaign, Letter
from .records.approvals import ApprovalState
from .records.proofs import Proof


@dataclass(frozen=True)
class CheckedCampaign:
    """A campaign loaded, composed and checked: nothing in it has a problem left to report."""

    root: Path
    campaign: Campaign
    letters: dict[str, Letter]  # by language
    proofs: dict[str, Proof]  # the current proof of each language
    approvals: dict[tuple[str, str], ApprovalState]  # (organisation, language) -> where its approval stands
    warnings: tuple[Problem, ...]

    @property
    def proof_ids(self) -> dict[str, str]:
        """The current proof ID of each language."""
        return {language: proof.id for language, proof in self.proofs.items()}
