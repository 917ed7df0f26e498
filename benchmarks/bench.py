"""How fast the pipeline is, measured against bare WeasyPrint rendering the same HTML in the same run.

    python benchmarks/bench.py [--recipients 200] [--jobs N]

Prints, in one run:
- per-letter cost: the pipeline rendering march-2020's letters (one process, no cache) divided by bare
  WeasyPrint writing the very same HTML (stylesheets and fonts prepared once, as a careful user would);
- a campaign of N recipients × 3 languages (600 PDFs by default): wall time of a cold build with all cores,
  and of a no-op rebuild (everything from the cache);
- a cold `python build.py march-2020` in a new process against a new process of bare WeasyPrint writing the same
  PDFs (the median of --cold-runs runs, alternated), and its no-op rebuild;
- peak memory of this process and of the worker processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from coalition.compose import compose_letters  # noqa: E402
from coalition.errors import Problems  # noqa: E402
from coalition.load import load_campaign  # noqa: E402
from coalition.render import Renderer, RenderOptions, render_letters  # noqa: E402
from coalition.usecases import build  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from helpers import approve_current_proofs  # noqa: E402  (one way to approve everything, shared with the tests)


def synthetic_project(target: Path, recipients: int) -> Path:
    """A copy of the project whose march-2020 campaign has `recipients` e-mail recipients reading en, ru and ky."""
    for name in ("letters", "signatories", "styles"):
        shutil.copytree(REPO / name, target / name, ignore=shutil.ignore_patterns("ledger.sqlite*"))
    path = target / "letters" / "march-2020" / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    template = data["recipients"][0]
    data["recipients"] = [
        {**template, "id": f"embassy-{number:03d}", "name": f"Ambassador No. {number}",
         "email": [f"embassy{number}@mfa.example.org"], "channel": "email"}
        for number in range(1, recipients + 1)
    ]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    approve_current_proofs(target)  # the recipients are part of what a proof covers: new recipients, new proofs
    return target



def letter_htmls(root: Path) -> tuple[list[str], Renderer]:
    """The HTML of every letter the pipeline renders for march-2020, and the renderer that made it."""
    problems = Problems(root.resolve())
    campaign = load_campaign(root, "march-2020", problems)
    letters = compose_letters(campaign, problems)
    renderer = Renderer(campaign, problems, letters=letters)
    pages = [renderer.html(letters[language], recipient)
             for recipient in campaign.recipients for language in recipient.languages]
    problems.check()
    return pages, renderer


def bare_weasyprint(pages: list[str], style_folder: Path, stylesheets: tuple, rounds: int,
                    font_css: str = "") -> float:
    """Seconds per letter for WeasyPrint alone: HTML(string).write_pdf with stylesheets parsed once (the style's
    @font-face rules first, as the pipeline gives them)."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = [CSS(string=font_css, font_config=fonts)] if font_css else []
    css += [CSS(filename=str(style_folder / name), font_config=fonts) for name in stylesheets]
    base_url = style_folder.resolve().as_uri() + "/"
    started = time.perf_counter()
    for _ in range(rounds):
        for page in pages:
            HTML(string=page, base_url=base_url).write_pdf(stylesheets=css, font_config=fonts)
    return (time.perf_counter() - started) / (rounds * len(pages))


def pipeline_per_letter(out: Path, rounds: int) -> float:
    """Seconds per letter for the whole pipeline on march-2020 (load to publish), one process, no cache."""
    build("march-2020", root=REPO, out=out, jobs=1, cache=False)  # warm: imports, fonts
    started = time.perf_counter()
    letters = 0
    for _ in range(rounds):
        letters += build("march-2020", root=REPO, out=out, jobs=1, cache=False).rendered
    return (time.perf_counter() - started) / letters


def timed_process(*arguments: str) -> float:
    """Seconds for `python build.py …` in a new process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "build.py"), *arguments], cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


BARE_SCRIPT = """
import sys
from pathlib import Path
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
style, font_css, pages = Path(sys.argv[1]), Path(sys.argv[2]).read_text(encoding="utf-8"), sys.argv[4:]
fonts = FontConfiguration()
css = [CSS(string=font_css, base_url=style.resolve().as_uri() + "/", font_config=fonts)]
css += [CSS(filename=name, font_config=fonts) for name in sys.argv[3].split(",")]
for page in pages:
    HTML(string=Path(page).read_text(encoding="utf-8"), base_url=style.resolve().as_uri() + "/").write_pdf(
        stylesheets=css, font_config=fonts)
"""


def cold_bare_weasyprint(folder: Path) -> float:
    """Seconds for a new process that imports WeasyPrint and writes the PDFs of march-2020's build, one by one."""
    problems = Problems(REPO.resolve())
    campaign = load_campaign(REPO, "march-2020", problems)
    rendered, _ = render_letters(campaign, compose_letters(campaign, problems), problems, RenderOptions(jobs=1))
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for index, item in enumerate(rendered):
        pages.append(folder / f"{index}.html")
        pages[-1].write_text(item.html, encoding="utf-8")
    style = campaign.style
    font_css = folder / "fonts.css"  # the style's @font-face rules, as the pipeline makes them from style.yaml
    font_css.write_text(Renderer(campaign, problems).font_css, encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_SCRIPT, str(style.folder), str(font_css),
                    ",".join(str(style.folder / name) for name in style.stylesheets), *map(str, pages)],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def cold_start(folder: Path, runs: int) -> None:
    """A cold `build.py march-2020` (new process, empty output and cache) against bare WeasyPrint, in one run."""
    builds, bares = [], []
    for run in range(runs):  # alternated, so that both see the same load on a shared machine
        builds.append(timed_process("march-2020", "--out", str(folder / f"cold-{run}"), "--quiet"))
        bares.append(cold_bare_weasyprint(folder / f"bare-{run}"))
    build_time, bare_time = statistics.median(builds), statistics.median(bares)
    print(f"cold build.py march-2020:          {build_time:6.2f} s   (goal ≤ 1.5 s; median of {runs}, "
          f"fastest {min(builds):.2f} s)")
    print(f"cold bare WeasyPrint, same PDFs:    {bare_time:6.2f} s   (a new process: import, stylesheets, "
          f"{len(list((folder / 'bare-0').glob('*.html')))} PDFs); ratio {build_time / bare_time:4.2f}")
    noop = timed_process("march-2020", "--out", str(folder / "cold-0"), "--quiet")
    print(f"no-op rebuild of march-2020:        {noop:6.2f} s   (goal ≤ 0.8 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=200, help="recipients of the large campaign")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes for it")
    parser.add_argument("--rounds", type=int, default=4, help="repetitions of the per-letter comparison")
    parser.add_argument("--cold-runs", type=int, default=5, help="cold builds timed (the median is shown)")
    parser.add_argument("--cold-only", action="store_true", help="only the cold start and the no-op rebuild")
    arguments = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        cold_start(temporary, arguments.cold_runs)
        if arguments.cold_only:
            return

        pipeline = pipeline_per_letter(temporary / "per-letter", arguments.rounds)
        pages, renderer = letter_htmls(REPO)
        style = renderer.campaign.style
        bare = bare_weasyprint(pages, style.folder, style.stylesheets, arguments.rounds, renderer.font_css)
        print(f"per letter: pipeline {pipeline * 1000:6.1f} ms, bare WeasyPrint {bare * 1000:6.1f} ms, "
              f"ratio {pipeline / bare:4.2f}   (goal ≤ 1.15)")

        project = synthetic_project(temporary / "large", arguments.recipients)
        started = time.perf_counter()
        report = build("march-2020", root=project, out=temporary / "large-out", jobs=arguments.jobs)
        wall = time.perf_counter() - started
        print(f"{report.rendered} PDFs ({arguments.recipients} recipients × 3 languages), {arguments.jobs} jobs: "
              f"{wall:6.2f} s   (goal ≤ 30 s)")
        started = time.perf_counter()
        again = build("march-2020", root=project, out=temporary / "large-out", jobs=arguments.jobs)
        print(f"its no-op rebuild: {time.perf_counter() - started:6.2f} s, {again.rendered} PDFs rendered")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {own:.0f} MiB, largest worker {workers:.0f} MiB   (goal ≤ 400 MiB)")


if __name__ == "__main__":
    main()
