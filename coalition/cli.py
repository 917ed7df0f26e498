"""The command line: parse options, call one library function, print its result or its errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .errors import CoalitionError, DataError

ROOT = click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                    show_default=True, help="The folder that holds letters/, signatories/ and styles/.")
OUT = click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
                   show_default=True, help="Where the built bundles are written.")
CAMPAIGN = click.argument("campaign")
# WeasyPrint's variants (weasyprint.pdf.VARIANTS), listed here so that the command line starts without importing it
PDF_VARIANTS = ["pdf/a-1b", "pdf/a-2b", "pdf/a-3b", "pdf/a-2u", "pdf/a-3u", "pdf/a-4u", "pdf/a-1a", "pdf/a-2a",
                "pdf/a-3a", "pdf/ua-1", "pdf/ua-2"]


def report_errors(function):
    """Print a CoalitionError as the user's to fix (no traceback) and exit 1."""

    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DataError as error:
            print_warnings(error.warnings)
            for problem in error.problems:
                click.echo(f"error: {problem}", err=True)
            count = len(error.problems)
            click.echo(f"{count} problem{'s' if count > 1 else ''} found; nothing was written.", err=True)
        except CoalitionError as error:
            click.echo(f"error: {error}", err=True)
        sys.exit(1)

    wrapper.__name__, wrapper.__doc__ = function.__name__, function.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="coalition-letters")
def main():
    """Coalition letters: one letter, many organisations, every official, every language."""


@main.command()
@CAMPAIGN
@ROOT
@OUT
@click.option("--drop-pending", is_flag=True,
              help="Leave off the organisations that have not approved the current proofs, instead of stopping.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes that render PDFs.  [default: all cores]")
@click.option("--no-cache", is_flag=True, help="Render every PDF again instead of reusing unchanged ones.")
@click.option("--pdf-variant", type=click.Choice(PDF_VARIANTS), default=None,
              help="An archival or accessible PDF (tagged), e.g. pdf/a-3b or pdf/ua-1.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--verbose", "-v", is_flag=True, help="Also list every file written.")
@report_errors
def build(campaign, root, out, drop_pending, jobs, no_cache, pdf_variant, quiet, verbose):
    """Build every recipient's final letters for CAMPAIGN into OUT/CAMPAIGN/."""
    from .pipeline import build as build_campaign

    with Progress(enabled=not quiet and sys.stderr.isatty()) as progress:
        report = build_campaign(campaign, root=root, out=out, drop_pending=drop_pending,
                                jobs=jobs or os.cpu_count() or 1, cache=not no_cache, pdf_variant=pdf_variant,
                                progress=progress.update)
    if not quiet:
        print_warnings(report.warnings)
        if verbose:
            for path in sorted(report.folder.rglob("*")):
                if path.is_file():
                    click.echo(f"  {path}")
        click.echo(report.summary())


@main.command()
@CAMPAIGN
@click.option("--languages", required=True, help="The letter's languages, the original first: en,ru,ky.")
@click.option("--style", default="coalition", show_default=True, help="The letterhead: a folder under styles/.")
@ROOT
@report_errors
def new(campaign, languages, style, root):
    """Start CAMPAIGN: a commented letters/CAMPAIGN/campaign.yaml and one letter file per language."""
    from .scaffold import new_campaign

    written = new_campaign(root, campaign, tuple(part.strip() for part in languages.split(",") if part.strip()), style)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"Fill in the empty values and the letter, then run: coalition check {campaign}")


@main.command()
@CAMPAIGN
@ROOT
@report_errors
def check(campaign, root):
    """Check CAMPAIGN's data and letters, reporting every problem at once; writes nothing."""
    from .pipeline import check as check_campaign

    letters = check_campaign(campaign, root=root)
    click.echo(f"{campaign}: no problems found ({letters} letters to build).")


@main.command()
@CAMPAIGN
@click.argument("language")
@ROOT
@report_errors
def translated(campaign, language, root):
    """Record that CAMPAIGN's LANGUAGE translation matches the original as it is now."""
    from .translation import record_fingerprints

    path = record_fingerprints(root, campaign, language)
    click.echo(f"{path}: records the original's current paragraphs; the build will name any that change.")


@main.command()
@CAMPAIGN
@ROOT
@OUT
@report_errors
def proof(campaign, root, out):
    """Make watermarked proofs of CAMPAIGN, change reports and review e-mails into OUT/CAMPAIGN.proof/."""
    from .pipeline import proof as make_proofs

    report = make_proofs(campaign, root=root, out=out)
    print_warnings(report.warnings)
    click.echo(report.summary())


@main.command()
@CAMPAIGN
@click.argument("signatory")
@click.argument("proof_id", metavar="PROOF-ID")
@click.option("--by", required=True, help="Who approved it for the organisation.")
@click.option("--date", "approved_on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="When it approved (YYYY-MM-DD); default: today.")
@ROOT
@report_errors
def approve(campaign, signatory, proof_id, by, approved_on, root):
    """Record that SIGNATORY approved proof PROOF-ID of CAMPAIGN."""
    from .proof import approve as record

    path = record(campaign, signatory, proof_id, by, approved_on.date() if approved_on else None, root=root)
    click.echo(f"{signatory} approved {proof_id}: recorded in {path}")


@main.command()
@CAMPAIGN
@ROOT
@report_errors
def status(campaign, root):
    """Show which organisation approved which proof of CAMPAIGN, per language: current, stale or pending."""
    from .proof import status_table

    click.echo(status_table(campaign, root=root))


class Progress:
    """A progress bar on a terminal for long builds; nothing when output is not a terminal or --quiet is given."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def update(self, done: int, total: int) -> None:
        """(0, total) starts the bar; (done, 0) advances it."""
        if not self.enabled:
            return
        if self.bar is None and total >= 8:  # a short build needs no bar
            self.bar = click.progressbar(length=total, label="rendering", file=sys.stderr)
            self.bar.__enter__()
        elif self.bar is not None:
            self.bar.update(done)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def print_warnings(warnings) -> None:
    """Warnings go to stderr, one line each, before the summary."""
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@CAMPAIGN
@ROOT
@OUT
@click.option("--yes", is_flag=True, help="Really send. Without it, show what would be sent and connect to nothing.")
@click.option("--smtp-host", envvar="COALITION_SMTP_HOST", default="localhost", show_default=True)
@click.option("--smtp-port", envvar="COALITION_SMTP_PORT", type=int, default=587, show_default=True)
@click.option("--smtp-security", envvar="COALITION_SMTP_SECURITY", type=click.Choice(["starttls", "ssl", "none"]),
              default="starttls", show_default=True, help="'none' only to this machine.")
@click.option("--rate", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Messages per minute at most.")
@click.option("--retries", type=click.IntRange(0, 10), default=3, show_default=True,
              help="Retries of a 4xx reply or lost connection, with doubling waits.")
@click.option("--backoff", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds before the first retry.")
@click.option("--resend-in-doubt", "resend_in_doubt", multiple=True, metavar="RECIPIENT",
              help="Resend, with the same Message-ID, a message left in doubt, once a person has checked it did "
                   "not arrive.")
@report_errors
def send(campaign, root, out, yes, smtp_host, smtp_port, smtp_security, rate, retries, backoff, resend_in_doubt):
    """E-mail CAMPAIGN's final letters, each official exactly once (user and password from COALITION_SMTP_USER
    and COALITION_SMTP_PASSWORD). Exits 3 while any message is unsent."""
    import os

    from . import send as sending

    if not yes:
        click.echo(sending.dry_run(root, campaign, out))
        return
    settings = sending.SmtpSettings(smtp_host, smtp_port, smtp_security, os.environ.get("COALITION_SMTP_USER"),
                                    os.environ.get("COALITION_SMTP_PASSWORD"))
    report = sending.send(root, campaign, out, settings, rate=rate, retries=retries, backoff=backoff,
                          resend_in_doubt=resend_in_doubt)
    for line in report.lines:
        click.echo(line)
    if not report.complete:
        click.echo("not everything was sent: see 'coalition status'; run again to send what is unsent", err=True)
        sys.exit(3)
