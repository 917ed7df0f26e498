"""The pipeline: load → compose → (proof, approvals) → render → bundle. Everything is checked before anything is written."""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bundle import make_bundles, manifest, outputs, publish
from .compose import compose_letters
from .cover import review_emails
from .errors import Problem, Problems
from .load import load_campaign
from .model import Campaign, OutputFile
from .proof import (
    APPROVALS,
    change_report_html,
    change_report_text,
    load_approvals,
    pending,
    previous_proof,
    proof_of,
    read_proof,
    record_proof,
)
from .checks.glyphs import check_glyphs
from .render import RenderOptions, check_templates, render_letters, render_proofs
from .schema import is_example_address
from .translation import check_translations

CACHE = ".cache"  # under out/: rendered PDFs by content, so that a rebuild renders only what changed


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote, and what the user should know."""

    folder: Path
    letters: int
    recipients: int
    languages: int
    seconds: float
    rendered: int  # PDFs WeasyPrint made; the others came unchanged from the cache
    warnings: tuple[Problem, ...] = ()

    def summary(self) -> str:
        """One line for the coordinator."""
        return (f"{self.letters} letters for {self.recipients} recipients in {self.languages} languages "
                f"written to {self.folder} in {self.seconds:.1f} s ({self.rendered} PDFs rendered, the rest "
                "unchanged)")


def gather(campaign_id: str, root: Path, final: bool) -> tuple[Problems, Campaign, dict]:
    """Load and compose the campaign and check it all (translations, glyphs); raise every problem at once.

    A stale translation is an error for the final build (`final`) and a warning for proofs.
    """
    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    check_translations(campaign, letters, problems, final=final)
    check_glyphs(campaign, letters, problems)
    check_templates(campaign, letters, problems)  # the letter, address page and e-mail templates, before rendering
    load_approvals(campaign, problems)  # read here too, so that 'check' finds its mistakes
    problems.check()
    return problems, campaign, letters


def build(campaign_id: str, root: Path = Path("."), out: Path = Path("out"), drop_pending: bool = False,
          jobs: int = 1, cache: bool = True, pdf_variant: str | None = None,
          progress: Callable[[int, int], object] | None = None) -> BuildReport:
    """Build every recipient's final letters for `campaign_id` under `out`; raise CoalitionError on bad data.

    Every signatory must have approved the current proof of each language built; with `drop_pending`, those who
    have not are left off the letters (and named in the report) instead of stopping the build. PDFs are rendered
    by `jobs` processes and kept in out/.cache, so that a rebuild renders only what changed. `progress`, if
    given, is called first with (0, total) and then with (done, 0) as PDFs are finished.
    """
    started = time.perf_counter()
    problems, campaign, letters = gather(campaign_id, root, final=True)
    languages = [language for language in campaign.languages
                 if any(language in recipient.languages for recipient in campaign.recipients)]
    proofs = {language: proof_of(campaign, letters[language]) for language in languages}
    campaign, dropped = signed_by_approvers(campaign, proofs, problems, drop_pending)
    if progress:
        progress(0, sum(len(recipient.languages) + (recipient.channel == "post")
                        for recipient in campaign.recipients))
    options = RenderOptions(jobs=jobs, cache=out / CACHE if cache else None, pdf_variant=pdf_variant,
                            progress=(lambda done: progress(done, 0)) if progress else None)
    rendered, made = render_letters(campaign, letters, problems, options)
    problems.check()
    bundles = make_bundles(campaign, rendered, problems)
    problems.check()
    files = outputs(campaign, bundles)
    listing = manifest(campaign, files, proofs={language: proof.id for language, proof in proofs.items()},
                       signatories=[signatory.id for signatory in campaign.signatories], dropped=dropped)
    folder = publish(out, campaign.id, files, listing)
    letter_count = sum(1 for item in rendered if item.kind == "letter")
    return BuildReport(folder, letter_count, len(campaign.recipients), len(languages),
                       time.perf_counter() - started, made, tuple(problems.warnings))


def signed_by_approvers(campaign: Campaign, proofs: dict, problems: Problems,
                        drop_pending: bool) -> tuple[Campaign, list[str]]:
    """The campaign signed only by organisations that approved every current proof, or problems naming the rest."""
    approvals = load_approvals(campaign, problems)
    problems.check()
    missing = pending(campaign, proofs, approvals)
    path = campaign.folder / APPROVALS
    for signatory, language, proof_id, approval in missing:
        was = f" (it approved {approval.proof}, an earlier text)" if approval else ""
        message = f"{signatory} has not approved the current {language} proof {proof_id}{was}"
        hint = (f"send it the proof ('coalition proof {campaign.id}'), record its approval with 'coalition approve "
                f"{campaign.id} {signatory} {proof_id} --by NAME', or build with --drop-pending")
        if drop_pending:
            problems.warn(path, approval.line if approval else 0, message + "; left off the letters")
        else:
            problems.add(path, approval.line if approval else 0, message, hint)
    problems.check()
    dropped = sorted({signatory for signatory, *_ in missing})
    kept = tuple(signatory for signatory in campaign.signatories if signatory.id not in dropped)
    if not kept:
        problems.add(path, 0, "no organisation has approved the current proofs: there is nobody to sign",
                     f"make proofs with 'coalition proof {campaign.id}' and record approvals")
        problems.check()
    return dataclasses.replace(campaign, signatories=kept), dropped


@dataclass(frozen=True)
class ProofReport:
    """What a proof run wrote."""

    folder: Path
    proofs: dict  # language -> proof ID
    reviews: int
    warnings: tuple[Problem, ...]

    def summary(self) -> str:
        """One line per proof, then where the review e-mails are."""
        lines = [f"proof {proof_id} ({language})" for language, proof_id in self.proofs.items()]
        return "\n".join(lines + [f"{self.reviews} review e-mails and the proofs written to {self.folder}"])


def proof(campaign_id: str, root: Path = Path("."), out: Path = Path("out"),
          now: datetime.datetime | None = None) -> ProofReport:
    """Make a watermarked proof per language, change reports and a review e-mail per signatory organisation.

    Written to out/<campaign>.proof/; each proof is also kept in letters/<campaign>/proofs/ for later reports.
    """
    problems, campaign, letters = gather(campaign_id, root, final=False)
    proofs = {language: proof_of(campaign, letter) for language, letter in letters.items()}
    approvals = load_approvals(campaign, problems)
    for signatory in campaign.signatories:
        if is_example_address(signatory.contact):
            problems.warn(signatory.source, 0, f"contact {signatory.contact} is an example address: the review "
                          "e-mail will not reach the organisation", "write its real review contact in the file")
    rendered = render_proofs(campaign, letters, proofs, problems, RenderOptions(cache=out / CACHE))
    problems.check()
    files: list[tuple[str, OutputFile, str | None]] = [
        (item.file_name, OutputFile(item.file_name, item.pdf, "proof", item.language), None) for item in rendered]
    reports = {}
    for language, current in proofs.items():
        earlier = {approval.proof for (_, lang), approval in approvals.items() if lang == language}
        earlier |= {found.id for found in [previous_proof(campaign, current)] if found}
        for old_id in sorted(earlier - {current.id}):
            entry = read_proof(campaign, old_id)
            if entry is None:
                problems.warn(campaign.folder / APPROVALS, 0, f"proof {old_id} is not in the proof history, so no "
                              "change report can be made from it")
                continue
            name = f"changes/{old_id}-to-{current.id}"
            reports[(old_id, current.id)] = name
            files.append((f"{name}.html", OutputFile(f"{name}.html", change_report_html(entry[0], current).encode(),
                                                     "change-report", language), None))
            files.append((f"{name}.txt", OutputFile(f"{name}.txt", change_report_text(entry[0], current).encode(),
                                                    "change-report", language), None))
    for signatory_id, data in review_emails(campaign, proofs, approvals, rendered, reports, files, problems):
        files.append((f"review/{signatory_id}.eml", OutputFile(f"{signatory_id}.eml", data, "review-email", None),
                      None))
    problems.check()
    listing = manifest(campaign, files, proofs={language: item.id for language, item in proofs.items()})
    folder = publish(out, f"{campaign.id}.proof", files, listing)
    made = now or datetime.datetime.now(datetime.timezone.utc)
    for current in proofs.values():
        record_proof(campaign, current, made)
    reviews = sum(1 for _, file, _ in files if file.kind == "review-email")
    return ProofReport(folder, {language: item.id for language, item in proofs.items()}, reviews,
                       tuple(problems.warnings))


def check(campaign_id: str, root: Path = Path(".")) -> int:
    """Load and compose `campaign_id` without rendering or writing; the number of letters that would be built."""
    _, campaign, _ = gather(campaign_id, root, final=True)
    return sum(len(recipient.languages) for recipient in campaign.recipients)
