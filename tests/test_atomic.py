"""A build killed or failing at any moment leaves out/<campaign> absent or one whole build, the previous or the new.

Publish is driven step by step: a hook (coalition.bundle.AFTER_STEP) makes a forked child die at step k, for every
k, and the test checks what a reader then finds. Real builds are also killed at moments spread over their run
with two worker processes, and must leave neither half a build nor a process behind.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import coalition.bundle
from coalition.bundle import MANIFEST, publish, recover
from coalition.model import FileKind, Manifest, ManifestEntry, OutputFile
from helpers import REPO, approve_current_proofs, edit


def complete(folder: Path) -> bool:
    """Every file the manifest lists is there with its sha256, and nothing else is."""
    manifest = json.loads((folder / MANIFEST).read_text())
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    present = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()} - {MANIFEST}
    return present == set(listed) and all(
        hashlib.sha256((folder / path).read_bytes()).hexdigest() == digest for path, digest in listed.items())


def version(label: str, count: int = 6) -> tuple[list[OutputFile], Manifest]:
    """The files and manifest of a build whose every file says `label` (its manifest's date, here)."""
    files = [OutputFile(f"recipient-{index // 3}/letter-{index}.pdf", f"{label} {index}\n".encode() * 100,
                        FileKind.LETTER, "en", f"recipient-{index // 3}") for index in range(count)]
    entries = tuple(ManifestEntry(file.path, hashlib.sha256(file.data).hexdigest(), len(file.data), file.recipient,
                                  file.language, file.kind) for file in files)
    return files, Manifest("c", label, entries, {})


def steps_of_a_publish(tmp_path: Path) -> list[str]:
    """The names of publish's steps when it replaces an earlier build, in order."""
    out = tmp_path / "steps"
    publish(out, "c", *version("previous"))
    seen: list[str] = []
    coalition.bundle.AFTER_STEP = seen.append
    try:
        publish(out, "c", *version("new"))
    finally:
        coalition.bundle.AFTER_STEP = None
    return seen


def die_at(step: str, out: Path) -> None:
    """Publish the new version in a forked child that is killed (no clean-up runs) right after `step`."""
    child = os.fork()
    if child == 0:
        def kill_here(name: str) -> None:
            if name == step:
                os.kill(os.getpid(), signal.SIGKILL)
        coalition.bundle.AFTER_STEP = kill_here
        try:
            publish(out, "c", *version("new"))
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"never reached {step!r}"


@pytest.mark.parametrize("swap", ["exchange", "two renames"])
def test_a_publish_killed_after_any_step_leaves_the_previous_or_the_new_build_whole(tmp_path, monkeypatch, swap):
    if swap == "two renames":  # systems without an atomic exchange: readers recover the previous build
        monkeypatch.setattr(coalition.bundle, "exchange", lambda first, second: False)
    steps = steps_of_a_publish(tmp_path)
    assert {"staging", "file 0", "file 5", "manifest", "swapped"} <= set(steps)
    assert ("set aside" in steps) == (swap == "two renames")
    outcomes = []
    for step in steps:
        out = tmp_path / step.replace(" ", "-")
        publish(out, "c", *version("previous"))
        die_at(step, out)
        if swap == "two renames":
            recover(out, "c")  # what a reader does first (send, status), under the output lock
        assert (out / "c").is_dir(), f"out/c absent after a kill after step {step!r}"
        assert complete(out / "c"), f"half a build after a kill after step {step!r}"
        outcomes.append(json.loads((out / "c" / MANIFEST).read_text())["date"])
        publish(out, "c", *version("newest"))  # the next build cleans up whatever the killed one left
        assert sorted(path.name for path in out.iterdir()) == ["c"]
    assert outcomes[0] == "previous" and outcomes[-1] == "new"  # both sides of the swap were reached


def test_a_publish_interrupted_at_any_step_leaves_one_whole_build_and_no_temporary_file(tmp_path):
    for step in steps_of_a_publish(tmp_path):
        out = tmp_path / step.replace(" ", "-")
        publish(out, "c", *version("previous"))

        def interrupt(name: str, step=step) -> None:
            if name == step:
                raise KeyboardInterrupt

        coalition.bundle.AFTER_STEP = interrupt
        try:
            with pytest.raises(KeyboardInterrupt):
                publish(out, "c", *version("new"))
        finally:
            coalition.bundle.AFTER_STEP = None
        assert complete(out / "c")
        assert sorted(path.name for path in out.iterdir()) == ["c"], f"leftovers after step {step!r}"


def test_a_full_disk_while_publishing_is_an_error_that_keeps_the_previous_build(tmp_path, monkeypatch):
    out = tmp_path / "out"
    publish(out, "c", *version("previous"))
    written = []

    def fill_the_disk(path: Path, data: bytes) -> None:
        if len(written) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written.append(path)
        path.write_bytes(data)

    monkeypatch.setattr(coalition.bundle, "write_durably", fill_the_disk)
    with pytest.raises(coalition.errors.CoalitionError, match="the disk is full"):
        publish(out, "c", *version("new"))
    assert json.loads((out / "c" / MANIFEST).read_text())["date"] == "previous" and complete(out / "c")
    assert sorted(path.name for path in out.iterdir()) == ["c"]


def test_a_read_only_output_folder_is_an_error_not_a_traceback(project, cli, tmp_path, monkeypatch):
    def read_only(path: Path, data: bytes) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(coalition.bundle, "write_durably", read_only)
    result = cli("build", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "permission denied (a read-only folder or file)" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# Real builds, killed ---------------------------------------------------------------------------------------------

def bigger_project(project: Path, recipients: int = 8) -> Path:
    """The project with march-2020 sent to `recipients` e-mail recipients in three languages: a longer render."""
    path = project / "letters" / "march-2020" / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    template = data["recipients"][0]
    data["recipients"] = [{**template, "id": f"embassy-{number}", "email": [f"embassy{number}@mfa.example.org"]}
                          for number in range(recipients)]
    data["date"] = str(data["date"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    approve_current_proofs(project)  # the recipients are part of the proofs
    return project


def build_command(project: Path, out: Path, *options: str) -> list[str]:
    """`python build.py march-2020` for `project` into `out`, with two worker processes."""
    return [sys.executable, str(REPO / "build.py"), "march-2020", "--root", str(project), "--out", str(out),
            "--jobs", "2", *options]


ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO)}


def children_of(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def gone(pids: set[int]) -> bool:
    """Whether none of `pids` is running any more (zombies reaped by init count as gone)."""
    for pid in pids:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            return False
    return True


def test_a_killed_parallel_build_leaves_no_process(project, tmp_path):
    bigger_project(project)
    process = subprocess.Popen(build_command(project, tmp_path / "out", "--no-cache"), env=ENVIRONMENT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    while len(workers) < 2 and process.poll() is None:  # until both workers are rendering
        workers = children_of(process.pid)
        time.sleep(0.02)
    assert len(workers) == 2, "the build never started its two workers"
    process.send_signal(signal.SIGKILL)
    process.wait()
    for _ in range(500):  # the kernel delivers the workers' death signal at once; allow a loaded machine
        if gone(workers):
            break
        time.sleep(0.02)
    assert gone(workers), f"workers {workers} outlived their killed build"


def test_builds_killed_at_many_moments_never_leave_a_half_written_output(project, tmp_path):
    bigger_project(project, recipients=3)
    out = tmp_path / "out"
    command = build_command(project, out, "--no-cache")
    subprocess.run(command, check=True, capture_output=True, env=ENVIRONMENT)
    previous = json.loads((out / "march-2020" / MANIFEST).read_text())
    # a different text, so that a new version is distinguishable from the previous one
    edit(project / "letters/march-2020/campaign.yaml", "Mr. Sooronbay Jeenbekov", "H.E. Sooronbay Jeenbekov", 3)
    approve_current_proofs(project)  # the recipient's name is part of the proofs
    outcomes = set()
    for delay in [0.3 + 0.15 * step for step in range(12)]:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENVIRONMENT)
        time.sleep(delay)
        workers = children_of(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        folder = out / "march-2020"
        assert folder.is_dir(), f"out/march-2020 absent after a kill at {delay:.2f} s"
        assert complete(folder), f"half-written output after a kill at {delay:.2f} s"
        current = json.loads((folder / MANIFEST).read_text())
        outcomes.add("previous" if current == previous else "new")
        leftovers = [path.name for path in out.iterdir() if path.name != "march-2020"]
        assert all(name.startswith(".march-2020.") for name in leftovers), leftovers
        for _ in range(500):
            if gone(workers):
                break
            time.sleep(0.02)
        assert gone(workers), f"workers outlived a build killed at {delay:.2f} s"
    assert "previous" in outcomes  # killed before the swap at least once
    done = subprocess.run(command, capture_output=True, text=True, env=ENVIRONMENT)
    assert done.returncode == 0, done.stderr
    assert complete(out / "march-2020")
    assert sorted(path.name for path in out.iterdir()) == ["march-2020"]  # leftovers cleaned up (no cache asked)


def test_two_builds_of_one_campaign_publish_one_after_the_other_with_a_message(project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = os.open(out, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another build is publishing
    try:
        process = subprocess.Popen(build_command(project, out, "--no-cache"), env=ENVIRONMENT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        waiting = process.stderr.readline()
        assert f"waiting: another build is publishing to {out}" in waiting
        assert not (out / "march-2020").exists()
    finally:
        os.close(holder)
    _, errors = process.communicate()
    assert process.returncode == 0, errors
    assert complete(out / "march-2020")


def test_a_damaged_cache_entry_is_rendered_again_not_published(project, cli, tmp_path):
    out = tmp_path / "out"
    assert cli("build", "march-2020", "--root", project, "--out", out, "--jobs", "1").exit_code == 0
    good = {path.name: path.read_bytes() for path in (out / "march-2020").rglob("*.pdf")}
    entries = sorted((out / ".cache").rglob("*.pdf"))
    damaged = entries[0]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    (entries[1].with_suffix(".json")).write_text("{not json")
    result = cli("build", "march-2020", "--root", project, "--out", out, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "(2 PDFs rendered" in result.output
    assert {path.name: path.read_bytes() for path in (out / "march-2020").rglob("*.pdf")} == good
    assert complete(out / "march-2020")
    assert damaged.read_bytes() != bytes(data)  # and the entry was replaced


def test_half_written_cache_files_of_killed_builds_are_removed(tmp_path):
    from coalition.cache import PdfCache

    shard = tmp_path / "cache" / "ab"
    shard.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = shard / f".abcd.pdf.tmp-{int(dead.stdout)}-x1y2"
    live = shard / f".abcd.json.tmp-{os.getpid()}-x1y2"
    entry = shard / "abcd.pdf"
    for path in (stale, live, entry):
        path.write_bytes(b"%PDF")
    PdfCache(tmp_path / "cache", (REPO / "styles" / "coalition",), {})
    assert sorted(path.name for path in shard.iterdir()) == sorted([live.name, entry.name])


def test_a_read_only_proof_history_is_an_error_not_a_traceback(project, cli, tmp_path, monkeypatch):
    import coalition.usecases

    def read_only_history(campaign, proof, made):
        path = campaign.folder / "proofs" / f"{proof.id}.json"
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(coalition.usecases, "record_proof", read_only_history)
    result = cli("proof", "march-2020", "--root", project, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "error: cannot write " in result.output and "/proofs/" in result.output
    assert "permission denied (a read-only folder or file)" in result.output and "Traceback" not in result.output


def test_two_builds_started_together_both_succeed_and_leave_one_whole_build(project, tmp_path):
    out = tmp_path / "out"
    processes = [subprocess.Popen(build_command(project, out), env=ENVIRONMENT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for process in processes:
        _, errors = process.communicate()
        assert process.returncode == 0 and "Traceback" not in errors, errors
    assert complete(out / "march-2020")
    assert sorted(path.name for path in out.iterdir()) == [".cache", "march-2020"]


def test_a_pdf_cached_by_another_version_of_the_pipelines_stylesheet_is_not_used(tmp_path, monkeypatch):
    import coalition.cache as cache

    style = tmp_path / "style"
    style.mkdir()
    (style / "style.css").write_text("p { margin: 0 }")
    here = cache.PdfCache(tmp_path / "cache", (style,), {}).key("<p>a letter</p>")
    older = tmp_path / "layout.css"
    older.write_text(cache.RENDERING_FILES[0].read_text().replace("break-word", "anywhere"))
    monkeypatch.setattr(cache, "RENDERING_FILES", (older, *cache.RENDERING_FILES[1:]))
    assert cache.PdfCache(tmp_path / "cache", (style,), {}).key("<p>a letter</p>") != here


def test_a_pdf_cached_under_other_font_libraries_is_not_used(tmp_path, monkeypatch):
    import coalition.cache as cache

    style = tmp_path / "style"
    style.mkdir()
    (style / "style.css").write_text("p { margin: 0 }")
    assert re.fullmatch(r"pango-1\.0 \d+\.\d+\.\d+, harfbuzz \d+\.\d+\.\d+, harfbuzz-subset (present|none)",
                        cache.native_libraries())
    here = cache.PdfCache(tmp_path / "cache", (style,), {}).key("<p>a letter</p>")
    monkeypatch.setattr(cache, "native_libraries", lambda: "pango-1.0 0.0.0, harfbuzz 0.0.0, harfbuzz-subset none")
    assert cache.PdfCache(tmp_path / "cache", (style,), {}).key("<p>a letter</p>") != here  # fontTools' subsets
