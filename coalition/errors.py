"""Every error a user can see: one base class; data problems name the file, the line and what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn


class CoalitionError(Exception):
    """A problem the user can fix; the command line prints it without a traceback and exits 1."""


@dataclass(frozen=True)
class Problem:
    """One data problem: where it is, what is wrong, and what to do about it."""

    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class DataError(CoalitionError):
    """One or more data problems, all reported together."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | tuple[Problem, ...] = ()):
        unique = list(dict.fromkeys(problems))  # the same problem found twice is reported once
        self.problems = sorted(unique, key=lambda problem: (problem.file, problem.line))
        self.warnings = list(dict.fromkeys(warnings))
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass
class Problems:
    """Collects data problems across a whole run so that they are reported at once."""

    root: Path
    found: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def add(self, file: Path | str, line: int | None, message: str, hint: str = "") -> None:
        """Record a problem in `file` (shown relative to the project root) at `line` (1-based, 0 if none)."""
        self.found.append(Problem(self.relative(file), line or 0, message, hint))

    def warn(self, file: Path | str, line: int | None, message: str, hint: str = "") -> None:
        """Record something the user should know that does not stop this run."""
        self.warnings.append(Problem(self.relative(file), line or 0, message, hint))

    def relative(self, file: Path | str) -> str:
        """The path as the user knows it: relative to the project root where possible."""
        path = Path(file)
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def check(self) -> None:
        """Raise every problem found so far as one DataError."""
        if self.found:
            raise DataError(self.found, self.warnings)

    def stop(self) -> NoReturn:
        """Raise every problem found so far: for a step that cannot go on without what they broke."""
        assert self.found, "a step stops only for a problem it has recorded"
        raise DataError(self.found, self.warnings)
