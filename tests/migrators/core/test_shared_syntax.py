"""One CPython parse of a file's text for its transform, sweep and post-migrate check (issue 16).

ProjectTree.syntax_of hands every reader of the same text the same tree: the analyses' tree of the
file as read, else one of the last few texts parsed. The tests count parses and compare the shared
trees with fresh ones, so a cache that returned the tree of another text would fail them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from migrators import migrate_tree
from migrators.core import tree as tree_module
from migrators.core.bindings import ImportNames
from migrators.core.check import early_reads
from migrators.core.runner import without_markers
from migrators.core.tree import ProjectTree, find_units
from migrators.upgrades import default_registry
from migrators.upgrades.influxdb3.sweep import InfluxSweeper
from tests.migrators.helpers import write_tree


def _counting(monkeypatch) -> list[str]:
    parsed: list[str] = []
    real = tree_module._ast_or_none

    def counted(text: str):
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(tree_module, "_ast_or_none", counted)
    return parsed


def test_a_text_is_parsed_once_and_each_text_gets_its_own_tree(tmp_path, monkeypatch):
    write_tree(tmp_path, {"app/a.py": "import os\nx = os.sep\n"})
    tree = ProjectTree(tmp_path)
    parsed = _counting(monkeypatch)
    first = tree.syntax_of("y = 1\n")
    assert tree.syntax_of("y = 1\n") is first and parsed == ["y = 1\n"]
    assert ast.dump(tree.syntax_of("y = 2\n")) == ast.dump(ast.parse("y = 2\n"))
    assert tree.syntax_of("def f(:\n") is None  # rejected: None, as tree.syntax gives
    # the file as read, once an analysis parsed it: the analyses' tree, only for that exact text
    analysed = tree.syntax("app/a.py")
    assert tree.syntax_of(tree.read("app/a.py")) is analysed
    assert tree.syntax_of("import os\n") is not analysed
    # a text parsed before an analysis asks for the file: that parse is kept, not made again
    write_tree(tmp_path, {"app/b.py": "import sys\n"})
    before = tree.syntax_of("import sys\n")
    parsed.clear()
    assert tree.syntax("app/b.py") is before and parsed == []


def test_the_recent_trees_are_bounded(tmp_path):
    tree = ProjectTree(tmp_path)
    texts = [f"x = {i}\n" for i in range(10)]
    for text in texts:
        tree.syntax_of(text)
    assert len(tree._recent) <= tree_module._RECENT_TREES
    # an evicted text is parsed again, into the right tree
    assert ast.dump(tree.syntax_of(texts[0])) == ast.dump(ast.parse(texts[0]))


def test_transform_sweep_and_check_share_the_parse_of_a_text(tmp_path, monkeypatch):
    code = (
        "from influxdb_client import InfluxDBClient\n\n"
        'client = InfluxDBClient(url="http://x", token="t", org="o")\n'
        "rows = client.query_api().query('from(bucket: \"b\") |> range(start: -1h)')\n"
    )
    write_tree(tmp_path, {"requirements.txt": "influxdb-client==1.40.0\n", "app/store.py": code})
    parsed: list[str] = []
    real = ast.parse

    def counted(source, *args, **kwargs):  # every CPython parse, whoever asks for it
        parsed.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counted)
    result = migrate_tree(tmp_path, registry=default_registry())
    store = result.file("app/store.py")
    assert store.status == "changed" and store.new != code
    # once each: the text as read (analyses, the influxdb3 pre-check, the transform), the final
    # text (sweep, check)
    assert (parsed.count(code), parsed.count(store.new)) == (1, 1)


def test_the_readers_get_the_trees_a_fresh_parse_gives(tmp_path):
    tree = ProjectTree(tmp_path)
    text = "import os\nA = B\nB = os.sep\n"
    shared = tree.syntax_of  # what the runner passes
    assert early_reads(text, shared) == early_reads(text) == {"B": 2}
    names = ImportNames(__import__("libcst").parse_module(text), text, shared)
    assert names._ast_tree() is tree.syntax_of(text)
    sweeper = InfluxSweeper(tree, default_registry().versions())
    assert sweeper.parsed(text) is tree.syntax_of(text)


def test_the_influxdb3_precise_check_answers_the_same_with_the_shared_parse():
    registry = default_registry()
    upgrade = registry.get("influxdb3")
    root = Path(__file__).resolve().parents[3]
    asked = 0
    for unit_root in (root / "services", root / "tests/migrators/corpus"):
        for unit in find_units(unit_root):
            tree = ProjectTree(unit_root / unit)
            if not upgrade.detect(tree):
                continue
            state = upgrade.analyze(tree, registry.versions())
            alone = {k: v for k, v in state.items() if k != "syntax"}  # its own ast.parse
            for rel in tree.python_files():
                text = without_markers(tree.read(rel))
                if upgrade.precheck(rel, text):
                    shared = upgrade.needs_codemod(rel, text, state)
                    assert shared == upgrade.needs_codemod(rel, text, alone), (unit, rel)
                    asked += 1
    assert asked >= 20, asked
