"""The package follows the data flow (issue 17): one subpackage per stage, no module imports a
stage downstream of its own, no import cycles, no module longer than one sitting's read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "qa"
# Upstream first. A module may import its own stage, the shared modules and earlier stages.
STAGES = ["ingest", "embed", "index", "query", "folder", "web", "cli"]
SHARED = {"errors", "settings", "names", "wording"}
MAX_LINES = 300
OVER_THE_LIMIT: dict[str, int] = {  # split next; a module may only shrink towards the limit
    "web/service.py": 310,
}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path


def imported(path: Path) -> set[str]:
    """Every qa module this file imports, at any depth (lazy imports in functions count)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "qa":
                names |= {f"qa.{alias.name}" for alias in node.names}
            elif node.module.startswith("qa."):
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("qa.")}
    return names


def module_name(name: str) -> str:
    """ "index/build.py" -> "qa.index.build"; "index/__init__.py" -> "qa.index"."""
    return ("qa." + name.removesuffix(".py").replace("/", ".")).removesuffix(".__init__")


def stage_of(module: str) -> str | None:
    """ "qa.index.build" -> "index"; None for the shared modules and the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


@pytest.mark.parametrize(("name", "path"), list(modules()))
def test_no_module_imports_a_stage_downstream_of_its_own(name: str, path: Path) -> None:
    own = stage_of(module_name(name))
    if own is None:
        allowed = set(STAGES) if name == "__init__.py" else set()  # qa.ask opens the engine
    else:
        allowed = set(STAGES[: STAGES.index(own) + 1])
    for module in imported(path):
        stage = stage_of(module)
        top = module.split(".")[1] if "." in module else module
        assert (stage is None and top in SHARED | {"qa"}) or stage in allowed, (
            f"{name} imports {module}: stage {stage} is downstream of {own}"
        )


def test_no_import_cycles() -> None:
    graph = {module_name(name): imported(path) for name, path in modules()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*visiting, node])
        visiting.append(node)
        for target in graph.get(node, ()):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in graph:
        visit(node)


@pytest.mark.parametrize(("name", "path"), list(modules()))
def test_every_module_reads_in_one_sitting(name: str, path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= OVER_THE_LIMIT.get(name, MAX_LINES), f"{name} has {lines} lines"
