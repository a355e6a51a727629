"""PA-14 beyond the test files: service code that sync tests call and that needs a current loop.

0.21's `event_loop` teardown set a new current loop after every async test, so sync code calling
`asyncio.get_event_loop()` afterwards got one; 1.x leaves none and the call raises `RuntimeError`.
The codemod marks such calls in sync tests and fixtures; a helper of the service package the sync
test calls (`def fetch_sync(): loop = asyncio.get_event_loop(); ...`) fails the same way, and the
codemod only sees test files. This sweeper marks the call in the helper, naming the sync tests that
reach it, when the suite runs async tests at all (without one, nothing unsets the loop) and not
every test shares the session loop (which stays current).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from migrators.core.results import MARKER_PREFIX, Change, insert_markers
from migrators.core.tree import FileInfo, ProjectTree, is_test_file, module_name
from migrators.core.upgrade import Sweeper
from migrators.core.versions import Versions
from migrators.files import pytest_config

CURRENT_LOOP = re.compile(r"\bget_event_loop\s*\(")
ASYNC_TEST = re.compile(r"^\s*async\s+def\s+test_|@pytest_asyncio\.fixture|mark\.asyncio", re.M)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class LoopHelper:
    """A sync function of the service calling asyncio.get_event_loop() in its own body."""

    rel: str
    module: str  # dotted module name (`app.runner`)
    name: str
    called_as: str  # what a caller calls: the def's name, or its class's for `__init__` (`Worker()`)


def _is_current_loop_call(node: ast.AST) -> bool:
    """`asyncio.get_event_loop()` or `asyncio.get_event_loop_policy().get_event_loop()`."""
    if not isinstance(node, ast.Call) or node.args or not isinstance(node.func, ast.Attribute):
        return False
    func = node.func
    if func.attr != "get_event_loop":
        return False
    owner = func.value
    if isinstance(owner, ast.Name):
        return owner.id == "asyncio"
    return (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Attribute)
        and owner.func.attr == "get_event_loop_policy"
    )


def _own_nodes(function: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a def's body, not those of defs and lambdas nested in it (they run elsewhere)."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCTIONS, ast.Lambda, ast.ClassDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _sync_functions_called(module: ast.Module) -> Iterable[tuple[ast.FunctionDef, str]]:
    """(sync function, the name a caller calls it by): a method's own name, its class's for `__init__`."""
    for node in module.body:
        if isinstance(node, ast.FunctionDef):
            yield node, node.name
        elif isinstance(node, ast.ClassDef):
            for method in node.body:
                if isinstance(method, ast.FunctionDef):
                    yield method, node.name if method.name == "__init__" else method.name


def learn_helpers(tree: ProjectTree) -> list[LoopHelper]:
    """The service's sync functions that call asyncio.get_event_loop() themselves."""
    helpers = []
    for rel in tree.python_files():
        if is_test_file(rel):
            continue
        if not CURRENT_LOOP.search(tree.read(rel)):
            continue
        module = tree.syntax(rel)  # the unit's one CPython parse of the file, shared with the analyses
        if module is None:
            continue
        for function, called_as in _sync_functions_called(module):
            if any(_is_current_loop_call(n) for n in _own_nodes(function)):
                helpers.append(LoopHelper(rel, module_name(rel), function.name, called_as))
    return helpers


def _same_module(imported: str, helper: str) -> bool:
    """`svc.worker` imported names `worker` of a unit rooted at svc/ (and `app.runner` of a unit
    holding app/ names `app.runner`): one is a dotted suffix of the other."""
    return imported == helper or imported.endswith("." + helper) or helper.endswith("." + imported)


def _imports(module: ast.Module, helper: LoopHelper) -> bool:
    """The test module imports the helper's module or a name from it (`from app.runner import x`,
    `import app.runner`, `from app import runner`)."""
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module:
            if _same_module(node.module, helper.module):
                return True
            if any(_same_module(f"{node.module}.{a.name}", helper.module) for a in node.names):
                return True
        elif isinstance(node, ast.Import) and any(_same_module(a.name, helper.module) for a in node.names):
            return True
    return False


def _calls(function: ast.AST, name: str) -> bool:
    for node in _own_nodes(function):
        if isinstance(node, ast.Call):
            func = node.func
            called = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if called == name:
                return True
    return False


def _sync_tests(module: ast.Module) -> Iterable[ast.FunctionDef]:
    """Sync tests and sync fixtures (module level or in test classes)."""
    for function, _ in _sync_functions_called(module):
        decorators = ast.unparse(function.decorator_list) if function.decorator_list else ""
        if function.name.startswith("test") or "fixture" in decorators:
            yield function


def learn_callers(tree: ProjectTree, helpers: list[LoopHelper]) -> dict[LoopHelper, list[str]]:
    """Helper -> the sync tests (`tests/test_x.py::test_y`) calling it, over the unit's test files.
    Empty when no test file runs async code: then no loop was ever unset."""
    tests = {rel: tree.read(rel) for rel in tree.python_files() if is_test_file(rel)}
    if not helpers or not any(ASYNC_TEST.search(text) for text in tests.values()):
        return {}
    callers: dict[LoopHelper, list[str]] = {}
    for rel, text in sorted(tests.items()):
        named = [h for h in helpers if h.called_as in text]
        module = tree.syntax(rel) if named else None
        if module is None:
            continue
        for helper in named:
            if not _imports(module, helper):
                continue
            for test in _sync_tests(module):
                if _calls(test, helper.called_as):
                    callers.setdefault(helper, []).append(f"{rel}::{test.name}")
    return callers


class LoopSweeper(Sweeper):
    """Marks the current-loop call of each service helper a sync test calls (PA-14)."""

    def __init__(self, tree: ProjectTree, versions: Versions):
        super().__init__(tree, versions)
        session = pytest_config.find_config(tree).get("asyncio_default_test_loop_scope") == "session"
        self.callers = {} if session else learn_callers(tree, learn_helpers(tree))
        self.files = {h.rel for h in self.callers}

    def precheck(self, rel: str, text: str) -> bool:
        return rel in self.files

    def sweep(self, info: FileInfo, code: str) -> tuple[str, list[Change]]:
        module = self.tree.syntax_of(code)
        if module is None:
            return code, []
        wanted = {(h.name, h.called_as): callers for h, callers in self.callers.items() if h.rel == info.rel}
        lines = code.splitlines(keepends=True)
        places: dict[int, str] = {}
        for function, called_as in _sync_functions_called(module):
            callers = wanted.get((function.name, called_as))
            if callers is None:
                continue
            for stmt in _statements_calling(function):
                places.setdefault(stmt.lineno, _instruction(called_as, callers))
        changes = insert_markers(lines, {line: ("PA-14", text) for line, text in places.items()}, _marked)
        return "".join(lines), changes


def _marked(lines: list[str], line: int) -> bool:
    """A marker on the line right above `line`."""
    return line >= 2 and lines[line - 2].lstrip().startswith("# " + MARKER_PREFIX)


def _statements_calling(function: ast.FunctionDef) -> Iterable[ast.stmt]:
    """The statements of the def's own body holding a current-loop call in their own expressions (not
    in the statements nested in them)."""
    for node in _own_nodes(function):
        if not isinstance(node, ast.stmt):
            continue
        parts = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt)]
        if any(_is_current_loop_call(n) for part in parts for n in ast.walk(part)):
            yield node


def _instruction(name: str, callers: list[str]) -> str:
    shown = ", ".join(callers[:3]) + (f" and {len(callers) - 3} more" if len(callers) > 3 else "")
    return (
        f"{name}() calls asyncio.get_event_loop() and sync tests call it ({shown}): pytest-asyncio 1.x "
        "leaves no current loop after an async test (0.21 set a new one), so it raises RuntimeError; "
        "use asyncio.run() / asyncio.Runner here, or make those tests async"
    )
