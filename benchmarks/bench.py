"""How fast the pipeline is, measured against bare WeasyPrint rendering the same HTML in the same run.

    python benchmarks/bench.py [--recipients 50]

Prints, for march-2020 and for a synthetic campaign of many recipients (march-2020's letter, each recipient in
every language of the campaign): the pipeline's wall time per letter (load, compose, render, bundle, publish),
bare WeasyPrint's time per letter for the very HTML the pipeline rendered (stylesheets and fonts prepared once,
as a careful user of WeasyPrint would), and their ratio. Also: a cold `build.py march-2020` in a new process,
and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
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
from coalition.pipeline import build  # noqa: E402
from coalition.render import Renderer  # noqa: E402


def synthetic_project(target: Path, recipients: int) -> Path:
    """A copy of the project whose march-2020 campaign has `recipients` recipients."""
    for name in ("letters", "signatories", "styles"):
        shutil.copytree(REPO / name, target / name)
    path = target / "letters" / "march-2020" / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    template = data["recipients"][0]
    data["recipients"] = [
        {**template, "id": f"embassy-{number:03d}", "name": f"Ambassador No. {number}",
         "email": [f"embassy{number}@mfa.example.org"], "channel": "email"}
        for number in range(1, recipients + 1)
    ]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def htmls(root: Path, campaign_id: str) -> tuple[list[str], Renderer]:
    """The HTML of every letter the pipeline renders for the campaign, and the renderer that made it."""
    problems = Problems(root.resolve())
    campaign = load_campaign(root, campaign_id, problems)
    letters = compose_letters(campaign, problems)
    renderer = Renderer(campaign, problems)
    pages = [renderer.html(letters[language], recipient)
             for recipient in campaign.recipients for language in recipient.languages]
    problems.check()
    return pages, renderer


def bare_weasyprint(pages: list[str], style_folder: Path, stylesheets: tuple[str, ...]) -> float:
    """Seconds per letter for WeasyPrint alone: HTML(string).write_pdf with stylesheets parsed once."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = [CSS(filename=str(style_folder / name), font_config=fonts) for name in stylesheets]
    base_url = style_folder.resolve().as_uri() + "/"
    started = time.perf_counter()
    for page in pages:
        HTML(string=page, base_url=base_url).write_pdf(stylesheets=css, font_config=fonts)
    return (time.perf_counter() - started) / len(pages)


def measure(label: str, root: Path, out: Path) -> None:
    """Build the campaign under `root` twice (the first warms caches), then compare with bare WeasyPrint."""
    build("march-2020", root=root, out=out)
    started = time.perf_counter()
    report = build("march-2020", root=root, out=out)
    pipeline = (time.perf_counter() - started) / report.letters
    pages, renderer = htmls(root, "march-2020")
    style = renderer.campaign.style
    bare = bare_weasyprint(pages, style.folder, style.stylesheets)
    print(f"{label:<34} {report.letters:>5} letters  pipeline {pipeline * 1000:7.1f} ms/letter  "
          f"bare WeasyPrint {bare * 1000:7.1f} ms/letter  ratio {pipeline / bare:5.2f}")


def cold_build() -> float:
    """Seconds for `python build.py march-2020` in a new process."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "build.py"), "march-2020", "--out", out], cwd=REPO, check=True,
                       capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=50, help="recipients in the synthetic campaign")
    arguments = parser.parse_args()
    print(f"cold build.py march-2020: {cold_build():.2f} s")
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        measure("march-2020", REPO, temporary / "out-march")
        project = synthetic_project(temporary / "synthetic", arguments.recipients)
        measure(f"synthetic, {arguments.recipients} recipients", project, temporary / "out-synthetic")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (this process): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
