"""Writing files so that nothing is ever half-written: durable writes, atomic replacement, synced folders."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

TEMPORARY = ".tmp-"  # in the name of a file being written: ".<name>.tmp-<pid>-<random>"


def write_durably(path: Path, data: bytes) -> None:
    """Write a new file and make sure its bytes are on disk before it is published."""
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}{TEMPORARY}{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the half-written files that killed processes left in `folder` (those of live ones stay)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") and TEMPORARY in name and entry.is_file(follow_symlinks=False):
            owner = name.rsplit(TEMPORARY, 1)[1].split("-", 1)[0]
            if owner.isdigit() and not _alive(int(owner)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    """Whether process `pid` is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def explain_os_error(error: OSError) -> str:
    """What a failed file operation means for the user, and what to do: disk full, read-only, and the rest."""
    where = error.filename or "a file"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {where}: the disk is full (or the quota used up): free some space and try again"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write {where}: permission denied (a read-only folder or file): make it writable, or "
                "choose another folder")
    return f"{where}: {error.strerror or error}"


def sync_folder(folder: Path) -> None:
    """Make a folder's entries durable (a rename is only safe once its folder is synced)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
