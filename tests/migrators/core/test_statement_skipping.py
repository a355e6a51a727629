"""Round-6 speed work: the influxdb3 and aiomqtt codemods skip a def or class that holds nothing for them.

* ImportNames.statement_text gives a def's or class's source lines (decorators included), at any
  depth of defs and classes, and None where it cannot know them;
* the skip never hides a change, a marker or a check failure: a run with skipping on and one with
  it off give the same report and texts over the fleet, the migration-power corpus and generated
  services, and the comparison covers real skips;
* names learned around a def (a client kept on `self`, an outer function's client, an API object a
  module binds) keep a def that uses them from being skipped;
* the influxdb3 planner's statement walk finds the nested defs a visitor over every node finds.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest

from bench.gen_services import generate
from migrators.core.bindings import ImportNames
from migrators.core.codemod import MigrationCodemod
from migrators.core.runner import migrate_tree
from migrators.upgrades import default_registry
from migrators.upgrades.aiomqtt import AiomqttCodemod
from migrators.upgrades.influxdb3 import queries
from migrators.upgrades.influxdb3.codemod import Influxdb3Codemod, header_owners
from tests.migrators.helpers import dedent, run_file

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests/migrators/corpus"

NESTED = dedent("""
    import os


    @decorated
    class Outer:
        x = 1

        @staticmethod
        def method():
            def inner():
                return os.sep

            return inner

        class Inner: pass


    if os.sep:
        def hidden():
            return 2
""")


def _by_name(module: cst.Module) -> dict[str, cst.CSTNode]:
    found: dict[str, cst.CSTNode] = {}

    class _Names(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            found[node.name.value] = node

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            found[node.name.value] = node

    module.visit(_Names())
    return found


def test_statement_text_gives_the_lines_of_defs_and_classes_at_any_depth():
    module = cst.parse_module(NESTED)
    names = ImportNames(module, NESTED)
    nodes = _by_name(module)
    assert names.statement_text(nodes["Outer"]).startswith("@decorated\nclass Outer:")
    assert names.statement_text(nodes["Outer"]).endswith("class Inner: pass")
    method = ["    @staticmethod", "    def method():", "        def inner():", "            return os.sep"]
    assert names.statement_text(nodes["method"]).split("\n") == [*method, "", "        return inner"]
    assert names.statement_text(nodes["inner"]).split("\n") == [
        "        def inner():",
        "            return os.sep",
    ]
    assert names.statement_text(nodes["Inner"]) == "    class Inner: pass"
    assert names.statement_text(nodes["hidden"]) is None  # a def in an `if` block is not paired
    crlf = NESTED.replace("\n", "\r\n")
    crlf_module = cst.parse_module(crlf)
    assert ImportNames(crlf_module, crlf).statement_text(_by_name(crlf_module)["Outer"]) is None


AIOMQTT = dedent("""
    from asyncio_mqtt import Client


    class Bridge:
        def __init__(self):
            self.link = Client("broker")

        def show(self):
            return self.link.id

        def unrelated(self):
            return [n * 2 for n in range(3)]


    async def main():
        c = Client("broker")

        def name():
            return c.id

        return name
""")


def test_aiomqtt_names_known_around_a_def_keep_it_traversed():
    new, changes = run_file("aiomqtt", AIOMQTT, rel="app/bridge.py")
    assert new.count(".identifier") == 2  # self.link.id (a class attribute) and c.id (an outer client)
    assert {c.rule for c in changes} >= {"MQ-2", "MQ-4"}


INFLUX = dedent("""
    from influxdb_client import InfluxDBClient


    class Store:
        def __init__(self):
            self.client = InfluxDBClient(url="http://db:8086", token="t", org="o")
            self._q = self.client.query_api()

        def rows(self, flux):
            return self._q.query(flux)

        def unrelated(self, items):
            return sorted(items)
""")


def test_influxdb3_names_the_module_binds_keep_a_def_traversed(monkeypatch):
    skipped: list[str] = []
    original = Influxdb3Codemod._inert

    def recording(self, node):
        answer = original(self, node)
        if answer:
            skipped.append(node.name.value)
        return answer

    monkeypatch.setattr(Influxdb3Codemod, "_inert", recording)
    new, _ = run_file("influxdb3", INFLUX, state={}, rel="app/store.py")
    monkeypatch.setattr(MigrationCodemod, "SKIP_INERT", False)
    full, _ = run_file("influxdb3", INFLUX, state={}, rel="app/store.py")
    assert new == full
    assert "unrelated" in skipped and "rows" not in skipped  # `_q` is a query API the module binds


def _fingerprint(root: Path) -> str:
    result = migrate_tree(root, registry=default_registry(), write=False, jobs=1)
    report = json.loads(json.dumps(result.to_json()).replace(str(root), "<root>"))
    return json.dumps({"report": report, "texts": [(f.path, f.status, f.new) for f in result.files]})


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory) -> Path:
    """The fleet, the migration-power corpus and two generated services under one monorepo root."""
    root = tmp_path_factory.mktemp("skipping") / "root"
    shutil.copytree(ROOT / "services", root / "fleet", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    shutil.copytree(CORPUS, root / "corpus", ignore=shutil.ignore_patterns("__pycache__"))
    generate(root / "generated", 2, 16)
    return root


def test_a_skipped_def_or_class_holds_nothing_over_the_fleet_and_corpus(bench_root, monkeypatch):
    skips: Counter[str] = Counter()
    for codemod in (Influxdb3Codemod, AiomqttCodemod):
        original = codemod._inert

        def recording(self, node, original=original, name=codemod.__name__):
            answer = original(self, node)
            skips[name] += answer
            return answer

        monkeypatch.setattr(codemod, "_inert", recording)
    fast = _fingerprint(bench_root)
    monkeypatch.setattr(MigrationCodemod, "SKIP_INERT", False)
    assert _fingerprint(bench_root) == fast
    assert skips["Influxdb3Codemod"] >= 20 and skips["AiomqttCodemod"] >= 20  # real skips compared


def _nested_by_visitor(body: cst.CSTNode) -> list[cst.FunctionDef]:
    found: list[cst.FunctionDef] = []

    class _Find(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            found.append(node)
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

    body.visit(_Find())
    return found


def test_the_planners_statement_walk_finds_the_nested_defs_a_visitor_finds(bench_root):
    compared = 0
    for path in sorted(bench_root.rglob("*.py")):
        try:
            module = cst.parse_module(path.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue
        for node in _by_name(module).values():
            if isinstance(node, cst.FunctionDef):
                assert queries._nested_functions(node.body) == _nested_by_visitor(node.body), path
                compared += bool(_nested_by_visitor(node.body))
    assert compared >= 5


class _HeaderOwnersByVisitor(cst.CSTVisitor):
    """The visitor header_owners replaced (round 5): the reference it must agree with."""

    def __init__(self) -> None:
        self.owners: dict[int, tuple[cst.CSTNode, ...]] = {}
        self._frames: list[list] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            self._frames.append([node, 0])
        self.owners[id(node)] = tuple(frame[0] for frame in self._frames if frame[1] == 0)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self._frames and self._frames[-1][0] is original_node:
            self._frames.pop()

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self._count(node, attribute, 1)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        self._count(original_node, attribute, -1)

    def _count(self, node: cst.CSTNode, attribute: str, step: int) -> None:
        frame = self._frames[-1] if self._frames else None
        blocks = ("body", "orelse", "finalbody", "handlers")
        if frame is not None and frame[0] is node and attribute in blocks:
            if isinstance(node, cst.BaseCompoundStatement):
                frame[1] += step


def test_header_owners_agree_with_a_visitor_over_every_node(bench_root):
    compared = 0
    for path in sorted((bench_root / "corpus").rglob("*.py")):
        try:
            module = cst.parse_module(path.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue
        reference = _HeaderOwnersByVisitor()
        module.visit(reference)
        assert header_owners(module) == reference.owners, path
        compared += 1
    assert compared >= 50
