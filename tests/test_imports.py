"""The package's import graph, read from the source with ast: no cycle, and no module that only the
tests use (docs/architecture.md: every module is used by the package or the tasks)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "keelson"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(folder: str) -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / folder).rglob("*.py"))}


def imported(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, at run time or for type checking alike.

    ``from keelson import k8s`` names the module keelson.k8s; ``from keelson.gates import run``
    names the package keelson.gates. A package is not counted as imported by its own
    submodules merely because Python runs its ``__init__`` first.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def graph() -> dict[str, set[str]]:
    package = modules(PACKAGE)
    return {name: imported(path, set(package)) for name, path in package.items()}


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as the chain of modules (first == last), or [] when there is none."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once every edge was followed
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = "done"
        return []

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_from_imports_of_modules_and_of_names() -> None:
    known = {"keelson", "keelson.k8s", "keelson.gates", "keelson.gates.index", "keelson.models"}
    engine = ROOT / PACKAGE / "gates" / "engine.py"
    assert imported(engine, known) == {"keelson.k8s", "keelson.gates.index", "keelson.models"}


def test_the_package_has_no_import_cycle() -> None:
    assert cycle(graph()) == []


def test_every_module_is_used_by_the_package_or_the_tasks() -> None:
    edges = graph()
    package = set(edges)
    users = {target for targets in edges.values() for target in targets}
    for path in modules("tasks").values():
        users |= imported(path, package)
    unused = sorted(package - users - {PACKAGE})
    assert unused == []
