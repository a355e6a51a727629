"""The shape of the `sandbox` package, read from its source with `ast` (no import needed).

No import cycle among its modules (function-local imports count too: a cycle hidden inside a
function is still a cycle), no module reaches for a private name of another, and `migrators` is
used only through its top-level face.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sandbox"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _target(module: str, name: str | None = None) -> str | None:
    """The sandbox module an import refers to: `from a.b import c` is a.b.c when that is a module."""
    if name and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module if module in MODULES else None


def _in_import_error_handler(tree: ast.AST) -> set[int]:
    """ids of import nodes inside `except ImportError:` (a fallback for an older `migrators`)."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name):
            if node.type.id in ("ImportError", "ModuleNotFoundError"):
                inside.update(id(child) for child in ast.walk(node))
    return inside


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str, str | None]]:
    """(node, module, imported name or None) for every import, at any depth."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node, node.module, alias.name) for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, tree in TREES.items():
        for _, module, imported in _imports(tree):
            target = _target(module, imported)
            if target and target != name:
                graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first node repeated at the end), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_read_from_real_imports() -> None:
    graph = import_graph()
    assert "sandbox.pipeline.stage" in graph["sandbox.pipeline.migrate"]
    assert "sandbox.deps.registry" in graph["sandbox.deps.service"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_sandbox_modules() -> None:
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_private_name_of_another(name: str) -> None:
    tree = TREES[name]
    offences = [
        f"line {node.lineno}: from {module} import {imported}"
        for node, module, imported in _imports(tree)
        if imported and imported.startswith("_") and not imported.startswith("__")
    ]
    aliases = {
        alias.asname or alias.name
        for node, module, imported in _imports(tree)
        if _target(module, imported) in MODULES and isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == imported and _target(module, imported) == f"{module}.{imported}"
    }
    offences += [
        f"line {node.lineno}: {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    ]
    assert offences == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_sandbox_uses_only_the_top_level_face_of_migrators(name: str) -> None:
    tree = TREES[name]
    fallback = _in_import_error_handler(tree)
    offences = [
        f"line {node.lineno}: {module}" + (f" import {imported}" if imported else "")
        for node, module, imported in _imports(tree)
        if module.startswith("migrators.") and id(node) not in fallback
    ]
    offences += [
        f"line {node.lineno}: from migrators import {imported}"
        for node, module, imported in _imports(tree)
        if module == "migrators" and imported and imported.startswith("_")
    ]
    assert offences == []


def test_the_stage_order_is_the_pipeline_of_the_docs() -> None:
    from sandbox.pipeline import STAGES

    names = [stage.name for stage in STAGES]
    assert names == ["resolve", "copy", "baseline", "migrate", "fix", "build", "test", "health", "gate"]
    assert all(f"sandbox.pipeline.{stage.name}" in MODULES for stage in STAGES)
