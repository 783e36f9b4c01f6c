"""ARCHITECTURE.md is the map of the package: it names every module, on its floor, and the
imports keep to the floors (none climbs to a higher floor, none goes round in a circle)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tsforecast"

_FLOOR_LINE = re.compile(r"^(\d+)\s")
_TOKEN = re.compile(r"^(?:\w+\.py|\w+/)$")


def floors() -> dict[str, int]:
    """Module -> floor, read from the fenced block of ARCHITECTURE.md's "Floors" section.

    A line starting with a number opens that floor; a following indented line continues it.
    ``name.py`` is a module; ``name/`` is a package, which holds the ``.py`` names after it
    on its line and on the indented lines that follow. Other words are description.
    Modules are named relative to the package: ``cli``, ``data.windows``, ``data`` (its
    ``__init__.py``); the package's own ``__init__.py`` is ``""``.
    """
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text[text.index("## Floors") :]
    block = section[section.index("```") : section.index("```", section.index("```") + 3)]
    found: dict[str, int] = {}
    floor, package = None, ""
    for line in block.splitlines()[1:]:
        start = _FLOOR_LINE.match(line)
        if start:
            floor, package = int(start.group(1)), ""
            line = line[start.end() :]
        elif not line.startswith(" ") or floor is None:
            continue
        for token in line.split():
            if not _TOKEN.match(token):
                continue
            if token.endswith("/"):
                package = token[:-1]
                name = package
            elif token == "__init__.py":
                name = package
            else:
                name = ".".join(filter(None, [package, token[:-3]]))
            assert name not in found, f"ARCHITECTURE.md names {name or '__init__.py'} twice"
            found[name] = floor
    return found


def package_modules() -> dict[str, Path]:
    """Every module of the package, named as :func:`floors` names them."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports(source: str, module: str, modules: set[str]) -> set[str]:
    """The package's modules that ``source`` (of ``module``) imports, anywhere in it: inside
    functions and ``TYPE_CHECKING`` blocks too. ``from a import b`` imports the module
    ``a.b`` when there is one, else a name of ``a``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{module}: a relative import; the package imports by full name"
            base = node.module or ""
            names = []
            for alias in node.names:
                submodule = f"{base}.{alias.name}".removeprefix("tsforecast").lstrip(".")
                names.append(f"{base}.{alias.name}" if submodule in modules else base)
        else:
            continue
        for name in names:
            if name == "tsforecast" or name.startswith("tsforecast."):
                found.add(name.removeprefix("tsforecast").lstrip("."))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = package_modules()
    return {name: imports(path.read_text(), name, set(modules)) for name, path in modules.items()}


def test_architecture_names_every_module_and_no_other():
    mapped, real = set(floors()), set(package_modules())
    missing = sorted(m or "__init__.py" for m in real - mapped)
    gone = sorted(m or "__init__.py" for m in mapped - real)
    assert not missing, f"modules missing from ARCHITECTURE.md's floors: {missing}"
    assert not gone, f"ARCHITECTURE.md names modules that do not exist: {gone}"


def test_no_import_climbs_to_a_higher_floor():
    floor = floors()
    climbs = [
        f"{name or '__init__'} (floor {floor[name]}) imports {other} (floor {floor[other]})"
        for name, imported in import_graph().items()
        for other in sorted(imported)
        if name in floor and other in floor and floor[other] > floor[name]
    ]
    assert not climbs, "imports that climb:\n" + "\n".join(climbs)


def test_no_imports_go_round_in_a_circle():
    graph = import_graph()
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                return [*path[path.index(other) :], other]
            if other not in state:
                circle = visit(other)
                if circle:
                    return circle
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            circle = visit(name)
            assert circle is None, "imports go round: " + " -> ".join(circle)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from tsforecast.data import windows\n", {"data.windows"}),
        ("from tsforecast.config import Config, dump_config\n", {"config"}),
        ("def f():\n    import tsforecast.models.layers\n", {"models.layers"}),
        ("from tsforecast import __version__, plots\n", {"", "plots"}),
        ("import numpy\nfrom keras import ops\n", set()),
    ],
)
def test_imports_are_read_as_the_modules_they_name(source, expected):
    assert imports(source, "commands.probe", set(package_modules())) == expected
