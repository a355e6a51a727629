"""pytest-asyncio 0.21-0.26 -> 1.x (docs/rules.md, PA-1 … PA-16).

Project-wide facts (mode, event_loop overrides, wider-scoped async fixtures) are gathered once by
``analyze``; the codemod then applies every Python rule to a test file in one traversal, and
``rewrite_files`` writes PA-2's defaults into the table that already holds pytest's configuration.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from migrators.core.bindings import statement_parts
from migrators.core.codemod import LightVisitor, MigrationCodemod, dotted
from migrators.core.results import Change
from migrators.core.tree import EditSet, ProjectTree, is_test_file
from migrators.core.upgrade import Packages, Upgrade
from migrators.core.versions import Versions
from migrators.core.walk import find_all, walk
from migrators.files import pytest_config
from migrators.files.requirements import RequirementRule, declared_packages
from migrators.upgrades.pytest_asyncio_loop import LoopSweeper

SCOPES = ["function", "class", "module", "package", "session"]
FIXTURE_QNAMES = {"pytest.fixture", "pytest_asyncio.fixture"}
PLAIN_FIXTURE = {"pytest.fixture"}
ASYNC_MARK = {"pytest.mark.asyncio"}
REMOVED_PLUGIN_NAMES = {
    "event_loop",
    "MultipleEventLoopsRequestedError",
    "wrap_in_sync",
    "pytest_runtest_setup",
}
LOOP_SOURCES = {"asyncio.get_event_loop", "asyncio.get_running_loop"}
POLICY_FACTORIES = {
    "uvloop.EventLoopPolicy": ("uvloop", "uvloop.new_event_loop"),
    "asyncio.DefaultEventLoopPolicy": ("asyncio", "asyncio.new_event_loop"),
}


def wider(a: str, b: str) -> bool:
    return SCOPES.index(a) > SCOPES.index(b) if a in SCOPES and b in SCOPES else False


def _str_value(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value if isinstance(node.evaluated_value, str) else None
    return None


def _kwarg(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


def _append_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    args = list(call.args)
    if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, arg])


def _fixture_decorator(fn: cst.FunctionDef) -> tuple[int, cst.Decorator] | None:
    for i, deco in enumerate(fn.decorators):
        target = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        if dotted(target) in ("pytest.fixture", "fixture", "pytest_asyncio.fixture"):
            return i, deco
    return None


def _fixture_scope(deco: cst.Decorator) -> tuple[str | None, bool]:
    """(scope, is_literal). No scope argument -> ('function', True)."""
    if not isinstance(deco.decorator, cst.Call):
        return "function", True
    arg = _kwarg(deco.decorator, "scope")
    if arg is None:
        return "function", True
    value = _str_value(arg.value)
    return (value, True) if value else (None, False)


# --- classification of an event_loop override -----------------------------------------------------


def classify_override(fn: cst.FunctionDef) -> tuple[str, str]:
    """('simple', '') | ('custom', what) for PA-3/PA-11."""
    code = cst.Module(body=[fn]).code
    if "uvloop" in code:
        return "custom", "uvloop"
    for needle, what in (
        ("set_event_loop_policy", "sets a loop policy"),
        ("set_debug", "sets debug"),
        ("set_exception_handler", "installs an exception handler"),
        ("set_event_loop", "calls asyncio.set_event_loop"),
    ):
        if needle in code:
            return "custom", what
    body = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []
    loop_name = None
    for stmt in body:
        if m.matches(stmt, m.SimpleStatementLine(body=[m.Expr(m.SimpleString())])):
            continue
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return "custom", "does more than create, yield and close a loop"
        small = stmt.body[0]
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and isinstance(small.value, cst.Call)
        ):
            callee = dotted(small.value.func) or ""
            if (
                callee in ("asyncio.new_event_loop", "asyncio.get_event_loop_policy().new_event_loop")
                or m.matches(
                    small.value.func,
                    m.Attribute(
                        value=m.Call(func=m.Attribute(attr=m.Name("get_event_loop_policy"))),
                        attr=m.Name("new_event_loop"),
                    ),
                )
                or callee in ("asyncio.get_event_loop", "new_event_loop")
            ):
                loop_name = small.targets[0].target.value
                continue
            return "custom", f"creates its loop with {callee or 'a custom call'}"
        if (
            isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Yield)
            and (small.value.value is None or m.matches(small.value.value, m.Name(loop_name or "\0")))
        ):
            continue
        if isinstance(small, cst.Return) and m.matches(small.value, m.Name(loop_name or "\0")):
            continue
        if isinstance(small, cst.Expr) and m.matches(
            small.value,
            m.Call(func=m.Attribute(value=m.Name(loop_name or "\0"), attr=m.Name("close")), args=[]),
        ):
            continue
        return "custom", "does more than create, yield and close a loop"
    return ("simple", "") if loop_name else ("custom", "does not create its loop in a recognised way")


@dataclass
class Override:
    rel: str
    klass: str | None
    scope: str | None
    kind: str  # simple | custom
    what: str = ""
    line: int = 0


@dataclass
class PAState:
    mode: str = "strict"
    foreign_plugin: bool = False  # anyio's pytest plugin or pytest-trio in use
    overrides: list[Override] = field(default_factory=list)
    root_override: Override | None = None
    subtree_scopes: dict[str, str] = field(default_factory=dict)  # dir/ or file -> loop scope
    class_scopes: dict[tuple[str, str], str] = field(default_factory=dict)
    fixture_default: str = "function"
    test_default: str | None = None
    existing_fixture_default: str | None = None
    pa5_code_edits: bool = False
    wide_fixtures: dict[str, str] = field(default_factory=dict)  # fixture name -> loop scope
    config_path: str | None = None
    plugin_modules: set[str] = field(default_factory=set)  # files named by pytest_plugins

    def subtree_scope(self, rel: str) -> str | None:
        if rel in self.subtree_scopes:
            return self.subtree_scopes[rel]
        best = None
        for prefix, scope in self.subtree_scopes.items():
            if (
                prefix.endswith("/")
                and rel.startswith(prefix)
                and (best is None or len(prefix) > len(best[0]))
            ):
                best = (prefix, scope)
            if prefix == "" and best is None:
                best = (prefix, scope)
        return best[1] if best else None

    def test_loop_scope(self, rel: str) -> str:
        return self.subtree_scope(rel) or self.test_default or "function"

    def fixture_loop_scope(self, rel: str, scope: str) -> str:
        sub = self.subtree_scope(rel)
        if sub:
            return sub
        if self.fixture_default == "fixture-scope":
            return scope
        return self.fixture_default


def _root_conftests(config: pytest_config.PytestConfig, tree: ProjectTree) -> set[str]:
    roots = {"conftest.py"}
    for tp in config.testpaths:
        roots.add(f"{tp.strip('/')}/conftest.py")
    if not tree.exists("conftest.py"):
        roots |= {"tests/conftest.py", "test/conftest.py"}
    return roots


class _FixtureScan:
    """The event_loop overrides and async fixtures of a module, in source order, with the innermost
    enclosing class of each. Defs and classes are statements: only statement blocks are walked (what
    a CSTVisitor would do, without a visit of every expression node)."""

    def __init__(self):
        self.overrides: list[tuple[str | None, cst.FunctionDef]] = []
        self.async_fixtures: list[
            tuple[str, str | None, bool, cst.FunctionDef]
        ] = []  # name, scope, literal, node
        self.classes: list[str] = []

    def scan(self, nodes: Sequence[cst.CSTNode]) -> None:
        for node in nodes:
            if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                continue
            if isinstance(node, cst.ClassDef):
                self.classes.append(node.name.value)
                self.scan(statement_parts(node))
                self.classes.pop()
                continue
            if isinstance(node, cst.FunctionDef):
                self.visit_FunctionDef(node)
            self.scan(statement_parts(node))

    def visit_FunctionDef(self, node: cst.FunctionDef):
        found = _fixture_decorator(node)
        if found is None:
            return
        if node.name.value == "event_loop":
            self.overrides.append((self.classes[-1] if self.classes else None, node))
        elif node.asynchronous is not None:
            scope, literal = _fixture_scope(found[1])
            name = node.name.value
            if isinstance(found[1].decorator, cst.Call):
                name_arg = _kwarg(found[1].decorator, "name")
                name = _str_value(name_arg.value) if name_arg else name
            explicit = (
                _kwarg(found[1].decorator, "loop_scope") if isinstance(found[1].decorator, cst.Call) else None
            )
            self.async_fixtures.append(
                (
                    name or node.name.value,
                    _str_value(explicit.value) if explicit else scope,
                    literal and (explicit is None or _str_value(explicit.value) is not None),
                    node,
                )
            )


_PLUGINS = re.compile(r"^pytest_plugins\s*=\s*(?P<value>\[[^\]]*\]|\([^)]*\)|[^\n]*)", re.M)


def _addopts_plugins(addopts: list[str]) -> set[str]:
    """Modules `addopts = -p fixtures.db` loads (`-p no:x` disables a plugin instead)."""
    names = set()
    for i, opt in enumerate(addopts):
        value = (
            addopts[i + 1]
            if opt == "-p" and i + 1 < len(addopts)
            else opt[2:]
            if opt.startswith("-p")
            else ""
        )
        if value and not value.startswith("no:"):
            names.add(value)
    return names


def _plugin_modules(tree: ProjectTree, texts: dict[str, str], loaded: set[str]) -> set[str]:
    """Files outside the test folders that a conftest or test module loads as pytest plugins
    (`pytest_plugins = ["fixtures.db"]`, or `-p fixtures.db` in addopts): their fixtures and
    event_loop overrides are the suite's own, so every rule applies to them as to a conftest."""
    names: set[str] = set(loaded)
    for text in texts.values():
        for found in _PLUGINS.finditer(text):
            names.update(re.findall(r"[\"']([\w.]+)[\"']", found.group("value")))
    if not names:
        return set()
    wanted = {n.replace(".", "/") + suffix for n in names for suffix in (".py", "/__init__.py")}
    return {
        rel
        for rel in tree.python_files()
        if not is_test_file(rel) and any(rel == w or rel.endswith("/" + w) for w in wanted)
    }


def analyze_tree(tree: ProjectTree, versions: Versions) -> PAState:
    config = pytest_config.find_config(tree)
    state = PAState(mode=config.asyncio_mode, config_path=config.path)
    state.existing_fixture_default = config.get("asyncio_default_fixture_loop_scope")
    # a loop scope the configuration already gives every test (a root override replaces it below);
    # a second run reads here the value the first wrote for a deleted root override
    state.test_default = config.get("asyncio_default_test_loop_scope") or None
    test_files = [f for f in tree.python_files() if is_test_file(f)]
    texts = {f: tree.read(f) for f in test_files}
    state.plugin_modules = _plugin_modules(tree, texts, _addopts_plugins(config.addopts))
    texts.update({f: tree.read(f) for f in sorted(state.plugin_modules)})
    packages = declared_packages(tree)
    state.foreign_plugin = (
        "pytest-trio" in packages
        or any(
            re.search(r"mark\.anyio|anyio_backend|pytest_trio|mark\.trio|[\"']anyio[\"']", t)
            for t in texts.values()
        )
        or "anyio" in config.addopts
        or "trio" in " ".join(config.addopts)
    )
    # a plugin module's fixtures reach every test, as the root conftest's do
    roots = _root_conftests(config, tree) | state.plugin_modules
    wide: list[tuple[str, str, str]] = []
    for rel, text in texts.items():
        if "event_loop" not in text and not ("async def" in text and "fixture" in text):
            continue
        try:
            module = tree.parse(rel)  # kept for the file's transform: parsed once per run
        except cst.ParserSyntaxError:
            continue
        scan = _FixtureScan()
        scan.scan(module.body)
        for klass, node in scan.overrides:
            found = _fixture_decorator(node)
            scope, literal = _fixture_scope(found[1])
            kind, what = classify_override(node)
            if not literal:
                kind, what = "custom", "has a non-literal scope"
            state.overrides.append(Override(rel, klass, scope, kind, what))
        for name, scope, _literal, _ in scan.async_fixtures:
            if scope and scope != "function":
                wide.append((rel, name, scope))
    simple = [o for o in state.overrides if o.kind == "simple"]
    for override in simple:
        if override.klass:
            state.class_scopes[(override.rel, override.klass)] = "class"
        elif override.rel in roots and (state.root_override is None):
            state.root_override = override
        elif override.rel.endswith("conftest.py"):
            folder = override.rel.rsplit("/", 1)[0] + "/" if "/" in override.rel else ""
            state.subtree_scopes[folder] = override.scope or "function"
        else:
            state.subtree_scopes[override.rel] = override.scope or "function"
    if state.root_override is not None:
        scope = state.root_override.scope or "function"
        state.fixture_default = scope
        state.test_default = scope
    if (
        state.existing_fixture_default
        and state.root_override is None
        and not [w for w in wide if state.subtree_scope(w[0]) is None]
    ):
        state.fixture_default = state.existing_fixture_default
    wide = [w for w in wide if state.subtree_scope(w[0]) is None]
    if (
        state.root_override is None
        and wide
        and not state.pa5_code_edits
        and state.fixture_default == "function"
    ):
        state.fixture_default = "fixture-scope" if versions.at_least("pytest-asyncio", "1.5") else "function"
        state.pa5_code_edits = not versions.at_least("pytest-asyncio", "1.5")
    for rel, name, scope in wide:
        loop = state.fixture_loop_scope(rel, scope) if not state.pa5_code_edits else scope
        if loop != "function" and loop in SCOPES:
            state.wide_fixtures[name] = loop
    return state


# --- the codemod -----------------------------------------------------------------------------------


class _Uses(LightVisitor):
    """Uses of a name inside a function body (nested defs/lambdas reported separately)."""

    def __init__(self, name: str):
        self.name = name
        self.total = 0
        self.run_until_complete = 0
        self.nested = 0
        self.close = 0
        self._depth = 0

    def visit_FunctionDef(self, node):
        self._depth += 1

    def leave_FunctionDef(self, node):
        self._depth -= 1

    def visit_Lambda(self, node):
        self._depth += 1

    def leave_Lambda(self, node):
        self._depth -= 1

    def visit_Name(self, node: cst.Name):
        if node.value == self.name:
            self.total += 1
            if self._depth:
                self.nested += 1

    def visit_Call(self, node: cst.Call):
        if (
            m.matches(node.func, m.Attribute(value=m.Name(self.name), attr=m.Name("run_until_complete")))
            and len(node.args) == 1
            and not self._depth
        ):
            self.run_until_complete += 1
        if m.matches(node.func, m.Attribute(value=m.Name(self.name), attr=m.Name("close"))):
            self.close += 1


class _CurrentLoopCalls(LightVisitor):
    """`asyncio.get_event_loop()` calls in a sync body, outside nested async defs (where a loop runs)."""

    def __init__(self) -> None:
        self.found = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node.asynchronous is None

    def visit_Call(self, node: cst.Call) -> None:
        if dotted(node.func) in ("asyncio.get_event_loop", "asyncio.get_event_loop_policy().get_event_loop"):
            self.found += 1
        elif m.matches(
            node.func,
            m.Attribute(
                value=m.Call(func=m.Attribute(value=m.Name("asyncio"), attr=m.Name("get_event_loop_policy"))),
                attr=m.Name("get_event_loop"),
            ),
        ):
            self.found += 1


class _RunUntilComplete(cst.CSTTransformer):
    def __init__(self, name: str):
        self.name = name

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        if (
            m.matches(
                updated_node.func, m.Attribute(value=m.Name(self.name), attr=m.Name("run_until_complete"))
            )
            and len(updated_node.args) == 1
        ):
            return cst.Await(expression=updated_node.args[0].value)
        return updated_node


# the last part of every callee leave_Call acts on (pytest.mark.asyncio, .usefixtures, .parametrize,
# request.getfixturevalue): an import alias renames only the first part of a dotted name
_CALL_WORDS = frozenset({"asyncio", "usefixtures", "parametrize", "getfixturevalue"})
_NESTED_HOOKS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def _acts_in_body(node: ast.AST, heads: frozenset[str]) -> bool:
    """Whether a node below a def's body may be one the codemod's hooks act on (see inert_body)."""
    if isinstance(node, _NESTED_HOOKS):
        return True
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in _CALL_WORDS
    return isinstance(func, ast.Name) and func.id in heads


def _closes(node: ast.AST) -> bool:
    """`<anything>.close()` with no argument: what _mark_loop_close looks for."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "close"
        and not node.args
        and not node.keywords
    )


class PytestAsyncioCodemod(MigrationCodemod):
    DESCRIPTION = "pytest-asyncio 0.21-0.26 -> 1.x"

    def __init__(self, context, state=None, versions=None, info=None):
        super().__init__(context, state, versions, info)
        if self.state is None:
            self.state = PAState()
        self._functions: list[cst.FunctionDef] = []
        self._classes: list[cst.ClassDef] = []
        self._needs_pytestmark: str | None = None
        self._has_async_tests = False
        self._pytestmark_done = False

    def inert_body(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Below a def's body only leave_Call and the hooks of a nested def, class or import can act
        (leave_Assign acts at module level only): a body without those, and without a call that can
        be one leave_Call rewrites (a dotted call ending in one of _CALL_WORDS, or a bare name some
        import binds, which may be an alias of one), is left untraversed."""
        heads = self._import_heads()
        return not any(_acts_in_body(node, heads) for stmt in fn.body for node in ast.walk(stmt))

    # --- helpers ---------------------------------------------------------------------------------
    @property
    def rel(self) -> str:
        return self.info.rel

    def _is_fixture(self, fn: cst.FunctionDef) -> tuple[int, cst.Decorator] | None:
        for i, deco in enumerate(fn.decorators):
            target = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
            if self.qualified_names(target) & FIXTURE_QNAMES:
                return i, deco
        return None

    def _is_plain_fixture(self, deco: cst.Decorator) -> bool:
        target = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        return bool(self.qualified_names(target) & PLAIN_FIXTURE)

    def _is_test(self, fn: cst.FunctionDef) -> bool:
        if not fn.name.value.startswith("test"):
            return False
        if len(self._functions) > 1:
            return False
        return not self._classes or self._classes[-1].name.value.startswith("Test")

    def _asyncio_marker(self, fn: cst.FunctionDef) -> tuple[int, cst.Decorator] | None:
        for i, deco in enumerate(fn.decorators):
            target = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
            if self.qualified_names(target) & ASYNC_MARK:
                return i, deco
        return None

    def _marker_loop_scope(self, fn: cst.FunctionDef) -> str | None:
        found = self._asyncio_marker(fn)
        if found and isinstance(found[1].decorator, cst.Call):
            arg = _kwarg(found[1].decorator, "loop_scope") or _kwarg(found[1].decorator, "scope")
            if arg is not None:
                return _str_value(arg.value)
        arg = self._class_marker_scope_arg()
        if arg is not None:
            return _str_value(arg.value)
        return self._module_mark_scope

    def _fixture_to_asyncio(self, deco: cst.Decorator, extra: list[cst.Arg]) -> cst.Decorator:
        AddImportsVisitor.add_needed_import(self.context, "pytest_asyncio")
        new_func = cst.Attribute(value=cst.Name("pytest_asyncio"), attr=cst.Name("fixture"))
        if isinstance(deco.decorator, cst.Call):
            call = deco.decorator.with_changes(func=new_func)
        else:
            call = cst.Call(func=new_func) if extra else new_func
        for arg in extra:
            call = _append_arg(call, arg)
        return deco.with_changes(decorator=call)

    # --- module --------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self._module_mark_scope = None
        for stmt in node.body:
            if m.matches(
                stmt, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name("pytestmark"))])])
            ):
                for call in find_all(stmt, m.Call()):
                    if dotted(call.func) in ("pytest.mark.asyncio", "mark.asyncio", "asyncio"):
                        arg = _kwarg(call, "loop_scope") or _kwarg(call, "scope")
                        self._module_mark_scope = _str_value(arg.value) if arg else None
        sub = self.state.subtree_scope(self.rel)
        if sub and not self.rel.endswith("conftest.py"):
            self._needs_pytestmark = sub

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module):
        scope = self._needs_pytestmark
        if not scope or self._pytestmark_done or not self._has_async_tests:
            return updated_node
        body = list(updated_node.body)
        insert_at = 0
        for i, stmt in enumerate(body):
            if m.matches(stmt, m.SimpleStatementLine(body=[m.Import() | m.ImportFrom()])) or (
                i == 0 and m.matches(stmt, m.SimpleStatementLine(body=[m.Expr(m.SimpleString())]))
            ):
                insert_at = i + 1
            else:
                break
        mark = cst.parse_statement(f'pytestmark = pytest.mark.asyncio(loop_scope="{scope}")\n')
        mark = mark.with_changes(leading_lines=[cst.EmptyLine()])
        body.insert(insert_at, mark)
        AddImportsVisitor.add_needed_import(self.context, "pytest")
        self.changes.append(
            Change(
                "PA-3",
                insert_at + 1,
                f"pytestmark loop_scope={scope} (event_loop override of this subtree)",
                "rewrite",
            )
        )
        return updated_node.with_changes(body=body)

    @staticmethod
    def _scope_marks_in(value: cst.List | cst.Tuple, scope: str) -> cst.List | cst.Tuple | None:
        """A pytestmark list holding the asyncio marker: a bare one (or one called without a scope)
        gets the override's loop_scope, since 1.x would run the module in the default loop; None
        when the list holds no asyncio marker. An explicit scope is the author's (PA-9 renames)."""
        found = False
        elements = []
        for element in value.elements:
            mark = element.value
            target = mark.func if isinstance(mark, cst.Call) else mark
            if dotted(target) != "pytest.mark.asyncio":
                elements.append(element)
                continue
            found = True
            loop_scope = _kw("loop_scope", cst.SimpleString(f'"{scope}"'))
            if not isinstance(mark, cst.Call):
                element = element.with_changes(value=cst.Call(mark, [loop_scope]))
            elif not mark.args:
                element = element.with_changes(value=mark.with_changes(args=[loop_scope]))
            elements.append(element)
        if not found:
            return None
        changed = any(a is not b for a, b in zip(elements, value.elements, strict=True))
        return value.with_changes(elements=elements) if changed else value

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign):
        # an existing module pytestmark in a subtree with an override: give it the loop scope
        if not self._needs_pytestmark or self._functions or self._classes:
            return updated_node
        if not m.matches(original_node.targets[0].target, m.Name("pytestmark")):
            return updated_node
        scope = self._needs_pytestmark
        value = updated_node.value
        new_mark = cst.parse_expression(f'pytest.mark.asyncio(loop_scope="{scope}")')
        if dotted(value) in ("pytest.mark.asyncio",):
            self._pytestmark_done = True
            self.rewrote("PA-3", original_node, f"pytestmark: asyncio(loop_scope={scope})")
            return updated_node.with_changes(value=new_mark)
        if isinstance(value, cst.Call) and dotted(value.func) == "pytest.mark.asyncio":
            self._pytestmark_done = True
            if _kwarg(value, "loop_scope") is None:
                self.rewrote("PA-3", original_node, f"pytestmark: asyncio(loop_scope={scope})")
                return updated_node.with_changes(
                    value=_append_arg(value, _kw("loop_scope", cst.SimpleString(f'"{scope}"')))
                )
            return updated_node
        if isinstance(value, (cst.List, cst.Tuple)):
            self._pytestmark_done = True
            scoped = self._scope_marks_in(value, scope)
            if scoped is not None:
                if scoped is not value:
                    self.rewrote("PA-3", original_node, f"pytestmark: asyncio(loop_scope={scope})")
                return updated_node.with_changes(value=scoped)
            elements = list(value.elements)
            if elements and elements[-1].comma is cst.MaybeSentinel.DEFAULT:
                elements[-1] = elements[-1].with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                )
            self.rewrote("PA-3", original_node, f"pytestmark: added asyncio(loop_scope={scope})")
            return updated_node.with_changes(
                value=value.with_changes(elements=[*elements, cst.Element(new_mark)])
            )
        self._pytestmark_done = True
        self.mark(
            "PA-3",
            original_node,
            f'add pytest.mark.asyncio(loop_scope="{scope}") to pytestmark (this subtree overrode event_loop)',
        )
        return updated_node

    # --- PA-12 imports -------------------------------------------------------------------------
    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom):
        if updated_node.module is None or dotted(updated_node.module) != "pytest_asyncio.plugin":
            return updated_node
        if isinstance(updated_node.names, cst.ImportStar):
            names = {"*"}
        else:
            names = {a.name.value for a in updated_node.names if isinstance(a.name, cst.Name)}
        removed = {n for n in names if n in REMOVED_PLUGIN_NAMES or n.startswith("_") or n == "*"}
        if removed:
            self.mark(
                "PA-12",
                original_node,
                f"pytest_asyncio.plugin.{', '.join(sorted(removed))} is gone in 1.x: "
                "delete the import and use asyncio.get_running_loop() or pytest_asyncio.is_async_test",
            )
        return updated_node

    # --- classes -------------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef):
        updated_node = self._scope_bare_marker(original_node, updated_node)
        self._classes.pop()
        scope = self.state.class_scopes.get((self.rel, original_node.name.value))
        if scope is None:
            return updated_node
        for deco in updated_node.decorators:
            if (
                isinstance(deco.decorator, cst.Call)
                and dotted(deco.decorator.func) == "pytest.mark.asyncio"
                and _kwarg(deco.decorator, "loop_scope") is not None
            ):
                return updated_node
        deco = cst.Decorator(decorator=cst.parse_expression(f'pytest.mark.asyncio(loop_scope="{scope}")'))
        AddImportsVisitor.add_needed_import(self.context, "pytest")
        self.rewrote(
            "PA-3", original_node, f"event_loop override in class -> asyncio(loop_scope={scope}) on the class"
        )
        return updated_node.with_changes(decorators=[*updated_node.decorators, deco])

    # --- functions -------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef):
        try:
            return self._function(original_node, updated_node)
        finally:
            self._functions.pop()

    def _function(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        fixture = self._is_fixture(original)
        is_test = self._is_test(original)
        is_async = original.asynchronous is not None
        if is_test and is_async:
            self._has_async_tests = True
        name = original.name.value
        if fixture and name == "event_loop":
            return self._override(original, updated, fixture)
        if fixture and name == "event_loop_policy":
            return self._policy(original, updated, fixture)
        params = [p.name.value for p in original.params.params]
        if "event_loop" in params and (fixture or is_test or is_async):
            if is_async:
                updated = self._async_event_loop_param_to_running_loop(original, updated)
            else:
                return self._sync_event_loop_user_to_async(original, updated, fixture, is_test)
        elif "event_loop" in params and name != "pytest_fixture_setup":
            self.mark(
                "PA-16",
                original,
                "the event_loop fixture is gone in 1.x and `grep -w event_loop` must come "
                "back empty: pass the loop from asyncio.get_running_loop() and rename this parameter",
            )
        if is_async and is_test:
            updated = self._scope_bare_marker(original, updated)
        if is_async and (fixture or is_test):
            self._mark_loop_close(original)
            self._mark_narrower_loop_consumer(original, fixture, is_test)
        if fixture and is_async:
            updated = self._async_fixture(original, updated, fixture)
        if is_test and not is_async:
            updated = self._sync_test_asyncio_marker(original, updated)
        if (is_test or fixture) and not is_async and self._asyncio_marker(original) is None:
            self._mark_sync_current_loop(original, "fixture" if fixture else "test")
        return updated

    def _mark_sync_current_loop(self, original: cst.FunctionDef, what: str) -> None:
        """PA-14: 0.21 gave sync code a fresh current loop after each async test (its event_loop
        teardown set one); 1.x leaves none, so `asyncio.get_event_loop()` in a sync test or fixture
        raises RuntimeError once an async test ran before it. A session-wide loop stays current."""
        if self.state.test_loop_scope(self.rel) == "session":
            return
        calls = _CurrentLoopCalls()
        walk(original.body, calls)
        if calls.found:
            self.mark(
                "PA-14",
                original,
                f"sync {what} calls asyncio.get_event_loop(): pytest-asyncio 1.x leaves no current loop "
                "after an async test (0.21 set a new one), so it raises RuntimeError; make it async "
                "(asyncio.get_running_loop()), or use asyncio.run() / asyncio.Runner",
            )

    # PA-3: a test's or class's own asyncio marker inside a subtree or class with an override
    def _unit_loop_scope(self) -> str | None:
        """The loop scope an event_loop override gives the code being left (innermost first)."""
        for klass in reversed(self._classes):
            scope = self.state.class_scopes.get((self.rel, klass.name.value))
            if scope:
                return scope
        return self._needs_pytestmark

    def _scope_bare_marker(self, original, updated):
        """PA-3: pytest-asyncio 1.x reads the loop scope of the closest asyncio marker only, so a bare
        marker on the test (or its class) hides the module's pytestmark and the class's marker and
        runs it in the default loop, not the overridden one its fixtures use: it gets the scope too."""
        found = self._asyncio_marker(original)
        scope = self._unit_loop_scope()
        if found is None or scope is None or scope == (self.state.test_default or "function"):
            return updated  # no override here, or the marker's default loop is already the override's
        index, deco = found
        if isinstance(deco.decorator, cst.Call) and (
            _kwarg(deco.decorator, "loop_scope") or _kwarg(deco.decorator, "scope") or deco.decorator.args
        ):
            return updated  # an explicit scope is the author's (PA-9 renames scope=)
        if isinstance(original, cst.FunctionDef) and self._enclosing_marker_scope() is not None:
            return updated  # a class marker with its own scope: left as the author wrote it
        decorators = list(updated.decorators)
        marker = decorators[index].decorator  # the author's spelling (an alias of pytest.mark) stays
        loop_scope = _kw("loop_scope", cst.SimpleString(f'"{scope}"'))
        new_mark = (
            _append_arg(marker, loop_scope)
            if isinstance(marker, cst.Call)
            else cst.Call(marker, [loop_scope])
        )
        decorators[index] = decorators[index].with_changes(decorator=new_mark)
        self.rewrote("PA-3", original, f"own asyncio marker -> asyncio(loop_scope={scope}) (overridden loop)")
        return updated.with_changes(decorators=decorators)

    def _enclosing_marker_scope(self) -> str | None:
        arg = self._class_marker_scope_arg()
        return None if arg is None else _str_value(arg.value) or "?"

    def _class_marker_scope_arg(self) -> cst.Arg | None:
        """The loop_scope= (or scope=) of the innermost enclosing class's asyncio marker that has one."""
        for klass in reversed(self._classes):
            for deco in klass.decorators:
                if (
                    isinstance(deco.decorator, cst.Call)
                    and self.qualified_names(deco.decorator.func) & ASYNC_MARK
                ):
                    arg = _kwarg(deco.decorator, "loop_scope") or _kwarg(deco.decorator, "scope")
                    if arg is not None:
                        return arg
        return None

    # PA-3 / PA-11: overrides of event_loop
    def _override(self, original, updated, fixture):
        kind, what = classify_override(original)
        scope, literal = _fixture_scope(fixture[1])
        klass = self._classes[-1].name.value if self._classes else None
        if kind == "simple" and literal:
            RemoveImportsVisitor.remove_unused_import(self.context, "asyncio")
            where = (
                "class"
                if klass
                else (
                    "root conftest"
                    if self.state.root_override and self.state.root_override.rel == self.rel
                    else "subtree"
                )
            )
            self.rewrote(
                "PA-3",
                original,
                f"deleted event_loop override (scope={scope}, {where}); "
                "its scope moves to the loop_scope defaults/markers",
            )
            return cst.RemoveFromParent()
        if what == "uvloop":
            self.mark(
                "PA-11",
                original,
                "custom loop via event_loop: delete this fixture and add "
                + (
                    "`def pytest_asyncio_loop_factories(config, item): "
                    'return {"uvloop": uvloop.new_event_loop}` '
                    "to the root conftest"
                    if self.versions.at_least("pytest-asyncio", "1.4")
                    else "an event_loop_policy fixture returning uvloop.EventLoopPolicy()"
                ),
            )
        else:
            self.mark(
                "PA-3",
                original,
                f"event_loop override {what}: pytest-asyncio 1.x ignores it; use "
                "pytest_asyncio_loop_factories (PA-11) for a custom loop or asyncio_debug = true, "
                "then delete it",
            )
        return updated

    def _policy(self, original, updated, fixture):
        body = original.body.body if isinstance(original.body, cst.IndentedBlock) else []
        stmts = [s for s in body if not m.matches(s, m.SimpleStatementLine(body=[m.Expr(m.SimpleString())]))]
        value = None
        if len(stmts) == 1 and m.matches(
            stmts[0], m.SimpleStatementLine(body=[m.Return() | m.Expr(m.Yield())])
        ):
            small = stmts[0].body[0]
            value = small.value if isinstance(small, cst.Return) else small.value.value
        mapped = None
        if isinstance(value, cst.Call) and not value.args:
            names = self.qualified_names(value.func)
            mapped = next((POLICY_FACTORIES[n] for n in names if n in POLICY_FACTORIES), None)
        if (
            mapped is None
            or original.params.params
            or isinstance(fixture[1].decorator, cst.Call)
            and _kwarg(fixture[1].decorator, "params")
        ):
            self.mark(
                "PA-11",
                original,
                "custom event_loop_policy: on pytest-asyncio>=1.4 write a "
                "pytest_asyncio_loop_factories(config, item) hook returning {name: loop_factory}",
            )
            return updated
        if not self.versions.at_least("pytest-asyncio", "1.4"):
            return updated  # still the documented way on 1.3
        label, factory = mapped
        hook = cst.parse_statement(
            f'def pytest_asyncio_loop_factories(config, item):\n    return {{"{label}": {factory}}}\n'
        )
        AddImportsVisitor.add_needed_import(self.context, factory.split(".")[0])
        self.rewrote(
            "PA-11", original, f"event_loop_policy fixture -> pytest_asyncio_loop_factories hook ({factory})"
        )
        return hook.with_changes(leading_lines=updated.leading_lines)

    # PA-6: async test/fixture with an event_loop parameter
    def _async_event_loop_param_to_running_loop(self, original, updated):
        """PA-6: drop the event_loop parameter; bind asyncio.get_running_loop() if the body uses it."""
        uses = _Uses("event_loop")
        walk(original.body, uses)
        params = [p for p in updated.params.params if p.name.value != "event_loop"]
        new = updated.with_changes(params=self._fix_params(updated.params, params))
        if uses.close:
            self.mark("PA-15", original, "pytest-asyncio>=1.1 owns the loop; remove close()")
        if uses.total:
            stmt = cst.parse_statement("event_loop = asyncio.get_running_loop()\n")
            body = list(new.body.body)
            index = (
                1
                if body and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.SimpleString())]))
                else 0
            )
            body.insert(index, stmt)
            new = new.with_changes(body=new.body.with_changes(body=body))
            AddImportsVisitor.add_needed_import(self.context, "asyncio")
        self.rewrote(
            "PA-6",
            original,
            "event_loop parameter -> asyncio.get_running_loop()"
            if uses.total
            else "dropped unused event_loop parameter",
        )
        return new

    @staticmethod
    def _fix_params(params: cst.Parameters, kept: list[cst.Param]) -> cst.Parameters:
        if (
            kept
            and not isinstance(params.star_arg, (cst.Param, cst.ParamStar))
            and not params.kwonly_params
            and params.star_kwarg is None
        ):
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return params.with_changes(params=kept)

    # PA-7: sync test/fixture with an event_loop parameter
    def _sync_event_loop_user_to_async(self, original, updated, fixture, is_test):
        """PA-7: a sync user of event_loop becomes async when it only runs coroutines; else a marker."""
        uses = _Uses("event_loop")
        walk(original.body, uses)
        if uses.total == 0:
            params = [p for p in updated.params.params if p.name.value != "event_loop"]
            self.rewrote("PA-7", original, "dropped unused event_loop parameter")
            return updated.with_changes(params=self._fix_params(updated.params, params))
        if uses.total != uses.run_until_complete or uses.nested:
            self.mark(
                "PA-7",
                original,
                "sync code uses event_loop beyond run_until_complete(); make it async "
                "(await instead of run_until_complete, asyncio.get_running_loop()) or use asyncio.run()",
            )
            return updated
        body = updated.body.visit(_RunUntilComplete("event_loop"))
        params = [p for p in updated.params.params if p.name.value != "event_loop"]
        new = updated.with_changes(
            body=body, params=self._fix_params(updated.params, params), asynchronous=cst.Asynchronous()
        )
        decorators = list(new.decorators)
        if fixture:
            scope, literal = _fixture_scope(fixture[1])
            extra = []
            if literal and scope and scope != "function":
                loop = self.state.fixture_loop_scope(self.rel, scope)
                if loop != "fixture-scope" and (loop not in SCOPES or wider(scope, loop)):
                    extra.append(_kw("loop_scope", cst.SimpleString(f'"{scope}"')))
            decorators[fixture[0]] = self._fixture_to_asyncio(decorators[fixture[0]], extra)
        elif (
            is_test
            and self.state.mode != "auto"
            and self._asyncio_marker(original) is None
            and self._marker_loop_scope(original) is None
        ):
            decorators.insert(0, cst.Decorator(decorator=cst.parse_expression("pytest.mark.asyncio")))
            AddImportsVisitor.add_needed_import(self.context, "pytest")
        if is_test:
            self._has_async_tests = True
        self.rewrote("PA-7", original, "sync event_loop.run_until_complete(x) -> async def + await x")
        return new.with_changes(decorators=decorators)

    # PA-15: closing the running loop
    def _mark_loop_close(self, original):
        """PA-15: a marker above each close() of the running loop."""
        text = self.statement_text(original)
        if text is not None and "close" not in text:
            return  # no `close` in the def's source lines: neither search below can find a close()
        fn = self.ast_def(original)
        if fn is not None and not any(_closes(node) for stmt in fn.body for node in ast.walk(stmt)):
            return  # CPython's tree of the same body holds no `x.close()`: the search below finds none
        loop_names = {"event_loop"}
        for assign in find_all(original.body, m.Assign(value=m.Call())):
            if dotted(assign.value.func) in LOOP_SOURCES:
                loop_names |= {t.target.value for t in assign.targets if isinstance(t.target, cst.Name)}
        for call in find_all(original.body, m.Call(func=m.Attribute(attr=m.Name("close")), args=[])):
            receiver = call.func.value
            if (isinstance(receiver, cst.Name) and receiver.value in loop_names) or (
                isinstance(receiver, cst.Call) and dotted(receiver.func) in LOOP_SOURCES
            ):
                self.mark("PA-15", original, "pytest-asyncio>=1.1 owns the loop; remove close()")
                return

    # PA-10: consumers of wider-loop fixtures
    def _mark_narrower_loop_consumer(self, original, fixture, is_test):
        """PA-10: a marker where a consumer of a wider-loop fixture runs in a narrower loop."""
        if not any(p.name.value in self.state.wide_fixtures for p in original.params.params):
            return  # no parameter names a wider-loop fixture: nothing below can mark
        own = self._marker_loop_scope(original)
        if fixture:
            scope, _ = _fixture_scope(fixture[1])
            explicit = (
                _kwarg(fixture[1].decorator, "loop_scope")
                if isinstance(fixture[1].decorator, cst.Call)
                else None
            )
            mine = (
                _str_value(explicit.value)
                if explicit
                else self.state.fixture_loop_scope(self.rel, scope or "function")
            )
            if mine == "fixture-scope":
                mine = scope or "function"
        else:
            mine = own or self.state.test_loop_scope(self.rel)
        awaits = bool(
            find_all(
                original.body,
                m.Await() | m.For(asynchronous=m.Asynchronous()) | m.With(asynchronous=m.Asynchronous()),
            )
        )
        if not awaits:
            return
        for param in original.params.params:
            loop = self.state.wide_fixtures.get(param.name.value)
            if loop and mine in SCOPES and wider(loop, mine):
                what = "fixture" if fixture else "test"
                self.mark(
                    "PA-10",
                    original,
                    f"fixture {param.name.value} runs in the {loop} loop; mark this {what} "
                    f'asyncio(loop_scope="{loop}")',
                )
                return

    # PA-8 / PA-5 / PA-3 (subtree, class): async fixtures
    def _async_fixture(self, original, updated, fixture):
        index, deco = fixture
        plain = self._is_plain_fixture(deco)
        scope, literal = _fixture_scope(deco)
        has_loop_scope = (
            isinstance(deco.decorator, cst.Call) and _kwarg(deco.decorator, "loop_scope") is not None
        )
        extra: list[cst.Arg] = []
        reasons = []
        klass = self._classes[-1].name.value if self._classes else None
        sub = self.state.class_scopes.get((self.rel, klass)) if klass else None
        sub = sub or self.state.subtree_scope(self.rel)
        if not has_loop_scope:
            if sub:
                extra.append(_kw("loop_scope", cst.SimpleString(f'"{sub}"')))
                reasons.append(("PA-3", f"loop_scope={sub} (event_loop override of this subtree/class)"))
            elif self.state.pa5_code_edits and scope != "function":
                if not literal:
                    self.mark(
                        "PA-5",
                        original,
                        "fixture scope is not a literal: add loop_scope=<the same scope> "
                        "to @pytest_asyncio.fixture",
                    )
                else:
                    extra.append(_kw("loop_scope", cst.SimpleString(f'"{scope}"')))
                    reasons.append(("PA-5", f"loop_scope={scope} (ran in its own {scope} loop on 0.23-0.26)"))
        convert = plain and (self.state.mode != "auto" or extra)
        if plain and self.state.mode != "auto" and self.state.foreign_plugin:
            self.info_only("PA-8", original, "async @pytest.fixture left alone: anyio/trio plugin in use")
            return updated
        if not convert and not extra:
            return updated
        decorators = list(updated.decorators)
        if convert:
            decorators[index] = self._fixture_to_asyncio(decorators[index], extra)
            if self.state.mode != "auto":
                self.rewrote(
                    "PA-8", original, "async @pytest.fixture in strict mode -> @pytest_asyncio.fixture"
                )
        else:
            decorators[index] = (
                deco.with_changes(decorator=_append_arg(deco.decorator, extra[0]))
                if isinstance(deco.decorator, cst.Call)
                else deco.with_changes(decorator=cst.Call(func=deco.decorator, args=extra))
            )
        for rule, message in reasons:
            self.rewrote(rule, original, message)
        return updated.with_changes(decorators=decorators)

    # PA-14: marker on a sync test
    def _sync_test_asyncio_marker(self, original, updated):
        """PA-14: drop the asyncio marker of a sync test, or mark one that needs a current loop."""
        found = self._asyncio_marker(original)
        if found is None:
            return updated
        uses_loop = bool(
            find_all(
                original.body,
                m.Call(func=m.Attribute(value=m.Name("asyncio"), attr=m.Name("get_event_loop"))),
            )
        )
        if uses_loop:
            self.mark(
                "PA-14",
                original,
                "sync test relies on a current loop (1.x gives sync tests none): make it "
                "async, or use asyncio.run() / asyncio.Runner",
            )
            return updated
        decorators = [d for i, d in enumerate(updated.decorators) if i != found[0]]
        self.rewrote("PA-14", original, "removed asyncio marker from a sync test")
        return updated.with_changes(decorators=decorators)

    # --- calls: PA-9 marker scope, PA-6 usefixtures / getfixturevalue / indirect --------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        names = self.qualified_names(original_node.func)
        if names & ASYNC_MARK:
            return self._marker_scope_to_loop_scope(original_node, updated_node)
        if names & {"pytest.mark.usefixtures"}:
            args = [a for a in updated_node.args if _str_value(a.value) != "event_loop"]
            if len(args) != len(updated_node.args):
                if args:
                    args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                self.rewrote("PA-6", original_node, 'dropped "event_loop" from usefixtures')
                return updated_node.with_changes(args=args)
        if names & {"pytest.mark.parametrize"}:
            indirect = _kwarg(updated_node, "indirect")
            if indirect is not None and isinstance(indirect.value, (cst.List, cst.Tuple)):
                elements = [e for e in indirect.value.elements if _str_value(e.value) != "event_loop"]
                if len(elements) != len(indirect.value.elements):
                    if elements:
                        elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    new_arg = indirect.with_changes(value=indirect.value.with_changes(elements=elements))
                    self.rewrote("PA-6", original_node, 'dropped "event_loop" from indirect')
                    return updated_node.with_changes(
                        args=[new_arg if a is indirect else a for a in updated_node.args]
                    )
        if (
            m.matches(original_node.func, m.Attribute(attr=m.Name("getfixturevalue")))
            and len(original_node.args) == 1
            and _str_value(original_node.args[0].value) == "event_loop"
        ):
            if self._functions and self._functions[-1].asynchronous is not None:
                AddImportsVisitor.add_needed_import(self.context, "asyncio")
                self.rewrote(
                    "PA-6", original_node, 'getfixturevalue("event_loop") -> asyncio.get_running_loop()'
                )
                return cst.parse_expression("asyncio.get_running_loop()")
            self.mark(
                "PA-7",
                original_node,
                'getfixturevalue("event_loop") in sync code: the fixture is gone in 1.x; '
                "make the code async and use asyncio.get_running_loop()",
            )
        return updated_node

    def _marker_scope_to_loop_scope(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """PA-9: the asyncio marker's scope= (or positional scope) becomes loop_scope=."""
        args = list(updated.args)
        scope = _kwarg(updated, "scope")
        loop_scope = _kwarg(updated, "loop_scope")
        positional = [a for a in args if a.keyword is None and not a.star]
        if scope is None and not positional:
            return updated
        if scope is not None:
            if loop_scope is not None:
                args = [a for a in args if a is not scope]
                self.rewrote("PA-9", original, "dropped scope= (loop_scope= given)")
            else:
                args = [a.with_changes(keyword=cst.Name("loop_scope")) if a is scope else a for a in args]
                self.rewrote("PA-9", original, "asyncio(scope=) -> asyncio(loop_scope=)")
        if positional and loop_scope is None and scope is None and len(positional) == 1:
            args = [
                _kw("loop_scope", a.value).with_changes(comma=a.comma) if a is positional[0] else a
                for a in args
            ]
            self.rewrote("PA-9", original, "asyncio(<positional>) -> asyncio(loop_scope=...)")
        elif positional and len(args) != len(updated.args) - 0:
            pass
        if args:
            args[-1] = (
                args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                if updated.args[-1].comma is cst.MaybeSentinel.DEFAULT
                else args[-1]
            )
        return updated.with_changes(args=args)


def _asyncio_marker_acts(text: str) -> bool:
    """Whether PA-9 (a marker call with arguments) or PA-14 (a marker on a sync test) can fire: the
    marker's qualified name pytest.mark.asyncio is written `<...>.asyncio`, or a name imported from
    pytest.mark. A file CPython rejects goes on to libcst, whose error the report shows."""
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        return True
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytest.mark"):
            return True
        if isinstance(node, ast.Import) and any(a.name.startswith("pytest.mark") for a in node.names):
            return True
        if isinstance(node, ast.Call) and _names_asyncio(node.func) and (node.args or node.keywords):
            return True
        if (
            isinstance(node, ast.FunctionDef)
            and node.name.startswith("test")
            and any(_names_asyncio(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list)
        ):
            return True
    return False


def _names_asyncio(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "asyncio"


class PytestAsyncioUpgrade(Upgrade):
    name = "pytest-asyncio"
    description = "pytest-asyncio 0.21-0.26 -> 1.x (PA-1..PA-16)"
    rule_prefix = "PA"
    packages = Packages(old=("pytest-asyncio",), new="pytest-asyncio")
    target_version = "1.5.0"
    rules = {
        "PA-1": "pin the target release; raise pytest where the target needs it; mark a too-old Python",
        "PA-2": "set asyncio_default_fixture_loop_scope in the table that holds pytest's configuration",
        "PA-3": "a root-conftest event_loop override with a wider scope becomes the two loop-scope defaults",
        "PA-4": "no event_loop override, coming from 0.21: the default fixture loop scope is function",
        "PA-5": "wider-scoped async fixtures keep running in the loop of their own scope",
        "PA-6": "event_loop requested by an async test or fixture becomes asyncio.get_running_loop()",
        "PA-7": "event_loop in a sync test or fixture: run_until_complete becomes await, else a blocker",
        "PA-8": "an async fixture under plain @pytest.fixture in strict mode becomes @pytest_asyncio.fixture",
        "PA-9": "the asyncio marker's scope= argument becomes loop_scope=",
        "PA-10": "a test awaiting objects of a wider-loop fixture must run in that loop, else a blocker",
        "PA-11": "a custom event loop (uvloop, policy fixtures) moves to the supported hook, else a blocker",
        "PA-12": "imports of removed pytest_asyncio.plugin internals are blockers",
        "PA-13": "asyncio_mode is kept as it is; new keys go into the same table",
        "PA-14": "a sync test loses the asyncio marker; sync code relying on a current loop is a blocker",
        "PA-15": "a test or fixture that closes the loop is a blocker: pytest-asyncio owns the loop",
        "PA-16": "verification gate: no event_loop fixture use may remain; a leftover one is a blocker",
    }
    tokens = ("event_loop", "pytest_asyncio", "mark.asyncio", "async def", "asyncio(")
    modules = ("pytest_asyncio",)
    codemod = PytestAsyncioCodemod
    sweeper = LoopSweeper  # PA-14 in service code the sync tests call
    test_files_only = True

    def precheck(self, rel: str, text: str) -> bool:
        # a module outside the test folders may be a pytest plugin of the suite (pytest_plugins):
        # needs_codemod keeps only those, which analyze found
        if is_test_file(rel) or "pytest" in text:
            return any(token in text for token in self.tokens)
        return False

    def needs_codemod(self, rel: str, text: str, state: Any = None) -> bool:
        # each rule of PytestAsyncioCodemod needs one of these in the file or in the unit's facts
        if not isinstance(state, PAState):
            return is_test_file(rel)
        if not is_test_file(rel) and rel not in state.plugin_modules:
            return False
        if any(word in text for word in ("event_loop", "plugin")):
            return True  # PA-3/6/7/11/14/16 (event_loop, get_event_loop), PA-12 (plugin)
        if "close" in text and "get_running_loop" in text:
            # PA-15: close() of `event_loop` (above) or of a loop got by the dotted name
            # asyncio.get_event_loop (above: it holds event_loop) or asyncio.get_running_loop;
            # the `helper.close()` of most fixtures holds neither
            return True
        if self._unit_scope_applies(rel, state) or any(name in text for name in state.wide_fixtures):
            return True  # PA-3 (subtree or class override), PA-10 (a wider-loop fixture's name)
        if "fixture" in text and "async" in text and (state.mode != "auto" or state.pa5_code_edits):
            return True  # PA-8 / PA-5: an async fixture
        return "mark" in text and "asyncio" in text and _asyncio_marker_acts(text)  # PA-9, PA-14

    @staticmethod
    def _unit_scope_applies(rel: str, state: PAState) -> bool:
        # a conftest gets no pytestmark but its async fixtures still take the subtree's loop scope
        return bool(state.subtree_scope(rel)) or any(where == rel for where, _ in state.class_scopes)

    def detect(self, tree: ProjectTree) -> bool:
        if super().detect(tree):
            return True
        config = pytest_config.find_config(tree)
        return any(k.startswith("asyncio_") for k in config.values) or "--asyncio-mode" in " ".join(
            config.addopts
        )

    def analyze(self, tree: ProjectTree, versions: Versions) -> PAState:
        return analyze_tree(tree, versions)

    def requirement_rules(self, versions: Versions, state: Any) -> list[RequirementRule]:
        return [
            RequirementRule("PA-1", "pytest-asyncio", version=versions.target("pytest-asyncio")),
            RequirementRule("PA-1", "pytest", spec=versions.forced["pytest"], forced=True),
        ]

    def forced_pins(self, versions: Versions) -> dict[str, str]:
        # pytest-asyncio 1.4 needs pytest 8.4; 1.3 works from 8.2
        return {"pytest": ">=8.4" if versions.at_least("pytest-asyncio", "1.4") else ">=8.2"}

    def python_floor(self, versions: Versions) -> tuple[str, str] | None:
        return ("PA-1", "3.10") if versions.at_least("pytest-asyncio", "1.3") else ("PA-1", "3.9")

    def rewrite_files(self, tree: ProjectTree, state: PAState, versions: Versions, edits: EditSet) -> None:
        if state.config_path is None and not any(is_test_file(f) for f in tree.python_files()):
            return  # no tests and no pytest configuration here (e.g. a shared library folder)
        options = {}
        reasons = {}
        if state.root_override is not None:
            scope = state.fixture_default
            options["asyncio_default_fixture_loop_scope"] = scope
            options["asyncio_default_test_loop_scope"] = state.test_default or scope
            reasons["asyncio_default_fixture_loop_scope"] = (
                f"PA-3: root conftest overrode event_loop with scope={scope}"
            )
        elif (
            state.existing_fixture_default is None
            or state.fixture_default == "fixture-scope"
            and state.existing_fixture_default != "fixture-scope"
            and not state.existing_fixture_default
        ):
            options["asyncio_default_fixture_loop_scope"] = state.fixture_default
            reasons["asyncio_default_fixture_loop_scope"] = (
                "PA-5: wider-scoped async fixtures ran in their own scope's loop"
                if state.fixture_default == "fixture-scope"
                else "PA-4: every async fixture ran in the function loop"
            )
        if options:
            pytest_config.set_options(tree, edits, options, "PA-2", self.name, reasons)
