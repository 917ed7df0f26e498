"""Fast and reproducible: byte-identical outputs, a no-op rebuild renders nothing, parallel equals serial."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from coalition.usecases import build
from helpers import approve_current_proofs, edit, frozen_project, REPO


def tree(folder: Path) -> dict:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_two_builds_in_other_processes_time_zones_and_locales_are_byte_identical(tmp_path):
    outs = []
    for number, (zone, locale) in enumerate([("UTC", "C.UTF-8"), ("Asia/Bishkek", "ru_RU.UTF-8")]):
        out = tmp_path / f"out{number}"
        environment = {**os.environ, "TZ": zone, "LC_ALL": locale, "LANG": locale, "PYTHONPATH": str(REPO)}
        done = subprocess.run([sys.executable, str(REPO / "build.py"), "march-2020", "--root", str(frozen_project()),
                               "--out", str(out), "--no-cache", "--jobs", str(number + 1)], cwd=REPO, capture_output=True, text=True,
                              env=environment)
        assert done.returncode == 0, done.stderr
        outs.append(tree(out / "march-2020"))
    assert outs[0].keys() == outs[1].keys()
    assert [name for name in outs[0] if outs[0][name] != outs[1][name]] == []


def test_a_no_op_rebuild_renders_nothing_and_writes_the_same_bytes(project, tmp_path):
    out = tmp_path / "out"
    first = build("march-2020", root=project, out=out)
    before = tree(out / "march-2020")
    second = build("march-2020", root=project, out=out)
    assert (first.rendered, second.rendered) == (6, 0)
    assert tree(out / "march-2020") == before


def test_changing_one_recipient_re_renders_only_its_pdfs(project, tmp_path):
    out = tmp_path / "out"
    build("march-2020", root=project, out=out)
    edit(project / "letters/march-2020/campaign.yaml", "      - Washington, DC 20008", "      - Washington, D.C. 20008")
    approve_current_proofs(project)  # the address is part of the proofs
    report = build("march-2020", root=project, out=out)
    assert report.rendered == 3  # the embassy's en and ru letters and its address page; none of the President's


def test_parallel_workers_make_the_same_pdfs_as_one_process(project, tmp_path):
    serial = build("march-2020", root=project, out=tmp_path / "serial", jobs=1, cache=False)
    from coalition import render

    render.PARALLEL_FROM, saved = 1, render.PARALLEL_FROM  # five letters are too few to start workers otherwise
    try:
        parallel = build("march-2020", root=project, out=tmp_path / "parallel", jobs=2, cache=False)
    finally:
        render.PARALLEL_FROM = saved
    assert serial.rendered == parallel.rendered == 6
    assert tree(tmp_path / "serial" / "march-2020") == tree(tmp_path / "parallel" / "march-2020")


def test_pdf_a_variant_carries_what_an_archive_needs(project, tmp_path):
    build("march-2020", root=project, out=tmp_path / "out", pdf_variant="pdf/a-3b")
    reader = PdfReader(tmp_path / "out" / "march-2020" / "president" / "march-2020-president-en.pdf")
    root = reader.trailer["/Root"]
    assert "/Metadata" in root and "/OutputIntents" in root
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfaid:part" in xmp and b"RE: Case of Azimjon Askarov" in xmp
    assert root["/Lang"] == "en" and "/StructTreeRoot" in root


def test_two_proof_runs_write_the_same_review_emails(project, tmp_path):
    from coalition.usecases import proof

    proof("march-2020", root=project, out=tmp_path / "one")
    proof("march-2020", root=project, out=tmp_path / "two")
    assert tree(tmp_path / "one" / "march-2020.proof") == tree(tmp_path / "two" / "march-2020.proof")
