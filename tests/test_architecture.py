"""The shape of the package: no import cycles, WeasyPrint only where rendering happens, every command documented."""

from __future__ import annotations

import ast

import click

from coalition.cli import main
from helpers import REPO

PACKAGE = REPO / "coalition"


def imports() -> dict[str, set[str]]:
    """module -> the package's modules it imports (at any depth in the file)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = ".".join(parts[:-1])
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [f"{target}.{alias.name}" for alias in node.names]
                found |= {name for name in names if (REPO / (name.replace(".", "/") + ".py")).is_file()
                          or (REPO / name.replace(".", "/") / "__init__.py").is_file()} or {target}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[module] = {name for name in found if name.startswith("coalition") and name != module}
    return graph


def test_the_package_has_no_import_cycle():
    graph = imports()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(target):] + [target]))
            if target in graph and not state.get(target):
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module)


def test_weasyprint_is_imported_only_where_rendering_happens():
    users = sorted(str(path.relative_to(REPO)) for path in PACKAGE.rglob("*.py")
                   if "import weasyprint" in path.read_text() or "from weasyprint" in path.read_text())
    assert users == ["coalition/pdf.py"]


def commands() -> dict[str, click.Command]:
    """Every command and subcommand, by its full name."""
    found = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            found[f"{prefix}{name}"] = command
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")

    walk(main, "")
    return found


def test_every_command_has_help_text_and_appears_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, command in commands().items():
        assert (command.help or "").strip(), f"'coalition {name}' has no help text"
        assert f"coalition {name}" in readme, f"'coalition {name}' is not in README.md"
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert (parameter.help or "").strip(), f"'coalition {name} {parameter.opts[0]}' has no help text"


def test_the_field_reference_is_current():
    from coalition.schema import field_reference

    assert (REPO / "docs" / "fields.md").read_text(encoding="utf-8") == field_reference(), \
        "docs/fields.md is out of date: run 'coalition fields > docs/fields.md'"
