"""The shortcuts of the codemod runner (issue 16) give what the long way gives.

Each test puts a shortcut beside the work it replaces: qualified names from the scope (only where an
import binds the name's head) against libcst's QualifiedNameProvider, the top-level import adder
against libcst's AddImportsVisitor, the precise tenacity check against its codemod, the files spared
a parse against a full run's report, and the migrator container's limits.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst._metadata_dependent import LazyValue
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, QualifiedNameProvider, QualifiedNameSource

from migrators import migrate_tree
from migrators.core.codemod import (
    MigrationCodemod,
    TopLevelAddImports,
    import_heads,
    iter_imports,
    remove_lone_unused_import,
)
from migrators.core.profile import Profile
from migrators.core.runner import transform_source, without_markers
from migrators.core.tree import FileInfo, ProjectTree, find_units, is_test_file
from migrators.upgrades import default_registry
from migrators.upgrades.pytest_asyncio import PAState, PytestAsyncioUpgrade
from migrators.upgrades.tenacity import TenacityUpgrade
from sandbox.engine.containers import LIMITS, NO_HEALTHCHECK, migrator_limits
from tests.migrators.helpers import dedent, write_tree

MODULE = dedent('''
    """Doc."""
    from __future__ import annotations

    import os.path
    import asyncio as aio
    from tenacity import retry, wait_chain as chain
    from . import sibling

    try:
        import ujson as json
    except ImportError:
        import json


    class Box:
        import typing

        def run(self, aio=None):
            from collections import OrderedDict
            aio.sleep(1)
            os.path.join("a", "b")
            chain()
            json.loads("{}")
            self.client.get().retry.statistics
            return OrderedDict(), typing.Any, sibling.x


    @retry(wait=chain())
    def go():
        if True: import re
        match go:
            case 1:
                import csv
        return aio.sleep(0), re.compile("x"), csv, [x for x in range(3)], lambda y: y
''')


def test_import_heads_finds_imports_in_every_block_and_only_those():
    heads = import_heads(cst.parse_module(MODULE))
    assert heads == {
        "annotations",
        "os",
        "aio",
        "asyncio",
        "retry",
        "chain",
        "wait_chain",
        "sibling",
        "json",
        "ujson",
        "typing",
        "OrderedDict",
        "re",
        "csv",
    }


def test_iter_imports_meets_the_imports_a_visitor_meets_in_the_same_order():
    module = cst.parse_module(MODULE + "try:\n    pass\nexcept E:\n    import a\nelse:\n    import b\n")
    seen: list[cst.CSTNode] = []

    class _All(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> None:
            seen.append(node)

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            seen.append(node)

    module.visit(_All())
    assert len(seen) == 13
    assert list(iter_imports(module)) == seen  # identity and order (a later import overrides)


class _Recorder(MigrationCodemod):
    """Asks qualified_names of every node, the way the upgrades' codemods do."""

    def on_visit(self, node):
        self.asked = getattr(self, "asked", [])
        self.asked.append((node, self.qualified_names(node)))
        return super().on_visit(node)


def test_qualified_names_equal_the_providers_import_names_for_every_node():
    module = cst.parse_module(MODULE)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    expected = wrapper.resolve(QualifiedNameProvider)
    recorder = _Recorder(CodemodContext())
    recorder.transform_shared(wrapper)
    assert len(recorder.asked) > 200
    nonempty = 0
    for node, names in recorder.asked:
        found = expected.get(node, set())
        found = found() if isinstance(found, LazyValue) else found  # what get_metadata unwraps
        imported = {q.name for q in found if q.source == QualifiedNameSource.IMPORT}
        assert names == imported, (node, names, imported)
        nonempty += bool(names)
    assert nonempty >= 10  # the test compares real resolutions, not only empty sets


def _add_imports(adder: type[AddImportsVisitor], code: str, wanted: list[tuple[str, str | None]]) -> str:
    context = CodemodContext()
    for module, obj in wanted:
        AddImportsVisitor.add_needed_import(context, module, obj)
    return adder(context).transform_module(cst.parse_module(code)).code


def test_top_level_import_adder_gives_libcsts_result():
    cases = [
        MODULE,
        "x = 1\nimport os\n",
        '"""doc"""\nfrom os import path\n\ndef f():\n    from os import sep\n    return sep\n',
        "def f():\n    import asyncio\n    return asyncio\n",
        "from __future__ import annotations\nfrom tenacity import retry\n",
        "",
    ]
    wanted = [
        ("asyncio", None),
        ("os", "sep"),
        ("tenacity", "wait_chain"),
        ("inspect", "iscoroutinefunction"),
    ]
    for code in cases:
        assert _add_imports(TopLevelAddImports, code, wanted) == _add_imports(AddImportsVisitor, code, wanted)


TENACITY_CHANGES = [
    "from tenacity._asyncio import AsyncRetrying\n",
    "import tenacity._asyncio\n",
    "from tenacity import iscoroutinefunction\n",
    "import tenacity\nf = tenacity.iscoroutinefunction\n",
    "from tenacity import retry\n\n@retry\ndef f():\n    pass\n\nf.retry.statistics\n",
    "from tenacity import retry, wait_random_exponential as w\n\n@retry(wait=w(min=1))\ndef f():\n    pass\n",
    "import tenacity as t\n\n@t.retry(wait=t.wait_full_jitter(1, 2, 3, 4))\ndef f():\n    pass\n",
    "from tenacity import wait_chain as c\nc()\n",
    "import asyncio\nfrom tenacity import retry\n\n@retry(sleep=asyncio.sleep)\ndef f():\n    pass\n",
]


def test_tenacity_precise_check_accepts_every_file_its_codemod_changes():
    upgrade = TenacityUpgrade()
    registry = default_registry()
    versions = registry.versions().with_targets(tenacity="9.2.0")
    state = {"tests_assert_waits": False}
    for code in TENACITY_CHANGES:
        info = FileInfo("app/mod.py", False, False)
        new, changes, _ = transform_source(code, [upgrade], {"tenacity": state}, versions, info)
        assert new != code or changes, code  # the codemod does something here...
        assert upgrade.needs_codemod("app/mod.py", code), code  # ...so the check lets it through
    plain = "from tenacity import retry, stop_after_attempt\n\n@retry(stop=stop_after_attempt(3))\ndef f():\n"
    assert not upgrade.needs_codemod("app/mod.py", plain + "    pass\n")


_RETRIED = "from tenacity import retry\n\n@retry\ndef f():\n    pass\n\n"
_IN_CLASS = "class C:\n    @retry\n    def f(self):\n        pass\n\n    def g(self):\n        return {}\n"
# TN-2's shapes: a receiver it resolves (a name, self.x, cls.x) however it is written
TN2_REWRITES = [
    _RETRIED + "f.retry.statistics\n",
    _RETRIED + "(f).retry.statistics\n",
    _RETRIED + "f .retry.statistics\n",
    _RETRIED + "x = (f\n     .retry\n     .statistics)\n",
    _RETRIED + "x = f.retry. statistics\n",
    _RETRIED + "s = f.retry.statistics; t = a.b.retry.statistics\n",
    "from tenacity import retry\n\n" + _IN_CLASS.format("self.f.retry.statistics"),
    "from tenacity import retry\n\n" + _IN_CLASS.format("self .f.retry.statistics"),
    "from tenacity import retry\n\n" + _IN_CLASS.replace("(self)", "(cls)").format("cls.f.retry.statistics"),
]
# a receiver of two or more names TN-2 cannot resolve: nothing changes from a 9.2 target on
TN2_DOTTED = "import tenacity\nfrom app import retries\n\nx = retries.write.retry.statistics['a']\n"


def _tenacity_run(code: str, target: str) -> tuple[bool, bool]:
    """(the codemod changes or marks something, needs_codemod lets the file through) for one target,
    with the state the upgrade's analysis gives."""
    upgrade = TenacityUpgrade()
    versions = default_registry().versions().with_targets(tenacity=target)
    state = upgrade.analyze(ProjectTree(Path("/nonexistent")), versions)
    info = FileInfo("app/mod.py", False, False)
    new, changes, _ = transform_source(code, [upgrade], {"tenacity": state}, versions, info)
    return (new != code or bool(changes)), upgrade.needs_codemod("app/mod.py", code, state)


def test_tenacity_statistics_check_lets_through_every_shape_tn2_acts_on():
    for code in TN2_REWRITES:
        for target in ("9.2.0", "9.1.2"):
            acts, needed = _tenacity_run(code, target)
            assert acts, (target, code)  # TN-2 rewrites (or below 9.2 marks) it...
            assert needed, (target, code)  # ...so the precise check lets it through
    assert _tenacity_run(TN2_DOTTED, "9.1.2") == (True, True)  # marked: the statistics are empty
    assert _tenacity_run(TN2_DOTTED, "9.2.0") == (False, False)  # nothing to do: no parse
    # without the analysis' state the check cannot know the target: it lets the file through
    assert TenacityUpgrade().needs_codemod("app/mod.py", TN2_DOTTED)


# PA-15's shapes in auto mode (no marker or fixture decorator for another rule to act on)
PA15_CLOSES = [
    "import asyncio\n\nasync def test_a():\n    loop = asyncio.get_running_loop()\n    loop.close()\n",
    "import asyncio\n\nasync def test_a():\n    asyncio.get_running_loop().close()\n",
    "import asyncio\n\nasync def test_a():\n    asyncio.get_event_loop().close()\n",
    "import asyncio\n\nasync def test_a():\n    loop = asyncio.get_event_loop()\n    loop.close()\n",
    "async def test_a(event_loop):\n    event_loop.close()\n",
]
# a close() of anything else: the helpers most fixtures close
PA15_OTHER_CLOSE = (
    "import asyncio\nimport pytest\n\n@pytest.fixture\nasync def helper():\n    h = Helper()\n"
    "    yield h\n    h.close()\n\nasync def test_a(helper):\n    await asyncio.sleep(0)\n"
    "    helper.close()\n"
)


def test_pytest_asyncio_close_check_lets_through_every_loop_close():
    upgrade = PytestAsyncioUpgrade()
    versions = default_registry().versions()
    state = PAState(mode="auto")
    info = FileInfo("tests/test_a.py", True, False)
    for code in PA15_CLOSES:
        new, changes, _ = transform_source(code, [upgrade], {upgrade.name: state}, versions, info)
        assert any(c.rule in ("PA-15", "PA-6", "PA-16") for c in changes), code  # a rule acts...
        assert upgrade.needs_codemod(info.rel, code, state), code  # ...so the check lets it through
    new, changes, _ = transform_source(PA15_OTHER_CLOSE, [upgrade], {upgrade.name: state}, versions, info)
    assert (new, changes) == (PA15_OTHER_CLOSE, [])  # nothing to do in it...
    assert not upgrade.needs_codemod(info.rel, PA15_OTHER_CLOSE, state)  # ...and no parse for it


def test_a_file_spared_a_parse_reports_as_in_a_full_run(tmp_path):
    files = {
        "requirements.txt": "tenacity==8.2.3\n",
        "app/plain.py": "from tenacity import retry\n\n@retry\ndef f():\n    return 1\n",
        "app/broken.py": "import tenacity\ndef f(:\n",
        "app/waits.py": "from tenacity import wait_chain\nw = wait_chain()\n",
    }
    write_tree(tmp_path, files)
    profile = Profile()
    result = migrate_tree(tmp_path, registry=default_registry(), profile=profile)
    plain = result.file("app/plain.py")
    assert (plain.status, plain.changes, plain.upgrades) == ("unchanged", [], [])
    broken = result.file("app/broken.py")
    assert broken.status == "error" and broken.error.startswith("parse error")
    assert result.file("app/waits.py").status in ("changed", "unchanged")
    assert profile.counts.get("spared:tenacity") == 2  # plain and broken: no libcst parse for them
    # CPython's check of plain and broken, libcst's parse of broken (its error) and of waits
    assert profile.counts.get("parse") == 4
    assert "spared by a precise check" in profile.format()


def test_migrator_gets_a_quota_of_the_cores_and_keeps_its_memory_limit():
    limits = migrator_limits(2)
    assert limits["nano_cpus"] == 2_000_000_000
    assert limits["mem_limit"] == LIMITS["mem_limit"]
    # the rest is the stage limits, with the image's HEALTHCHECK off (the sandbox waits on the exit)
    assert {k: v for k, v in limits.items() if k != "nano_cpus"} == {
        **{k: v for k, v in LIMITS.items() if k != "nano_cpus"},
        **NO_HEALTHCHECK,
    }
    assert migrator_limits(0)["nano_cpus"] == 1_000_000_000


ROOT = Path(__file__).resolve().parents[3]


def _spared_and_checked(root: Path, name: str) -> tuple[int, int]:
    """Over every unit under `root` where the upgrade is detected: each file its pre-check lets
    through and its precise check spares must come out of its codemod unchanged, with no change
    recorded. (files spared, files the precise check let through)."""
    registry = default_registry()
    upgrade = registry.get(name)
    spared = kept = 0
    for unit in find_units(root):
        tree = ProjectTree(root / unit)
        if not upgrade.detect(tree):
            continue
        versions = registry.versions()
        state = upgrade.analyze(tree, versions)
        for rel in tree.python_files():
            text = without_markers(tree.read(rel))
            if not upgrade.precheck(rel, text):
                continue
            if upgrade.needs_codemod(rel, text, state):
                kept += 1
                continue
            spared += 1
            info = FileInfo(rel, is_test_file(rel), rel.endswith("conftest.py"), tree=tree)
            code = tree.read(rel)
            try:
                new, changes, _ = transform_source(code, [upgrade], {name: state}, versions, info)
            except Exception as exc:  # a parse error: the runner reports it the same either way
                assert "parse error" in str(exc), (unit, rel, exc)
                continue
            assert (new, changes) == (code, []), (unit, rel)
    return spared, kept


@pytest.mark.parametrize("name", ["pytest-asyncio", "influxdb3", "tenacity"])
def test_precise_check_spares_only_files_the_codemod_leaves_alone(name):
    spared = kept = 0
    for root in (ROOT / "services", ROOT / "tests/migrators/corpus"):
        found = _spared_and_checked(root, name)
        spared, kept = spared + found[0], kept + found[1]
    assert spared >= 3 and kept >= 3, (spared, kept)  # both answers were given and checked


REMOVALS = [
    ("import os\n# the mode\nfrom influxdb_client_3 import SYNCHRONOUS\n\nx = 1\n", True),
    ("from influxdb_client_3 import SYNCHRONOUS\nimport os\n", True),
    ("from influxdb_client_3 import SYNCHRONOUS\nw = SYNCHRONOUS\n", False),
    ("from influxdb_client_3 import SYNCHRONOUS\n__all__ = ['SYNCHRONOUS']\n", False),
    ("from influxdb_client_3 import SYNCHRONOUS, Point\nPoint\n", False),
    ("from influxdb_client_3 import SYNCHRONOUS as S\n", False),
    ("from influxdb_client_3 import SYNCHRONOUS; import os\n", False),
    ("def f():\n    from influxdb_client_3 import SYNCHRONOUS\n", False),
    ("from influxdb_client_3 import ASYNCHRONOUS\nfrom influxdb_client_3 import SYNCHRONOUS\n", True),
]


def test_lone_unused_import_removal_gives_libcsts_result():
    for code, fast in REMOVALS:
        context = CodemodContext()
        RemoveImportsVisitor.remove_unused_import(context, "influxdb_client_3", "SYNCHRONOUS")
        expected = RemoveImportsVisitor(context).transform_module(cst.parse_module(code)).code
        removed = remove_lone_unused_import(context, cst.parse_module(code))
        assert (removed is not None) == fast, code  # the shortcut is taken exactly where expected
        if removed is not None:
            assert removed.code == expected, code
    context = CodemodContext()  # two requests: libcst's visitor decides
    RemoveImportsVisitor.remove_unused_import(context, "os")
    RemoveImportsVisitor.remove_unused_import(context, "influxdb_client_3", "SYNCHRONOUS")
    assert remove_lone_unused_import(context, cst.parse_module(REMOVALS[0][0])) is None
