"""What the tests read back from real artefacts: PDF text and pages (pypdf), and projects to break."""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
from pathlib import Path

from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
# The tests' own campaigns and signatories, frozen: adding to the shipped letters/ or signatories/ changes no test.
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "project"


def copy_project(target: Path) -> Path:
    """A project a test may break: the fixture's letters and signatories, and the shipped letterheads."""
    for name in ("letters", "signatories"):
        shutil.copytree(FIXTURE / name, target / name)
    shutil.copytree(REPO / "styles", target / "styles")
    return target


@functools.cache
def frozen_project() -> Path:
    """One copy of the fixture project per test session, for tests that only read it."""
    folder = Path(tempfile.mkdtemp(prefix="coalition-fixture-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return copy_project(folder / "project")


def flat(text: str) -> str:
    """Text with the letter's hyphenation breaks (U+2011 at a line end) undone and white space folded."""
    text = text.replace("\u2011\n", "").replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip()


def squash(text: str) -> str:
    """Text with every space removed: for URLs, which break anywhere."""
    return re.sub(r"\s+", "", flat(text))


def page_texts(pdf: Path | bytes) -> list[str]:
    """The extracted text of each page."""
    reader = PdfReader(pdf if isinstance(pdf, Path) else __import__("io").BytesIO(pdf))
    return [page.extract_text() for page in reader.pages]


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace `old` by `new` in a file, insisting that `old` is there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    """The 1-based line on which `needle` first appears."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def approve_current_proofs(root: Path, campaign_id: str = "march-2020") -> None:
    """Every organisation approves the current proof of each language, as after a round of review: for tests that
    change what the proofs cover (a recipient, a template) and are not about approvals."""
    import datetime

    from coalition.records.approvals import Action, Event, Via, record
    from coalition.records.proofs import record_proof
    from coalition.usecases import open_campaign

    opened = open_campaign(root, campaign_id, final=False)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for proof in opened.proofs.values():
        record_proof(opened.campaign, proof, now)
        for signatory in opened.campaign.signatories:
            if not opened.approvals[(signatory.id, proof.language)].is_current:
                record(opened.campaign, Event(now, signatory.id, proof.language, proof.id, Action.APPROVED,
                                              "A. Reviewer", "", "", Via(command_line="the tests")))
