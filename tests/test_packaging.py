"""A plain, non-editable install of the package builds the same bytes as the working copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO, frozen_project


def tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_wheel_installed_in_a_fresh_virtualenv_builds_the_same_bytes(tmp_path):
    wheels, environment, source = tmp_path / "wheels", tmp_path / "venv", tmp_path / "source"
    # a clean copy: a stale build/ folder in the working copy would hide files missing from the package data
    shutil.copytree(REPO / "coalition", source / "coalition", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
                   cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(environment)], check=True)
    installed = subprocess.run([str(environment / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                                *map(str, wheels.glob("*.whl"))], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    project = frozen_project()
    for out, command in ((tmp_path / "wheel-out", [str(environment / "bin" / "coalition")]),
                         (tmp_path / "editable-out", [sys.executable, "-m", "coalition"])):
        done = subprocess.run([*command, "build", "march-2020", "--root", str(project), "--out", str(out),
                               "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    wheel_files, editable_files = tree(tmp_path / "wheel-out" / "march-2020"), tree(tmp_path / "editable-out" /
                                                                                       "march-2020")
    assert wheel_files.keys() == editable_files.keys()
    assert [name for name in wheel_files if wheel_files[name] != editable_files[name]] == []
