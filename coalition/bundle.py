"""Stage 4, bundle: each recipient's files, the manifest, and publishing them all at once.

Outputs are written to a staging folder beside the final one and swapped into place whole, so a build that fails
or is killed leaves out/<campaign>/ either absent or as the previous complete build left it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from .cover import cover_email, cover_environment
from .errors import Problems
from .files import current_umask, sync_folder, write_durably
from .model import Bundle, Campaign, OutputFile, RenderedLetter

ATTACHMENT_LIMIT = 7_000_000  # official mail servers often refuse ~10 MB once base64 has added its third
MANIFEST = "manifest.json"


def make_bundles(campaign: Campaign, rendered: tuple[RenderedLetter, ...], problems: Problems,
                 attachment_limit: int = ATTACHMENT_LIMIT) -> tuple[Bundle, ...]:
    """One bundle per recipient: its letters, then a cover e-mail (e-mail recipients) or an address page (post)."""
    environment = cover_environment(campaign)
    bundles = []
    for recipient in campaign.recipients:
        mine = [item for item in rendered if item.recipient.id == recipient.id]
        files = [OutputFile(item.file_name, item.pdf, item.kind, item.language if item.kind == "letter" else None)
                 for item in mine]
        letters = tuple(file for file in files if file.kind == "letter")
        if recipient.channel == "email":
            total = sum(len(file.data) for file in letters)
            if total > attachment_limit:
                problems.add(campaign.folder / "campaign.yaml", recipient.line,
                             f"recipient {recipient.id!r}: the letters attached come to {total / 1e6:.2f} MB, over "
                             f"the {attachment_limit / 1e6:.2f} MB that official mail servers accept once encoded",
                             "send fewer languages to this recipient, or make the style's images smaller")
                continue
            eml = cover_email(campaign, recipient, letters, environment, problems)
            if eml is not None:
                files.append(OutputFile(f"{campaign.id}-{recipient.id}.eml", eml, "cover-email",
                                        recipient.languages[0]))
        bundles.append(Bundle(recipient, tuple(files)))
    return tuple(bundles)


def zip_bundle(campaign: Campaign, bundle: Bundle) -> bytes:
    """The recipient's files as one zip, the same bytes for the same files (fixed dates and permissions)."""
    stamp = (campaign.date.year, campaign.date.month, campaign.date.day, 12, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in bundle.files:
            entry = zipfile.ZipInfo(f"{bundle.recipient.id}/{file.name}", date_time=stamp)
            entry.external_attr = 0o644 << 16
            # PDFs are compressed already: deflating them again costs time and saves nothing
            entry.compress_type = zipfile.ZIP_STORED if file.name.endswith(".pdf") else zipfile.ZIP_DEFLATED
            archive.writestr(entry, file.data)
    return buffer.getvalue()


def outputs(campaign: Campaign, bundles: tuple[Bundle, ...]) -> list[tuple[str, OutputFile, str]]:
    """Every file of the build as (path under out/<campaign>/, file, recipient id), zips included."""
    files = []
    for bundle in bundles:
        recipient = bundle.recipient.id
        files += [(f"{recipient}/{file.name}", file, recipient) for file in bundle.files]
        files.append((f"{recipient}.zip", OutputFile(f"{recipient}.zip", zip_bundle(campaign, bundle), "zip", None),
                      recipient))
    return files


def input_hashes(campaign: Campaign) -> dict[str, str]:
    """Each file the build read, by path from the project root, with its sha256 (send refuses if one changed)."""
    root = campaign.folder.parent.parent
    paths = [campaign.folder / "campaign.yaml", *(source.path for source in campaign.sources),
             *sorted(campaign.folder.glob("*.j2")), root / "letters" / "references.yaml",
             *(signatory.source for signatory in campaign.signatories),
             *sorted(path for path in campaign.style.folder.rglob("*") if path.is_file())]
    named = {}
    for path in dict.fromkeys(paths):
        if path.is_file():
            resolved = path.resolve()
            name = resolved.relative_to(root.resolve()) if resolved.is_relative_to(root.resolve()) else resolved
            named[name.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return named


def manifest(campaign: Campaign, files: list[tuple[str, OutputFile, str | None]], **extra) -> dict:
    """Every file written with its sha256, recipient, language and kind (no timestamps: builds reproduce), and
    the sha256 of every input file."""
    return {
        "campaign": campaign.id,
        "date": campaign.date.isoformat(),
        **extra,
        "inputs": input_hashes(campaign),
        "files": [
            {"path": path, "sha256": hashlib.sha256(file.data).hexdigest(), "bytes": len(file.data),
             "recipient": recipient, "language": file.language, "kind": file.kind}
            for path, file, recipient in files
        ],
    }


def publish(out: Path, name: str, files: list[tuple[str, OutputFile, str | None]], listing: dict) -> Path:
    """Write `files` and the manifest under out/<name>/, replacing what was there in one step."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / name
    recover(out, name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=out))
    staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; the published folder is not
    try:
        folders = {staging}
        for path, file, _ in files:
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
            write_durably(target, file.data)
        write_durably(staging / MANIFEST, (json.dumps(listing, indent=2, ensure_ascii=False) + "\n").encode())
        for folder in folders:
            sync_folder(folder)
        swap_into_place(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def swap_into_place(staging: Path, final: Path) -> None:
    """Replace `final` by `staging`; the previous version is kept aside until the new one stands."""
    previous = None
    if final.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{final.name}.previous-", dir=final.parent))
        os.rmdir(previous)
        os.rename(final, previous)
    os.rename(staging, final)
    sync_folder(final.parent)
    if previous is not None:
        shutil.rmtree(previous)


def recover(out: Path, campaign_id: str) -> None:
    """Clean up after a build that was killed: restore the previous version if it was set aside, drop staging."""
    final = out / campaign_id
    for leftover in sorted(out.glob(f".{campaign_id}.previous-*")):
        if not final.exists():
            os.rename(leftover, final)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in out.glob(f".{campaign_id}.building-*"):
        shutil.rmtree(leftover, ignore_errors=True)
