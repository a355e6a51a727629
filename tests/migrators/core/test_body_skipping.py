"""Round-5 speed work: each shortcut gives what the slow path gives, and skips only what holds nothing.

* inert_body: a def body the pytest-asyncio codemod does not descend into holds nothing it changes
  or marks (the same output with and without the skip, over the migration-power corpus);
* ImportNames.ast_def pairs each libcst def with CPython's def of the same name and kind;
* the fixture scan of the pytest-asyncio analysis finds what a CSTVisitor over every node finds;
* module_imports_in_use says "kept" only where libcst's RemoveImportsVisitor keeps every import;
* TopLevelAddImports (its light gatherer) gives libcst's AddImportsVisitor result.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper

from bench.gen_services import generate
from migrators.core.bindings import ImportNames
from migrators.core.codemod import MigrationCodemod, TopLevelAddImports, module_imports_in_use
from migrators.core.runner import nodes_are_unique, transform_source
from migrators.core.tree import FileInfo, ProjectTree, is_test_file
from migrators.upgrades import default_registry
from migrators.upgrades import pytest_asyncio as pa
from tests.migrators.helpers import dedent

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests/migrators/corpus"

SOURCE = dedent("""
    import asyncio

    import pytest
    from pytest import mark as mk


    @pytest.mark.asyncio(scope="module")
    async def test_quiet(helper):
        await asyncio.sleep(0)
        assert helper.value() == 1


    async def test_marker_in_body(request):
        request.getfixturevalue("event_loop")


    async def test_alias_call():
        mk.asyncio(scope="module")


    class TestGroup:
        @pytest.fixture
        async def resource(self):
            yield 1

        async def test_nested(self):
            def inner(event_loop):
                return event_loop

            return inner
""")


def _pa_run(code: str, rel: str, inert: bool) -> tuple[str, list[tuple[str, int, str]], list[str]]:
    """(text, changes, names of the defs whose body was skipped) of the pytest-asyncio codemod."""
    skipped: list[str] = []
    original = pa.PytestAsyncioCodemod.inert_body

    def recording(self, fn):
        answer = inert and original(self, fn)
        if answer:
            skipped.append(fn.name)
        return answer

    pa.PytestAsyncioCodemod.inert_body = recording
    try:
        state = pa.PAState(mode="strict")
        info = FileInfo(rel, is_test_file(rel), rel.endswith("conftest.py"))
        registry = default_registry()
        new, changes, _ = transform_source(
            code, [registry.get("pytest-asyncio")], {"pytest-asyncio": state}, registry.versions(), info
        )
    finally:
        pa.PytestAsyncioCodemod.inert_body = original
    return new, [(c.rule, c.line, c.message) for c in changes], skipped


def test_only_bodies_without_an_actionable_call_or_nested_def_are_skipped():
    new, changes, skipped = _pa_run(SOURCE, "tests/test_x.py", inert=True)
    assert skipped == ["test_quiet", "resource", "inner"]  # inner's own hooks still run on its def
    assert (new, changes) == _pa_run(SOURCE, "tests/test_x.py", inert=False)[:2]
    assert "PA-16" in {rule for rule, _, _ in changes}  # inner(event_loop): below a body not skipped
    assert "loop_scope" in new.split("async def test_quiet")[0]  # the decorator's call still visited


@pytest.fixture(scope="module")
def test_files(tmp_path_factory) -> list[tuple[Path, str]]:
    """The async test files of the fleet, the migration-power corpus and two generated services."""
    generated = tmp_path_factory.mktemp("generated")
    generate(generated, 2, 16)
    found = []
    for root in (ROOT / "services", CORPUS, generated):
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            if is_test_file(rel) and ("async def" in text or "event_loop" in text):
                found.append((path, rel))
    return found


def test_a_skipped_body_holds_nothing_the_codemod_changes_over_the_corpus(test_files):
    files = test_files
    assert len(files) >= 10
    skipped_any = 0
    for path, rel in files:
        code = path.read_text(encoding="utf-8")
        fast = _pa_run(code, rel, inert=True)
        assert fast[:2] == _pa_run(code, rel, inert=False)[:2], rel
        skipped_any += bool(fast[2])
    assert skipped_any >= 5  # the comparison covers real skips


def test_ast_def_pairs_defs_of_the_same_name_and_kind():
    module = cst.parse_module(SOURCE)
    names = ImportNames(module, SOURCE)
    defs = [node for node in module.body if isinstance(node, cst.FunctionDef)]
    klass = next(node for node in module.body if isinstance(node, cst.ClassDef))
    methods = [node for node in klass.body.body if isinstance(node, cst.FunctionDef)]
    nested = next(node for node in methods[1].body.body if isinstance(node, cst.FunctionDef))
    for node in [*defs, *methods, nested]:
        fn = names.ast_def(node)
        assert fn is not None and fn.name == node.name.value
        assert (type(fn).__name__ == "AsyncFunctionDef") == (node.asynchronous is not None)
    inside_if = cst.parse_module("if True:\n    def f():\n        pass\n")
    node = inside_if.body[0].body.body[0]
    assert ImportNames(inside_if, inside_if.code).ast_def(node) is None  # only def/class bodies paired


class _OldScan(cst.CSTVisitor):
    """The analysis' scan as it was: a CSTVisitor over every node."""

    def __init__(self) -> None:
        self.scan = pa._FixtureScan()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scan.classes.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scan.classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scan.visit_FunctionDef(node)


def test_the_statement_walk_of_the_fixture_scan_finds_what_a_visitor_finds(test_files):
    findings = 0
    for path, _ in test_files:
        try:
            module = ProjectTree(path.parent).parse(path.name)
        except cst.ParserSyntaxError:
            continue
        old = _OldScan()
        module.visit(old)
        new = pa._FixtureScan()
        new.scan(module.body)
        assert [(k, id(n)) for k, n in new.overrides] == [(k, id(n)) for k, n in old.scan.overrides]
        assert [(*f[:3], id(f[3])) for f in new.async_fixtures] == [
            (*f[:3], id(f[3])) for f in old.scan.async_fixtures
        ]
        findings += len(new.overrides) + len(new.async_fixtures)
    assert findings >= 10


REMOVALS = [
    ("import asyncio\n\nasyncio.run(main())\n", True),
    ("import asyncio\n\ndef f():\n    return asyncio.sleep(0)\n", True),
    ("import asyncio\n\nclass A:\n    x = asyncio.sleep\n", True),
    ("import asyncio\n", False),  # unused: libcst removes it
    ("import asyncio\n\ndef f(asyncio):\n    return asyncio\n", False),  # a parameter, not the import
    ("import asyncio\n\ndef f():\n    import asyncio\n    return 1\n", False),  # one in a def
    ("import asyncio\nx = 'asyncio'\n", False),
    ("import asyncio as aio\naio.run(1)\n", False),  # an alias: not what was asked, libcst decides
    ("try:\n    import asyncio\nexcept ImportError:\n    asyncio = None\nprint(asyncio)\n", True),
]


@pytest.mark.parametrize(("code", "kept"), REMOVALS)
def test_module_imports_in_use_agrees_with_libcsts_remover(code, kept):
    context = CodemodContext()
    RemoveImportsVisitor.remove_unused_import(context, "asyncio")
    tree = cst.parse_module(code)
    removed = RemoveImportsVisitor(context).transform_module(tree).code
    assert module_imports_in_use(context, tree) is kept
    if kept:
        assert removed == code  # where it says kept, libcst changes nothing


def test_dotted_and_object_removals_are_left_to_libcst():
    context = CodemodContext()
    RemoveImportsVisitor.remove_unused_import(context, "os.path")
    assert not module_imports_in_use(context, cst.parse_module("import os.path\nos.path.join('a')\n"))
    context = CodemodContext()
    RemoveImportsVisitor.remove_unused_import(context, "os", "sep")
    assert not module_imports_in_use(context, cst.parse_module("from os import sep\nprint(sep)\n"))


ADDER_CASES = [
    "import pytest as pt\nfrom os import sep as s, path\nfrom tenacity import *\n",
    "from os import sep\nimport asyncio\nimport asyncio as aio\nx = 1\n",
    '"""doc"""\nfrom tenacity import wait_chain, retry\n\nimport inspect\n',
    "from inspect import iscoroutinefunction as icf\nimport os\n",
]
ADDER_WANTS = [
    ("asyncio", None, None),
    ("os", "sep", None),
    ("tenacity", "wait_chain", None),
    ("inspect", "iscoroutinefunction", "icf"),
    ("pytest", None, "pt"),
    ("os", "path", None),
]


@pytest.mark.parametrize("code", ADDER_CASES)
def test_top_level_adder_with_its_light_gatherer_gives_libcsts_result(code):
    def added(adder: type[AddImportsVisitor]) -> str:
        context = CodemodContext()
        for module, obj, alias in ADDER_WANTS:
            AddImportsVisitor.add_needed_import(context, module, obj, alias)
        return adder(context).transform_module(cst.parse_module(code)).code

    assert added(TopLevelAddImports) == added(AddImportsVisitor)


def test_no_body_is_skipped_without_the_modules_source():
    class Skips(MigrationCodemod):
        def inert_body(self, fn) -> bool:
            return True

        def visit_Name(self, node: cst.Name) -> None:
            self.names.append(node.value)

    module = cst.parse_module("def f():\n    return inner\n")
    codemod = Skips(CodemodContext())
    codemod.names = []
    codemod.transform_shared(MetadataWrapper(module, unsafe_skip_copy=True))
    assert "inner" in codemod.names
    codemod = Skips(CodemodContext())
    codemod.names = []
    codemod.transform_shared(MetadataWrapper(module, unsafe_skip_copy=True), ImportNames(module, module.code))
    assert "inner" not in codemod.names and "f" in codemod.names


def test_nodes_are_unique_finds_a_node_held_twice():
    module = cst.parse_module("x = 1\ny = 2\n")
    assert nodes_are_unique(module)
    twice = module.with_changes(body=[module.body[0], module.body[0]])
    assert not nodes_are_unique(twice)
    shared_leaf = cst.Name("a")
    call = cst.parse_module(cst.Module(body=[]).code)  # an empty module is unique too
    assert nodes_are_unique(call)
    deep = module.with_changes(
        body=[cst.SimpleStatementLine([cst.Expr(cst.BinaryOperation(shared_leaf, cst.Add(), shared_leaf))])]
    )
    assert not nodes_are_unique(deep)  # found below the top: every field of every node is walked


@pytest.mark.parametrize(
    ("code", "needed"),
    [
        ("import tenacity\n\n@tenacity.retry(sleep=asyncio.sleep)\ndef f():\n    pass\n", True),
        ("import tenacity\n\n@tenacity.retry(sleep \\\n = s)\ndef f():\n    pass\n", True),
        ("import tenacity\n\n@tenacity.retry(\n    sleep  # why\n    =s)\ndef f():\n    pass\n", True),
        ("from tenacity import _asyncio\n", True),
        ("import tenacity . _asyncio\n", True),
        ("import tenacity\nimport pytest_asyncio\n\nasync def f():\n    await asyncio.sleep(0)\n", False),
    ],
)
def test_tenacity_precise_check_reads_sleep_and_asyncio_as_their_rules_do(code, needed):
    upgrade = default_registry().get("tenacity")
    assert upgrade.needs_codemod("app/mod.py", code) is needed
    if not needed:  # and the codemod indeed changes nothing there
        registry = default_registry()
        versions = registry.versions().with_targets(tenacity="9.2.0")
        info = FileInfo("app/mod.py", False, False)
        state = {"tenacity": {"tests_assert_waits": False}}
        new, changes, _ = transform_source(code, [upgrade], state, versions, info)
        assert (new, changes) == (code, [])
