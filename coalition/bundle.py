"""Stage 4, bundle: each recipient's files, the manifest, and publishing them all at once.

Outputs are written to a staging folder beside the final one and swapped into place whole, so a build that fails
or is killed leaves out/<campaign>/ either absent (no build yet) or a complete build, the previous or the new.
Only a folder the tool made itself (its manifest says so) is ever replaced, and never one of the sources.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import io
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from .cover import cover_email, cover_environment
from .errors import CoalitionError, Problems
from .files import current_umask, explain_os_error, sync_folder, write_durably
from .model import MADE_BY, Bundle, Campaign, FileKind, Manifest, ManifestEntry, OutputFile, RenderedLetter

ATTACHMENT_LIMIT = 7_000_000  # official mail servers often refuse ~10 MB once base64 has added its third
MANIFEST = "manifest.json"


def make_bundles(campaign: Campaign, rendered: tuple[RenderedLetter, ...], problems: Problems,
                 attachment_limit: int = ATTACHMENT_LIMIT) -> tuple[Bundle, ...]:
    """One bundle per recipient: its letters, then a cover e-mail (e-mail recipients) or an address page (post)."""
    environment = cover_environment(campaign)
    bundles = []
    for recipient in campaign.recipients:
        mine = [item for item in rendered if item.recipient.id == recipient.id]
        files = [OutputFile(f"{recipient.id}/{item.file_name}", item.pdf, FileKind(item.kind),
                            item.language if item.kind == FileKind.LETTER else None, recipient.id) for item in mine]
        letters = tuple(file for file in files if file.kind == FileKind.LETTER)
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
                files.append(OutputFile(f"{recipient.id}/{campaign.id}-{recipient.id}.eml", eml, FileKind.COVER_EMAIL,
                                        recipient.languages[0], recipient.id))
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


def outputs(campaign: Campaign, bundles: tuple[Bundle, ...]) -> list[OutputFile]:
    """Every file of the build, each recipient's zip included."""
    files: list[OutputFile] = []
    for bundle in bundles:
        recipient = bundle.recipient.id
        files += bundle.files
        files.append(OutputFile(f"{recipient}.zip", zip_bundle(campaign, bundle), FileKind.ZIP, None, recipient))
    return files


def input_hashes(campaign: Campaign) -> dict[str, str]:
    """Each file the build read, by path from the project root, with its sha256 (send refuses if one changed)."""
    root = campaign.folder.parent.parent
    paths = [campaign.folder / "campaign.yaml", *(source.path for source in campaign.sources),
             *sorted(campaign.folder.glob("*.j2")), root / "letters" / "references.yaml",
             *(signatory.source for signatory in campaign.signatories),
             *sorted(path for folder in campaign.letterhead.folders for path in folder.rglob("*")
                     if path.is_file())]
    named = {}
    for path in dict.fromkeys(paths):
        if path.is_file():
            resolved = path.resolve()
            name = resolved.relative_to(root.resolve()) if resolved.is_relative_to(root.resolve()) else resolved
            named[name.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return named


def manifest(campaign: Campaign, files: list[OutputFile], proofs: dict[str, str], final: bool = False,
             dropped: dict[str, tuple[str, ...]] | None = None) -> Manifest:
    """Every file written with its sha256, recipient, language and kind (no timestamps: builds reproduce); for a
    `final` build also who signs each language, who was left off, and the sha256 of every input file."""
    entries = tuple(ManifestEntry(file.path, hashlib.sha256(file.data).hexdigest(), len(file.data), file.recipient,
                                  file.language, file.kind) for file in files)
    if not final:
        return Manifest(campaign.id, campaign.date.isoformat(), entries, proofs)
    return Manifest(campaign.id, campaign.date.isoformat(), entries, proofs, input_hashes(campaign),
                    tuple(signatory.id for signatory in campaign.signatories),
                    {language: tuple(signatory.id for signatory in campaign.signatories_of(language))
                     for language in proofs}, dropped or {})


def protected_folders(root: Path, campaign: Campaign) -> tuple[Path, ...]:
    """The folders a build must never write into or replace: the project's sources and the campaign's own."""
    return (root / "letters", root / "signatories", root / "styles", campaign.folder)


def check_output(out: Path, name: str, protected: tuple[Path, ...]) -> Path:
    """The real folder out/<name> stands for (symlinks followed); CoalitionError if replacing it could destroy
    anything: a source folder, or a folder the tool did not make."""
    final = out / name
    real_out, real = out.resolve(), final.resolve()
    for folder in protected:
        source = folder.resolve()
        for path, asked in ((real_out, f"--out {out}"), (real, str(final))):
            relation = ("is" if path == source else "lies inside" if path.is_relative_to(source)
                        else "contains" if source.is_relative_to(path) else None)
            if relation:
                raise CoalitionError(f"refusing to write the build to {final}: {asked} {relation} {folder}, which "
                                     "holds the project's sources; nothing was written (choose an --out outside "
                                     "letters/, signatories/ and styles/, such as out/)")
    if os.path.lexists(real) and not made_by_this_tool(real):
        raise CoalitionError(f"refusing to replace {final}: it was not made by this tool (no {MANIFEST} with its "
                             "mark); nothing was written (move it away, or choose another --out)")
    return real


def made_by_this_tool(folder: Path) -> bool:
    """Whether `folder` is a build this tool published: a real folder whose manifest carries the tool's mark."""
    try:
        listing = Manifest.from_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return folder.is_dir() and listing.made_by == MADE_BY


# Called with the name of each step of publish as it completes: tests make a build die there (see test_atomic).
AFTER_STEP: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if AFTER_STEP is not None:
        AFTER_STEP(name)


def publish(out: Path, name: str, files: list[OutputFile], listing: Manifest,
            protected: tuple[Path, ...] = ()) -> Path:
    """Write `files` and the manifest under out/<name>/, replacing the previous build there in one step.

    out/<name> is there at every instant: absent before the first build, then always one whole build. Builds of
    the same output folder publish one at a time; a folder the tool did not make is never replaced.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(out, error) from None
    with output_lock(out):
        real = check_output(out, name, protected)
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            recover(real.parent, real.name)
            _step("recovered")
            staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.building-", dir=real.parent))
        except OSError as error:
            raise _write_error(real.parent, error) from None
        path = staging
        try:
            staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; the published folder is not
            _step("staging")
            folders = {staging}
            for index, file in enumerate(files):
                path = staging / file.path
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
                write_durably(path, file.data)
                _step(f"file {index}")
            path = staging / MANIFEST
            write_durably(path, listing.to_json().encode())
            _step("manifest")
            for folder in folders:
                sync_folder(folder)
            _step("synced")
            path = real
            swap_into_place(staging, real)
        except OSError as error:
            _undo(staging, real)
            raise _write_error(path, error) from None
        except BaseException:
            _undo(staging, real)
            raise
    return out / name


def swap_into_place(staging: Path, final: Path) -> None:
    """Put `staging` where `final` is, in one atomic step where the system allows it; drop the previous build."""
    if not os.path.lexists(final):
        os.rename(staging, final)
        sync_folder(final.parent)
        _step("swapped")
        return
    if exchange(staging, final):  # Linux: the two folders trade places at once; `final` never goes missing
        sync_folder(final.parent)
        _step("swapped")
        _remove_own(staging)
        _step("cleaned")
        return
    # elsewhere: two renames; a build killed between them leaves the previous one aside, and recover() puts it back
    previous = Path(tempfile.mkdtemp(prefix=f".{final.name}.previous-", dir=final.parent))
    os.rmdir(previous)
    os.rename(final, previous)
    _step("set aside")
    os.rename(staging, final)
    sync_folder(final.parent)
    _step("swapped")
    _remove_own(previous)
    _step("cleaned")


def exchange(first: Path, second: Path) -> bool:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a file system that cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(second))


def recover(out: Path, name: str) -> None:
    """Clean up after a build that was killed: restore the previous build if it was set aside, drop staging.

    Readers of out/<name> call it too (under output_lock), so that they find the previous build even where the
    system could only swap with two renames and a build died between them.
    """
    final = out / name
    for leftover in sorted(out.glob(f".{name}.previous-*")):
        if not os.path.lexists(final) and made_by_this_tool(leftover):
            os.rename(leftover, final)
        elif made_by_this_tool(leftover):
            _remove_own(leftover)
    for leftover in out.glob(f".{name}.building-*"):
        if leftover.is_dir() and not leftover.is_symlink():
            _remove_own(leftover)


@contextlib.contextmanager
def output_lock(out: Path):
    """Hold the output folder for one build at a time; a second build says that it waits, then waits."""
    descriptor = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting: another build is publishing to {out}", file=sys.stderr, flush=True)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock; so does the death of the process


def _undo(staging: Path, final: Path) -> None:
    """After a failed publish: drop the staging folder and put back the previous build if it was set aside."""
    _remove_own(staging)
    recover(final.parent, final.name)


def _remove_own(folder: Path) -> None:
    """Remove a folder this build made (staging, or a replaced build), read-only entries included."""

    def writable_then_retry(function, path, error):
        if isinstance(error[1], FileNotFoundError):
            return
        os.chmod(os.path.dirname(path), 0o700)
        function(path)

    if os.path.lexists(folder):
        shutil.rmtree(folder, onerror=writable_then_retry)


def _write_error(path: Path, error: OSError) -> CoalitionError:
    """An OSError while writing the build, as what the user can do about it."""
    if error.filename is None:
        error.filename = str(path)
    return CoalitionError(f"{explain_os_error(error)}; the previous build, if any, is unchanged")
