"""ImportNames (qualified names without a scope analysis) gives libcst's answer, or none at all.

Each test puts its answer beside libcst's QualifiedNameProvider on the same module: for every node
where it answers, the answers are equal; where the module does not prove it safe it must not answer.
The last test runs the upgrades over the migration corpus asking both ways at every question.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst._metadata_dependent import LazyValue
from libcst.helpers import get_full_name_for_node
from libcst.metadata import MetadataWrapper, QualifiedNameProvider, QualifiedNameSource

from migrators import migrate_tree
from migrators.core import codemod as codemod_module
from migrators.core.bindings import ImportNames
from migrators.upgrades import default_registry
from tests.migrators.helpers import dedent

ROOT = Path(__file__).resolve().parents[3]

MODULE = dedent('''
    """Doc mentioning pytest and retry."""
    from __future__ import annotations

    import os.path
    import asyncio as aio
    import typing
    from tenacity import retry, wait_chain as chain, stop_after_attempt
    from . import sibling
    import a.b.c
    import pytest

    try:
        import ujson as json
    except ImportError:
        import json

    if typing.TYPE_CHECKING:
        from influxdb_client import InfluxDBClient


    @pytest.fixture
    async def client(request) -> InfluxDBClient:
        return InfluxDBClient(url="u")


    class Box:
        def run(self, aio=None):
            aio.sleep(1)
            os.path.join("a", "b")
            chain()
            json.loads("{}")
            a.b.c.d()
            a.b.x()
            self.client.get().stop_after_attempt.statistics
            return typing.Any, sibling.x, pytest.mark.asyncio(loop_scope="module")


    @retry(wait=chain(), stop=stop_after_attempt(3))
    def go(stop_after_attempt=None):
        return [json.dumps(x) for x in range(3)], lambda y: aio.sleep(y), os.path
''')


def _provider_names(module: cst.Module) -> dict[int, set[str]]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    found = {}
    for node, names in wrapper.resolve(QualifiedNameProvider).items():
        names = names() if isinstance(names, LazyValue) else names
        found[id(node)] = {q.name for q in names if q.source == QualifiedNameSource.IMPORT}
    return found


def _answers(code: str) -> tuple[list[tuple[cst.CSTNode, set[str] | None]], dict[int, set[str]]]:
    module = cst.parse_module(code)
    expected = _provider_names(module)
    names = ImportNames(module, code)
    answers = []
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        full = get_full_name_for_node(node)
        if full is not None:
            answers.append((node, names.names_for(node, full)))
    return answers, expected


def test_every_answer_equals_the_providers_and_most_imported_names_get_one():
    answers, expected = _answers(MODULE)
    given = [(node, found) for node, found in answers if found is not None]
    for node, found in given:
        assert found == expected.get(id(node), set()), (cst.Module([]).code_for_node(node), found)
    by_code = {cst.Module([]).code_for_node(node): found for node, found in given}
    assert by_code["pytest.fixture"] == {"pytest.fixture"}
    assert by_code["InfluxDBClient"] == {"influxdb_client.InfluxDBClient"}  # in an `if` block
    assert by_code["json.loads"] == {"ujson.loads", "json.loads"}  # both imports of try/except
    assert by_code["os.path.join"] == {"os.path.join"}
    assert by_code["a.b.c.d"] == {"a.b.c.d"}
    assert by_code["pytest.mark.asyncio"] == {"pytest.mark.asyncio"}
    assert by_code["chain()"] == {"tenacity.wait_chain"}
    assert by_code["sibling.x"] == {".sibling.x"}
    assert len(given) >= 20


@pytest.mark.parametrize(
    ("code", "node_code"),
    [
        # a parameter of the same name shadows the import in that function
        ("import aio\ndef f(aio=None):\n    aio.sleep(1)\n", "aio.sleep"),
        # the name after a dot is no use of the import (libcst gives it no scope)
        ("from tenacity import retry\nx.retry\nretry()\n", "retry"),
        # a keyword argument's name
        ("from tenacity import stop\nf(stop=1)\nstop()\n", "stop"),
        # a use at module level before the import does not see it
        ("pytest.fixture\nimport pytest\n", "pytest.fixture"),
        # an import in a function binds the name there only
        ("def f():\n    import json\n    json.loads('')\nimport json\n", "json.loads"),
        # global, del, a class attribute, a comprehension target, a walrus, a match target
        ("import json\ndef f():\n    global json\njson.loads('')\n", "json.loads"),
        ("import json\njson.loads('')\ndel json\n", "json.loads"),
        ("import json\nclass C:\n    json = 1\njson.loads('')\n", "json.loads"),
        ("import json\n[json for json in range(3)]\njson.loads('')\n", "json.loads"),
        ("import json\nif (json := 1):\n    pass\njson.loads('')\n", "json.loads"),
        ("import json\nmatch 1:\n    case json:\n        pass\njson.loads('')\n", "json.loads"),
        # a private name is mangled in a class body, where the symbol table no longer sees it
        ("import __x\nclass C:\n    __x = 1\n__x.y()\n", "__x.y"),
        # the first argument of TypeVar is not visited by libcst's scope pass
        ("import h\nfrom typing import TypeVar\nT = TypeVar(h.name)\n", "h.name"),
        # text this CPython (3.11) rejects and libcst accepts: no proof
        ("import h\nh.x()\ntype X = int\n", "h.x"),
    ],
)
def test_no_answer_where_the_module_does_not_prove_it(code, node_code):
    answers, _ = _answers(code)
    asked = [found for node, found in answers if cst.Module([]).code_for_node(node) == node_code]
    assert asked, node_code
    assert all(found is None for found in asked), (node_code, asked)


def test_nodes_inside_import_statements_get_no_answer():
    module = cst.parse_module("from pytest import fixture\nfixture()\n")
    names = ImportNames(module, module.code)
    imported = module.body[0].body[0].names[0].name
    called = module.body[1].body[0].value.func
    assert names.names_for(imported, "fixture") is None  # libcst gives names inside imports no scope
    assert names.names_for(called, "fixture") == {"pytest.fixture"}


def test_the_upgrades_over_the_corpus_get_the_same_names_both_ways(monkeypatch, tmp_path):
    """Every question the codemods ask on the fleet and the migration corpus, answered both ways."""
    asked = {"fast": 0, "all": 0}
    mismatches: list[tuple[str, str, set[str], set[str]]] = []
    original = codemod_module.MigrationCodemod.qualified_names

    def both_ways(self, node, local=False):
        quick = original(self, node, local)
        shared, self._import_names = self._import_names, None
        try:
            slow = original(self, node, local)
        finally:
            self._import_names = shared
        full = get_full_name_for_node(node)
        asked["all"] += 1
        asked["fast"] += bool(shared and full and shared.names_for(node, full) is not None)
        if quick != slow:
            mismatches.append((self.context.filename, full, quick, slow))
        return slow

    monkeypatch.setattr(codemod_module.MigrationCodemod, "qualified_names", both_ways)
    for folder in ("services", "tests/migrators/corpus"):
        migrate_tree(ROOT / folder, registry=default_registry(), write=False)
    assert mismatches == []
    assert asked["fast"] > asked["all"] / 3  # the shortcut really answers most questions
