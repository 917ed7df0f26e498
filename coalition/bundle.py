"""Stage 4, bundle: each recipient's files, the manifest, and publishing them all at once.

Outputs are written to a staging folder beside the final one and swapped into place whole, so a build that fails
or is killed leaves out/<campaign>/ either absent or as the previous complete build left it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .model import Bundle, Campaign, OutputFile, RenderedLetter

MANIFEST = "manifest.json"


def letter_file_name(campaign: Campaign, recipient_id: str, language: str) -> str:
    """The PDF's name: unambiguous once attached to an e-mail or downloaded ('march-2020-president-en.pdf')."""
    return f"{campaign.id}-{recipient_id}-{language}.pdf"


def make_bundles(campaign: Campaign, rendered: tuple[RenderedLetter, ...]) -> tuple[Bundle, ...]:
    """One bundle per recipient, holding its letters in the order of its languages."""
    bundles = []
    for recipient in campaign.recipients:
        files = tuple(OutputFile(letter_file_name(campaign, recipient.id, letter.language), letter.pdf, "letter",
                                 letter.language)
                      for letter in rendered if letter.recipient.id == recipient.id)
        bundles.append(Bundle(recipient, files))
    return tuple(bundles)


def manifest(campaign: Campaign, bundles: tuple[Bundle, ...]) -> dict:
    """Every file of the build with its sha256, recipient, language and kind (no timestamps: builds reproduce)."""
    return {
        "campaign": campaign.id,
        "date": campaign.date.isoformat(),
        "files": [
            {"path": f"{bundle.recipient.id}/{file.name}", "sha256": hashlib.sha256(file.data).hexdigest(),
             "bytes": len(file.data), "recipient": bundle.recipient.id, "language": file.language, "kind": file.kind}
            for bundle in bundles for file in bundle.files
        ],
    }


def publish(out: Path, campaign: Campaign, bundles: tuple[Bundle, ...]) -> Path:
    """Write every bundle and the manifest under out/<campaign>/, replacing the previous build in one step."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / campaign.id
    recover(out, campaign.id)
    staging = Path(tempfile.mkdtemp(prefix=f".{campaign.id}.building-", dir=out))
    staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; the published folder is not
    try:
        for bundle in bundles:
            folder = staging / bundle.recipient.id
            folder.mkdir()
            for file in bundle.files:
                write_durably(folder / file.name, file.data)
            sync_folder(folder)
        text = json.dumps(manifest(campaign, bundles), indent=2, ensure_ascii=False) + "\n"
        write_durably(staging / MANIFEST, text.encode())
        sync_folder(staging)
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


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_durably(path: Path, data: bytes) -> None:
    """Write a new file and make sure its bytes are on disk before it is published."""
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def sync_folder(folder: Path) -> None:
    """Make a folder's entries durable (a rename is only safe once its folder is synced)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
