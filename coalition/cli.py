"""The command line: parse options, call one library function, print its result or its errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import CoalitionError, DataError
from .files import explain_os_error

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

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
        except OSError as error:  # a full disk or a read-only folder met outside the stages that explain it
            click.echo(f"error: {explain_os_error(error)}", err=True)
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
              help="Leave each organisation off the letters of the languages whose current proof it has not "
                   "approved, instead of stopping.")
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
    from .usecases import build as build_campaign

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
    from .usecases import new as new_campaign

    written = new_campaign(campaign, tuple(part.strip() for part in languages.split(",") if part.strip()), style,
                           root=root)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"Fill in the empty values and the letter, then run: coalition check {campaign}")


@main.command()
@CAMPAIGN
@ROOT
@click.option("--no-layout", is_flag=True,
              help="Check the data, letters and templates only, in a moment, without laying out any page.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes that lay out the letters.  [default: all cores]")
@report_errors
def check(campaign, root, no_layout, jobs):
    """Check CAMPAIGN as the final build would, reporting every problem at once; writes nothing.

    Every letter is laid out in memory, so a footnote that cannot be placed on its call's page, or text that
    would run off the page, is found here. Approvals still missing are warnings: the build stops on them."""
    from .usecases import check as check_campaign

    report = check_campaign(campaign, root=root, layout=not no_layout, jobs=jobs or os.cpu_count() or 1)
    print_warnings(report.warnings)
    laid_out = (f"; {report.laid_out} PDFs laid out, address pages included" if not no_layout
                else "; pages not laid out (--no-layout)")
    click.echo(f"{campaign}: no problems found ({report.letters} letters to build{laid_out}).")


@main.command()
@CAMPAIGN
@click.argument("language")
@ROOT
@report_errors
def translated(campaign, language, root):
    """Record that CAMPAIGN's LANGUAGE translation matches the original as it is now."""
    from .usecases import translated as record_translation

    path = record_translation(campaign, language, root=root)
    click.echo(f"{path}: records the original's current paragraphs; the build will name any that change.")


BASE_URL = click.option("--base-url", envvar="COALITION_BASE_URL", default=None, metavar="URL",
                        help="The address the review service is reached at (e.g. https://review.example.net), for "
                             "the private links.  [env: COALITION_BASE_URL]")
SECRET_FILE = click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                           help="The server secret that signs private links (made, mode 0600, on first use).  "
                                "[default: $COALITION_SECRET_FILE or ~/.config/coalition/secret]")


SMTP_OPTIONS = (
    click.option("--smtp-host", envvar="COALITION_SMTP_HOST", default="localhost", show_default=True,
                 help="The SMTP server that relays the e-mails (or COALITION_SMTP_HOST)."),
    click.option("--smtp-port", envvar="COALITION_SMTP_PORT", type=int, default=587, show_default=True,
                 help="Its port (or COALITION_SMTP_PORT)."),
    click.option("--smtp-security", envvar="COALITION_SMTP_SECURITY",
                 type=click.Choice(["starttls", "ssl", "none"]), default="starttls", show_default=True,
                 help="'none' only to this machine."),
    click.option("--smtp-deadline", envvar="COALITION_SMTP_DEADLINE", type=click.FloatRange(min=0.1), default=120.0,
                 show_default=True, help="Seconds one exchange with the server may take (greeting and login, or one "
                 "message), however slowly it answers."),
    click.option("--rate", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                 help="Messages per minute at most."),
    click.option("--retries", type=click.IntRange(0, 10), default=3, show_default=True,
                 help="Further tries in this run of an address deferred (4xx), with doubling waits."),
    click.option("--backoff", type=click.FloatRange(min=0), default=5.0, show_default=True,
                 help="Seconds before the first of those tries."),
    click.option("--wait", is_flag=True, help="Wait for another send of the campaign to finish instead of refusing."),
)


def smtp_options(command):
    """The SMTP server options `send` and `proof --send-reviews` share."""
    for option in reversed(SMTP_OPTIONS):
        command = option(command)
    return command


def smtp_settings(host: str, port: int, security: str, deadline: float):
    """Where to send, with the user and password from COALITION_SMTP_USER and COALITION_SMTP_PASSWORD."""
    from .smtp import SmtpSettings

    return SmtpSettings(host, port, security, os.environ.get("COALITION_SMTP_USER"),
                        os.environ.get("COALITION_SMTP_PASSWORD"), deadline=deadline)


@main.command()
@CAMPAIGN
@ROOT
@OUT
@BASE_URL
@SECRET_FILE
@click.option("--send-reviews", is_flag=True,
              help="Also e-mail each organisation whose approval is not current its review e-mail with its private "
                   "link, once per proof round. A dry run unless --yes.")
@click.option("--yes", is_flag=True, help="With --send-reviews: really send.")
@smtp_options
@report_errors
def proof(campaign, root, out, base_url, secret_file, send_reviews, yes, smtp_host, smtp_port, smtp_security,
          smtp_deadline, rate, retries, backoff, wait):
    """Make watermarked proofs of CAMPAIGN, change reports and review e-mails into OUT/CAMPAIGN.proof/.

    With --base-url, each review e-mail carries the organisation's private review link; with --send-reviews
    --yes they are sent (SMTP user and password from COALITION_SMTP_USER and COALITION_SMTP_PASSWORD). Exits 3
    while a review e-mail is unsent, refused or in doubt."""
    from . import usecases
    from .send import SendOptions

    if yes and not send_reviews:
        raise click.UsageError("--yes sends the review e-mails: give it with --send-reviews")
    if not send_reviews:
        report = usecases.proof(campaign, root=root, out=out, base_url=base_url,
                                secret_file=secret_path_option(secret_file) if base_url else None)
        print_warnings(report.warnings)
        click.echo(report.summary())
        return
    def made(report) -> None:
        print_warnings(report.warnings)
        click.echo(report.summary())

    settings = smtp_settings(smtp_host, smtp_port, smtp_security, smtp_deadline) if yes else None
    options = SendOptions(rate=rate, retries=retries, backoff=backoff, wait=wait)
    _, reviews = usecases.proof_and_send_reviews(campaign, root, out, base_url, secret_path_option(secret_file),
                                                 settings, options, report=click.echo, proofs_made=made)
    if not yes:
        click.echo("\n".join(reviews.lines))
    click.echo(reviews.summary)
    if not reviews.complete:
        click.echo("not every review e-mail went out: see above", err=True)
        sys.exit(3)


@main.command()
@CAMPAIGN
@click.argument("signatory")
@click.argument("proof_id", metavar="PROOF-ID")
@click.option("--by", required=True, help="Who approved it for the organisation.")
@click.option("--role", default="", help="That person's role in the organisation.")
@click.option("--date", "approved_on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="When it approved (YYYY-MM-DD); default: now.")
@ROOT
@report_errors
def approve(campaign, signatory, proof_id, by, role, approved_on, root):
    """Record that SIGNATORY approved proof PROOF-ID of CAMPAIGN (appended to its approvals.yaml)."""
    import getpass
    import socket

    from .usecases import approve as record

    path = record(campaign, signatory, proof_id, by, role, approved_on.date() if approved_on else None,
                  f"{getpass.getuser()}@{socket.gethostname()}", root=root)
    click.echo(f"{signatory} approved {proof_id}: recorded in {path}")


@main.command(name="upgrade-approvals")
@CAMPAIGN
@ROOT
@report_errors
def upgrade_approvals(campaign, root):
    """Convert CAMPAIGN's approvals.yaml from the old format to the history of events, keeping its meaning."""
    from .usecases import upgrade_approvals as upgrade

    path, count = upgrade(campaign, root=root)
    click.echo(f"{path}: {count} approvals written as events")


@main.command()
@CAMPAIGN
@ROOT
@OUT
@report_errors
def status(campaign, root, out):
    """Show CAMPAIGN's state: approvals per organisation and language, translations, build, deliveries, next step."""
    from .status import status_text
    from .usecases import status as campaign_status

    click.echo(status_text(campaign_status(campaign, root=root, out=out)))


@main.command()
def fields():
    """Print the reference of every YAML field the tool reads (Markdown), as kept in docs/fields.md."""
    from .schema import field_reference

    click.echo(field_reference(), nl=False)


@main.command()
@CAMPAIGN
@ROOT
@BASE_URL
@SECRET_FILE
@click.option("--revoke", multiple=True, metavar="ORG", help="Revoke ORG's link: it opens nothing any more.")
@click.option("--regenerate", multiple=True, metavar="ORG", help="Give ORG a new link (the old one stops working).")
@report_errors
def links(campaign, root, base_url, secret_file, revoke, regenerate):
    """Show each organisation's private review link for CAMPAIGN (made where missing), and the dashboard's."""
    from .usecases import links as links_text

    click.echo(links_text(campaign, root, base_url or "http://127.0.0.1:8000", secret_path_option(secret_file),
                          tuple(revoke), tuple(regenerate)))


@main.command()
@ROOT
@OUT
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; 127.0.0.1 keeps the service to this machine (put a TLS reverse "
                   "proxy in front to expose it).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="The port to listen on.")
@BASE_URL
@SECRET_FILE
@click.option("--debug", is_flag=True, help="Log the traceback of an unexpected error, for a bug report.")
@report_errors
def serve(root, out, host, port, base_url, secret_file, debug):
    """Serve the review pages and the coordinator's dashboard for the campaigns under ROOT."""
    from .web.app import serve as run

    run(root, out, host, port, base_url or f"http://{host}:{port}", secret_path_option(secret_file),
        announce=click.echo, debug=debug)


def secret_path_option(secret_file: Path | None) -> Path:
    """The secret file to use: the option, the environment or the default."""
    from .records.links import secret_path

    return secret_path(secret_file)


class Progress:
    """A progress bar on a terminal for long builds; nothing when output is not a terminal or --quiet is given."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: ProgressBar[int] | None = None

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
@smtp_options
@click.option("--archive", metavar="ADDRESS", default=None,
              help="Where the coordinator's copy of every message goes (in the envelope only).  [default: the "
                   "sender's address]")
@click.option("--no-archive", is_flag=True, help="Send no coordinator's copy.")
@click.option("--retry", multiple=True, metavar="RECIPIENT",
              help="Try again the addresses of RECIPIENT (or 'all') that the server refused, once the cause is fixed.")
@click.option("--resend", "--resend-in-doubt", "resend", multiple=True, metavar="RECIPIENT",
              help="Send again, with the same Message-ID, a message left in doubt, once a person has checked it did "
                   "not arrive.")
@click.option("--correct", multiple=True, metavar="RECIPIENT",
              help="Send RECIPIENT's changed letter as a correction (new Message-ID, References to the first, a "
                   "line saying what it replaces).")
@report_errors
def send(campaign, root, out, yes, smtp_host, smtp_port, smtp_security, smtp_deadline, rate, retries, backoff,
         archive, no_archive, retry, resend, correct, wait):
    """E-mail CAMPAIGN's final letters, each address exactly once (user and password from COALITION_SMTP_USER
    and COALITION_SMTP_PASSWORD). Exits 3 while any address is unsent, refused or in doubt."""
    from . import usecases
    from .send import SendOptions

    options = SendOptions(rate=rate, retries=retries, backoff=backoff,
                          archive="" if no_archive else archive, retry=retry, resend=resend, correct=correct,
                          wait=wait)
    if not yes:
        click.echo(usecases.dry_run(campaign, root, out, options))
        return
    settings = smtp_settings(smtp_host, smtp_port, smtp_security, smtp_deadline)
    report = usecases.send(campaign, root, out, settings, options, report=click.echo)
    click.echo(report.summary)
    if not report.complete:
        click.echo(f"not everything was delivered: see 'coalition status {campaign}'", err=True)
        sys.exit(3)


@main.command()
@CAMPAIGN
@click.argument("recipient")
@click.option("--by", required=True, help="Who confirmed that it arrived.")
@click.option("--review", is_flag=True,
              help="RECIPIENT is a signatory organisation and the message its review e-mail, not a letter.")
@ROOT
@report_errors
def confirm(campaign, recipient, by, review, root):
    """Record that the in-doubt message to RECIPIENT arrived after all (a person checked)."""
    from .usecases import confirm as confirm_arrived

    click.echo(confirm_arrived(campaign, recipient, by, root=root, review=review))


@main.command()
@CAMPAIGN
@click.argument("recipient")
@click.option("--by", required=True, help="Who mailed it.")
@click.option("--date", "mailed_on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="When it was mailed (YYYY-MM-DD); default: today.")
@click.option("--tracking", default=None, help="The postal tracking number, if any.")
@ROOT
@report_errors
def mailed(campaign, recipient, by, mailed_on, tracking, root):
    """Record that post-only RECIPIENT's printed bundle was mailed."""
    from .usecases import mailed as record_mailed

    click.echo(record_mailed(campaign, recipient, by, mailed_on.date() if mailed_on else None, tracking, root=root))
