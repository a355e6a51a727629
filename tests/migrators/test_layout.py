"""The shape of `migrators/`, read from its source with `ast`: no import cycle, no import hidden in a
function, no module reaching for another module's private name, and a framework (core/, files/) that
names no upgrade, so adding one never means editing it."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from migrators import rule_catalogue, upgrade_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "migrators"


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: set[str] = field(default_factory=set)  # migrators modules it imports
    private: list[str] = field(default_factory=list)  # "module._name" it reaches for
    local_imports: list[int] = field(default_factory=list)  # lines of imports inside a def/class


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def load_modules() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    for module in modules.values():
        scan_imports(module, modules)
    return modules


def absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    is_package = module.path.name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def scan_imports(module: Module, modules: dict[str, Module]) -> None:
    bound: dict[str, str] = {}  # local name -> migrators module it is bound to
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            module.local_imports += [
                inner.lineno for inner in ast.walk(node) if isinstance(inner, (ast.Import, ast.ImportFrom))
            ]
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    module.imports.add(alias.name)
                    bound[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            if source not in modules:
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                if target in modules:  # `from package import module`
                    module.imports.add(target)
                    bound[alias.asname or alias.name] = target
                else:
                    module.imports.add(source)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        module.private.append(f"{source}.{alias.name}")
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            module.private.append(f"{bound[node.value.id]}.{node.attr}")


def find_cycle(modules: dict[str, Module]) -> list[str] | None:
    state: dict[str, str] = {}  # visiting | done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "visiting"
        for target in sorted(modules[name].imports - {name}):
            if state.get(target) == "visiting":
                return [*path, name, target]
            if target not in state and (cycle := visit(target, [*path, name])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(modules):
        if name not in state and (cycle := visit(name, [])):
            return cycle
    return None


MODULES = load_modules()


def test_the_import_graph_has_no_cycle():
    assert len(MODULES) > 15  # the walk found the package
    assert find_cycle(MODULES) is None, " -> ".join(find_cycle(MODULES) or [])


def test_no_import_is_hidden_inside_a_function_or_class():
    hidden = {name: m.local_imports for name, m in MODULES.items() if m.local_imports}
    assert hidden == {}


def test_no_module_uses_a_private_name_of_another_module():
    private = {name: m.private for name, m in MODULES.items() if m.private}
    assert private == {}


def test_core_and_files_name_no_upgrade():
    names = upgrade_names()
    prefixes = {rule.split("-")[0] for rules in rule_catalogue().values() for rule in rules}
    mentions = re.compile(
        r"(?i)\b(" + "|".join(re.escape(n) for n in names) + r")\b|\b(" + "|".join(prefixes) + r")-\d"
    )
    offenders = {}
    for name, module in MODULES.items():
        if not name.startswith(("migrators.core", "migrators.files")):
            continue
        upgrade_imports = sorted(i for i in module.imports if i.startswith("migrators.upgrades"))
        found = sorted({m.group(0) for m in mentions.finditer(module.path.read_text())})
        if upgrade_imports or found:
            offenders[name] = upgrade_imports + found
    assert offenders == {}


def test_the_graph_sees_the_edges_it_should():
    """A guard on the test itself: the known edges are found, so an empty result means something."""
    assert "migrators.core.upgrade" in MODULES["migrators.core.registry"].imports
    assert "migrators.upgrades.influxdb3.flux" in MODULES["migrators.upgrades.influxdb3.flux_sql"].imports
    fake = Module("migrators.x", PACKAGE / "x.py", ast.parse("from migrators.core.results import _hidden\n"))
    scan_imports(fake, {**MODULES, "migrators.x": fake})
    assert fake.private == ["migrators.core.results._hidden"]
    looped = {
        "a": Module("a", PACKAGE / "a.py", ast.parse(""), imports={"b"}),
        "b": Module("b", PACKAGE / "b.py", ast.parse(""), imports={"a"}),
    }
    assert find_cycle(looped) == ["a", "b", "a"]
