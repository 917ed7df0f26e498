"""The use cases: every command opens its campaign here, so that every command applies the same checks.

`open_campaign` loads, composes and checks a campaign (translations, glyphs, approvals file) and raises every
problem at once; the functions below it are what the command line and the web application call.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bundle import check_output, make_bundles, manifest, outputs, protected_folders, publish
from .checked import CheckedCampaign
from .changes import change_report_html, change_report_text
from .checks.translations import check_translations, record_fingerprints
from .compose import compose_letters
from .cover import review_emails
from .errors import CoalitionError, Problem, Problems
from .load import campaign_folder, load_campaign
from .model import Campaign, FileKind, OutputFile
from .records.approvals import APPROVALS, ApprovalState, State, approval_states, approve_on_command_line, upgrade
from .records.links import links_text, load_secret, review_links, update_links
from .records.proofs import Proof, previous_proof, proof_of, read_proof, record_proof
from .checks.glyphs import check_glyphs
from .render import RenderOptions, check_templates, render_letters, render_proofs
from . import review_mail
from . import send as sending
from .scaffold import new_campaign
from .schema import is_example_address
from .send import SendOptions, SendReport
from .smtp import SmtpSettings
from .status import CampaignStatus, campaign_status

CACHE = ".cache"  # under out/: rendered PDFs by content, so that a rebuild renders only what changed


def open_campaign(root: Path, campaign_id: str, *, final: bool) -> CheckedCampaign:
    """Load, compose and check `campaign_id`; raise every problem at once.

    A stale translation is an error for what goes out (`final`) and a warning for proofs and records.
    """
    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    check_translations(campaign, letters, problems, final=final)
    check_glyphs(campaign, letters, problems)
    check_templates(campaign, letters, problems)  # the letter, address page and e-mail templates, before rendering
    proofs = {language: proof_of(campaign, letter) for language, letter in letters.items()}
    approvals = approval_states(campaign, {language: proof.id for language, proof in proofs.items()}, problems)
    problems.check()
    return CheckedCampaign(root.resolve(), campaign, letters, proofs, approvals, tuple(problems.warnings))


# ---------------------------------------------------------------------------------------------------------------
# build


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


def build(campaign_id: str, root: Path = Path("."), out: Path = Path("out"), drop_pending: bool = False,
          jobs: int = 1, cache: bool = True, pdf_variant: str | None = None,
          progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Build every recipient's final letters for `campaign_id` under `out`; raise CoalitionError on bad data.

    Every signatory must have approved the current proof of each language built; with `drop_pending`, those who
    have not are left off that language's letters (and named in the report and the manifest) instead of stopping
    the build. PDFs are rendered
    by `jobs` processes and kept in out/.cache, so that a rebuild renders only what changed. `progress`, if
    given, is called first with (0, total) and then with (done, 0) as PDFs are finished.
    """
    started = time.perf_counter()
    opened = open_campaign(root, campaign_id, final=True)
    problems = Problems(root.resolve(), warnings=list(opened.warnings))
    campaign, letters = opened.campaign, opened.letters
    check_output(out, campaign.id, protected_folders(root, campaign))  # refused before minutes of rendering
    languages = [language for language in campaign.languages
                 if any(language in recipient.languages for recipient in campaign.recipients)]
    proofs = {language: opened.proofs[language] for language in languages}
    campaign, dropped = signed_by_approvers(campaign, proofs, opened.approvals, problems, drop_pending)
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
    listing = manifest(campaign, files, {language: proof.id for language, proof in proofs.items()}, final=True,
                       dropped=dropped)
    folder = publish(out, campaign.id, files, listing, protected_folders(root, campaign))
    letter_count = sum(1 for item in rendered if item.kind == "letter")
    return BuildReport(folder, letter_count, len(campaign.recipients), len(languages),
                       time.perf_counter() - started, made, tuple(problems.warnings))


def signed_by_approvers(campaign: Campaign, proofs: dict[str, Proof], approvals: dict[tuple[str, str], ApprovalState],
                        problems: Problems, drop_pending: bool) -> tuple[Campaign, dict[str, tuple[str, ...]]]:
    """The campaign with each language signed only by the organisations whose approval of that language's current
    proof stands, and who was left off which language; or problems naming every missing approval."""
    missing = [state for (_, language), state in approvals.items() if language in proofs and not state.is_current]
    path = campaign.folder / APPROVALS
    for state in missing:
        signatory, language, proof_id, approval = state.organisation, state.language, state.current, state.approved
        was = {State.STALE: f" (it approved {approval.proof}, an earlier text)" if approval else "",
               State.CHANGES_REQUESTED: " (it asked for changes)", State.WITHDRAWN: " (it withdrew from the letter)",
               State.PENDING: ""}[state.state]
        message = f"{signatory} has not approved the current {language} proof {proof_id}{was}"
        hint = (f"send it the proof ('coalition proof {campaign.id}'), record its approval with 'coalition approve "
                f"{campaign.id} {signatory} {proof_id} --by NAME', or build with --drop-pending")
        if state.state is State.WITHDRAWN:  # it will not approve: only leaving it off moves the letter on
            hint = (f"take {signatory} out of the signatories in campaign.yaml, or build with --drop-pending "
                    f"to leave it off")
        line = state.last.line if state.last else 0
        if drop_pending:
            problems.warn(path, line, f"{message}; left off the {language} letters")
        else:
            problems.add(path, line, message, hint)
    problems.check()
    left_off = {(state.organisation, state.language) for state in missing}
    signing = {language: tuple(signatory.id for signatory in campaign.signatories
                               if (signatory.id, language) not in left_off) for language in proofs}
    for language, ids in signing.items():
        if not ids:
            problems.add(path, 0, f"no organisation has approved the current {language} proof "
                         f"{proofs[language].id}: there is nobody to sign the {language} letters",
                         f"make proofs with 'coalition proof {campaign.id}' and record approvals")
    problems.check()
    dropped = {language: tuple(signatory.id for signatory in campaign.signatories if signatory.id not in ids)
               for language, ids in signing.items() if len(ids) < len(campaign.signatories)}
    kept = tuple(signatory for signatory in campaign.signatories
                 if any(signatory.id in ids for ids in signing.values()))
    return dataclasses.replace(campaign, signatories=kept, signed_by=tuple(signing.items())), dropped


# ---------------------------------------------------------------------------------------------------------------
# proof


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
          now: datetime.datetime | None = None, base_url: str | None = None,
          secret_file: Path | None = None) -> ProofReport:
    """Make a watermarked proof per language, change reports and a review e-mail per signatory organisation.

    Written to out/<campaign>.proof/; each proof is also kept in letters/<campaign>/proofs/ for later reports.
    With `base_url` and `secret_file`, each review e-mail carries the organisation's private review link.
    """
    opened = open_campaign(root, campaign_id, final=False)
    links = private_links(opened.campaign, root, base_url, secret_file) if base_url and secret_file else None
    return make_proofs(opened, out, now, links)


def proof_and_send_reviews(campaign_id: str, root: Path, out: Path, base_url: str | None, secret_file: Path,
                           settings: SmtpSettings | None, options: SendOptions = SendOptions(),
                           report: Callable[[str], None] = lambda line: None,
                           proofs_made: Callable[[ProofReport], None] = lambda made: None
                           ) -> tuple[ProofReport, review_mail.ReviewReport]:
    """Make the proofs as `proof` does (`proofs_made` is told), then e-mail each organisation whose approval is not
    current its review e-mail with its private link, once per proof round (`settings` None: a dry run that connects
    to nothing); `report` gets a line as each transaction ends."""
    review_mail.check_reviews_possible(base_url, settings)
    assert base_url is not None
    opened = open_campaign(root, campaign_id, final=False)
    links = private_links(opened.campaign, root, base_url, secret_file)
    made = make_proofs(opened, out, None, links)
    proofs_made(made)
    if settings is None:
        return made, review_mail.dry_run(opened, made.folder, links)
    return made, review_mail.send_reviews(opened, made.folder, links, settings, options, report)


def private_links(campaign: Campaign, root: Path, base_url: str, secret_file: Path) -> dict[str, str | None]:
    """Organisation -> its private review link (None once revoked), made where missing."""
    secret = load_secret(secret_file, root)
    return {organisation: link.url for organisation, link in
            review_links(campaign, secret, base_url, update_links(campaign)).items()}


def make_proofs(opened: CheckedCampaign, out: Path, now: datetime.datetime | None,
                links: dict[str, str | None] | None) -> ProofReport:
    """The proofs, change reports and review e-mail drafts of an opened campaign, written to out/<campaign>.proof/."""
    root = opened.root
    problems = Problems(root, warnings=list(opened.warnings))
    campaign, letters, proofs, approvals = opened.campaign, opened.letters, opened.proofs, opened.approvals
    check_output(out, f"{campaign.id}.proof", protected_folders(root, campaign))
    for signatory in campaign.signatories:
        if is_example_address(signatory.contact):
            problems.warn(signatory.source, 0, f"contact {signatory.contact} is an example address: the review "
                          "e-mail will not reach the organisation", "write its real review contact in the file")
    rendered = render_proofs(campaign, letters, proofs, problems, RenderOptions(cache=out / CACHE))
    problems.check()
    files = [OutputFile(item.file_name, item.pdf, FileKind.PROOF, item.language) for item in rendered]
    reports = {}
    for language, current in proofs.items():
        earlier = {state.approved.proof for (_, lang), state in approvals.items()
                   if lang == language and state.approved}
        earlier |= {found.id for found in [previous_proof(campaign, current)] if found}
        for old_id in sorted(earlier - {current.id}):
            entry = read_proof(campaign, old_id)
            if entry is None:
                problems.warn(campaign.folder / APPROVALS, 0, f"proof {old_id} is not in the proof history, so no "
                              "change report can be made from it")
                continue
            name = f"changes/{old_id}-to-{current.id}"
            reports[(old_id, current.id)] = name
            files.append(OutputFile(f"{name}.html", change_report_html(entry[0], current).encode(),
                                    FileKind.CHANGE_REPORT, language))
            files.append(OutputFile(f"{name}.txt", change_report_text(entry[0], current).encode(),
                                    FileKind.CHANGE_REPORT, language))
    for signatory_id, data in review_emails(campaign, proofs, approvals, rendered, reports, files, problems, links):
        files.append(OutputFile(f"review/{signatory_id}.eml", data, FileKind.REVIEW_EMAIL))
    problems.check()
    listing = manifest(campaign, files, {language: item.id for language, item in proofs.items()})
    folder = publish(out, f"{campaign.id}.proof", files, listing, protected_folders(root, campaign))
    made = now or datetime.datetime.now(datetime.timezone.utc)
    for current in proofs.values():
        record_proof(campaign, current, made)
    reviews = sum(1 for file in files if file.kind == FileKind.REVIEW_EMAIL)
    return ProofReport(folder, {language: item.id for language, item in proofs.items()}, reviews,
                       tuple(problems.warnings))


# ---------------------------------------------------------------------------------------------------------------
# check, translated, approve, status


@dataclass(frozen=True)
class CheckReport:
    """What `check` found: how many letters a build would make, how many were laid out, and the warnings."""

    letters: int
    warnings: tuple[Problem, ...]
    laid_out: int = 0


def check(campaign_id: str, root: Path = Path("."), layout: bool = True, jobs: int = 1) -> CheckReport:
    """Check `campaign_id` as the final build would (with `layout`, every letter laid out in memory); writes nothing."""
    opened = open_campaign(root, campaign_id, final=True)
    campaign = opened.campaign
    problems = Problems(root.resolve(), warnings=list(opened.warnings))
    pending = Problems(root.resolve())
    built = [language for language in campaign.languages
             if any(language in recipient.languages for recipient in campaign.recipients)]
    try:  # the approvals still missing do not make the data wrong: the build stops on them, so say so here
        signed_by_approvers(campaign, {language: opened.proofs[language] for language in built}, opened.approvals,
                            pending, drop_pending=False)
    except CoalitionError:
        for problem in pending.found:  # already relative to the root: warn() would resolve it again
            problems.warnings.append(dataclasses.replace(problem, message=f"{problem.message}; the final build "
                                                                          f"stops on it"))
    laid_out = 0
    if layout:  # signed by every organisation, as the letter will be once all approve
        rendered, _ = render_letters(campaign, opened.letters, problems, RenderOptions(jobs=jobs, cache=None))
        problems.check()
        laid_out = len(rendered)
    return CheckReport(sum(len(recipient.languages) for recipient in campaign.recipients), tuple(problems.warnings),
                       laid_out)


def translated(campaign_id: str, language: str, root: Path = Path(".")) -> Path:
    """Record that `language`'s translation matches the original as it is now; the file written."""
    opened = open_campaign(root, campaign_id, final=False)
    campaign = opened.campaign
    if language not in campaign.languages[1:]:
        raise CoalitionError(f"{language!r} is not a translation of {campaign_id}: its translations are "
                             f"{', '.join(campaign.languages[1:]) or 'none'}")
    return record_fingerprints(campaign.source(language), opened.letters[campaign.languages[0]])


def approve(campaign_id: str, signatory: str, proof_id: str, by: str, role: str, day: datetime.date | None,
            recorded_by: str, root: Path = Path(".")) -> Path:
    """Record that `signatory` approved `proof_id` on `day` (default: now), as typed by `recorded_by`."""
    opened = open_campaign(root, campaign_id, final=False)
    return approve_on_command_line(opened.campaign, signatory, proof_id, by, role, day, recorded_by)


def status(campaign_id: str, root: Path = Path("."), out: Path = Path("out")) -> CampaignStatus:
    """Where the campaign stands: approvals, translations, the build, deliveries and the next step."""
    opened = open_campaign(root, campaign_id, final=False)
    return campaign_status(opened.root, opened.campaign, opened.letters,
                           {language: proof.id for language, proof in opened.proofs.items()}, opened.approvals, out)


# ---------------------------------------------------------------------------------------------------------------
# send, confirm, mailed


def dry_run(campaign_id: str, root: Path, out: Path, options: SendOptions) -> str:
    """What `send` would do, to whom, with what and who signs; connects to nothing and writes nothing."""
    return sending.dry_run(open_campaign(root, campaign_id, final=True), out, options)


def send(campaign_id: str, root: Path, out: Path, settings: SmtpSettings, options: SendOptions,
         report: Callable[[str], None]) -> SendReport:
    """E-mail the final build's letters, each address once; `report` gets a line as each transaction ends."""
    return sending.send(open_campaign(root, campaign_id, final=True), out, settings, options, report)


def confirm(campaign_id: str, recipient: str, by: str, root: Path = Path("."), review: bool = False) -> str:
    """Record that a person confirmed an in-doubt letter (or, with `review`, review e-mail) arrived."""
    return sending.confirm_arrived(open_campaign(root, campaign_id, final=False).campaign, recipient, by, review)


def mailed(campaign_id: str, recipient: str, by: str, on: datetime.date | None, tracking: str | None,
           root: Path = Path(".")) -> str:
    """Record that a post-only recipient's printed bundle was mailed."""
    return sending.record_mailed(open_campaign(root, campaign_id, final=False).campaign, recipient, by, on,
                                 tracking)


# ---------------------------------------------------------------------------------------------------------------
# new, links, upgrade-approvals


def new(campaign_id: str, languages: tuple[str, ...], style: str, root: Path = Path(".")) -> list[Path]:
    """Start a campaign: a commented campaign.yaml and one letter file per language; the files written."""
    return new_campaign(root, campaign_id, languages, style)


def links(campaign_id: str, root: Path, base_url: str, secret_file: Path, revoke: tuple[str, ...] = (),
          regenerate: tuple[str, ...] = ()) -> str:
    """Each organisation's private review link (made where missing, revoked or regenerated as asked), as text."""
    checked = open_campaign(root, campaign_id, final=False)
    return links_text(checked.root, checked.campaign, base_url, secret_file, revoke, regenerate)


def upgrade_approvals(campaign_id: str, root: Path = Path(".")) -> tuple[Path, int]:
    """Rewrite an approvals.yaml of the old format as the history of events; its path and the events written."""
    return upgrade(campaign_folder(root, campaign_id))
