"""Templates from styles and campaigns are code from elsewhere: they run in Jinja's immutable sandbox, read only
files inside their own folders (symlinks resolved), and a failure is reported at the template's own file:line."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import Problems


class ConfinedLoader(jinja2.BaseLoader):
    """Loads templates by name from the first folder that has them; refuses anything whose resolved path (after
    following symlinks) lies outside every allowed folder."""

    def __init__(self, folders: tuple[Path, ...]):
        self.folders = tuple(folder.resolve() for folder in folders)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        if "\\" in template or template.startswith("/") or any(part in ("", ".", "..")
                                                               for part in template.split("/")):
            raise jinja2.TemplateNotFound(template, "a template name is a file name inside the style's folders")
        for folder in self.folders:
            path = folder / template
            if not os.path.lexists(path):
                continue
            resolved = path.resolve()
            if not any(resolved.is_relative_to(allowed) for allowed in self.folders):
                raise jinja2.TemplateNotFound(template, f"{path} leads outside the style's and campaign's folders")
            if not resolved.is_file():
                continue
            source = resolved.read_text(encoding="utf-8")
            mtime = resolved.stat().st_mtime
            return source, str(path), lambda: resolved.stat().st_mtime == mtime
        raise jinja2.TemplateNotFound(template)


@functools.lru_cache(maxsize=16)
def environment(folders: tuple[Path, ...], html: bool) -> ImmutableSandboxedEnvironment:
    """A sandboxed environment over `folders` (the first that has a template wins); HTML is autoescaped. One per
    set of folders, so that each template is compiled once (a changed file is reloaded: see get_source)."""
    sandbox = ImmutableSandboxedEnvironment(loader=ConfinedLoader(folders), autoescape=html,
                                            undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    sandbox.globals = {"range": range}  # no cycler, joiner, namespace or lipsum: nothing a letter needs
    return sandbox


OBJECT_NAME = re.compile(r"'(?:\w+\.)*(\w+) object'")


def template_line(error: BaseException, folders: tuple[Path, ...]) -> tuple[Path | None, int]:
    """The template file and line an error was raised from (the innermost template frame in its traceback)."""
    where: tuple[Path | None, int] = (None, 0)
    resolved = tuple(folder.resolve() for folder in folders)
    traceback = error.__traceback__
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_filename
        if name.endswith(".j2") and any(Path(name).resolve().is_relative_to(folder) for folder in resolved):
            where = (Path(name), traceback.tb_lineno)
        traceback = traceback.tb_next
    return where


def render(sandbox: ImmutableSandboxedEnvironment, name: str, values: dict, problems: Problems,
           folders: tuple[Path, ...], fallback: Path) -> str | None:
    """Template `name` rendered with `values`, or None with its problem recorded at its file:line (`fallback`
    is the file blamed when the template cannot be found at all)."""
    try:
        return sandbox.get_template(name).render(**values)
    except jinja2.TemplateNotFound as error:
        missing = error.name or name
        where = fallback if missing == name else (template_line(error, folders)[0] or fallback)
        problems.add(where, template_line(error, folders)[1] if missing != name else 0,
                     f"template {missing!r} not found in {', '.join(str(folder) for folder in folders)}"
                     + (f": {error.message}" if error.message and error.message != missing else ""),
                     "templates may only use files inside the style's folders")
    except jinja2.TemplateSyntaxError as error:
        problems.add(Path(error.filename) if error.filename else fallback, error.lineno,
                     f"template error: {error.message}")
    except jinja2.UndefinedError as error:
        path, line = template_line(error, folders)
        # "'coalition.printed.Page object' has no attribute 'nme'" is said as the template author sees it
        said = OBJECT_NAME.sub(lambda match: f"'{match[1].lower()}'", error.message or "")
        problems.add(path or fallback, line, f"template uses an undefined value: {said}",
                     "fix the name in the template, or add the string to style.yaml")
    except jinja2.sandbox.SecurityError as error:
        path, line = template_line(error, folders)
        problems.add(path or fallback, line, f"template refused: {error}",
                     "templates may only print the values they are given")
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError,
            OverflowError, RecursionError) as error:
        path, line = template_line(error, folders)
        problems.add(path or fallback, line, f"template failed: {type(error).__name__}: {error}",
                     "fix the template")
    return None
