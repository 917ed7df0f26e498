"""A build killed at any moment leaves out/<campaign> absent or exactly its previous complete version."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import REPO, edit


def complete(folder: Path) -> bool:
    """Every file the manifest lists is there with its sha256, and nothing else is."""
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    present = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()} - {"manifest.json"}
    return present == set(listed) and all(
        hashlib.sha256((folder / path).read_bytes()).hexdigest() == digest for path, digest in listed.items())


def test_builds_killed_at_many_moments_never_leave_a_half_written_output(project, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "build.py"), "march-2020", "--root", str(project), "--out", str(out),
               "--no-cache", "--jobs", "1"]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(command, check=True, capture_output=True, env=environment)
    previous = json.loads((out / "march-2020" / "manifest.json").read_text())
    # a different text, so that a new version is distinguishable from the previous one
    edit(project / "letters/march-2020/campaign.yaml", "Mr. Sooronbay Jeenbekov", "H.E. Sooronbay Jeenbekov")
    outcomes = set()
    for delay in [0.3 + 0.1 * step for step in range(12)]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        folder = out / "march-2020"
        if folder.exists():
            assert complete(folder), f"half-written output after a kill at {delay:.1f} s"
            current = json.loads((folder / "manifest.json").read_text())
            outcomes.add("previous" if current == previous else "new")
        else:
            outcomes.add("absent")
        leftovers = [path.name for path in out.iterdir() if path.name not in ("march-2020", ".cache")]
        assert all(name.startswith(".march-2020.") for name in leftovers), leftovers
    assert "previous" in outcomes  # killed before the swap at least once
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    assert complete(out / "march-2020")
    assert sorted(path.name for path in out.iterdir()) == ["march-2020"]  # leftovers cleaned up (no cache asked)
