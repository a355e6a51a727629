"""Marker texts and placements that earlier tests left open, written against mutants of
migrators/core/codemod.py, migrators/core/results.py and IX-13's loop guard (queries.py) that survived
them (scripts/mutation.py, group `markers`). Pure logic through public entry points, no Docker.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
import pytest
from libcst.codemod import CodemodContext

from migrators.core.codemod import MigrationCodemod
from migrators.core.results import Change, FileResult, TreeResult, note_text
from tests.migrators.helpers import dedent, run_file

# --- the exact IX-13 instruction a person reads ---------------------------------------------------------

STATE = {"dataframes": False, "schema": {"cpu": ["host"]}}
QUERY = (
    'influx.query_api.query(\'from(bucket: "b") |> range(start: -1h) |> '
    'filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")\', org="o")'
)
LOOP_MARK = "# MIGRATION-BLOCKER(IX-13): loop over Flux tables: iterate table.to_pylist() rows"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("    for table in result:\n        print(table)\n", id="no-inner-loop"),
        pytest.param(
            "    for table in result:\n        for record in other.records:\n            print(record)\n",
            id="inner-loop-over-another-objects-records",
        ),
    ],
)
def test_a_loop_over_flux_tables_gets_the_exact_instruction(body: str) -> None:
    source = dedent(f"def read(influx, other):\n    result = {QUERY}\n{body}")
    code, changes = run_file("influxdb3", source, state=STATE, rel="app/q.py")
    assert f"    {LOOP_MARK}\n    for table in result:\n" in code
    messages = [c.message for c in changes if c.rule == "IX-13" and c.kind == "marker"]
    assert messages == ["loop over Flux tables: iterate table.to_pylist() rows"]


# --- note and marker texts, a tree's file lookup --------------------------------------------------------


def test_a_note_keeps_its_first_letters_and_drops_only_leading_hashes_and_spaces() -> None:
    assert note_text("XML   parsing\nchanged") == "# XML parsing changed"
    assert note_text("## # done") == "# done"


def test_looking_up_a_file_a_tree_does_not_hold_names_the_path() -> None:
    tree = TreeResult("svc", [], {}, files=[FileResult("app/a.py")])
    assert tree.file("app/a.py").path == "app/a.py"
    with pytest.raises(KeyError, match="app/missing.py"):
        tree.file("app/missing.py")


# --- where a comment lands ------------------------------------------------------------------------------


class _Toy(MigrationCodemod):
    """Drops `gone()` statements with a marker, and notes a function's first body statement when the
    function is visited (a statement other than the innermost one on the stack)."""

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if cst.Module([]).code_for_node(original_node).strip().startswith("gone("):
            self.mark("TT-5", original_node, "removed statement")
            return cst.RemovalSentinel.REMOVE
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.note_above("TT-7", node.body.body[0], "first statement")


def _run(source: str) -> tuple[str, list[Change]]:
    codemod = _Toy(CodemodContext(filename="svc/app.py"))
    return codemod.transform_module(cst.parse_module(source)).code, codemod.changes


def test_two_removed_top_level_statements_with_one_marker_write_it_once_and_count_both() -> None:
    code, changes = _run("import os\ngone()\ngone()\nx = 1\n")
    assert code == "# MIGRATION-BLOCKER(TT-5): removed statement\nimport os\nx = 1\n"
    assert [(c.rule, c.line, c.kind) for c in changes] == [("TT-5", 2, "marker"), ("TT-5", 3, "marker")]


def test_a_removed_statements_marker_already_in_the_header_is_not_written_again() -> None:
    source = "# MIGRATION-BLOCKER(TT-5): removed statement\n\nimport os\ngone()\nx = 1\n"
    code, changes = _run(source)
    assert code == "# MIGRATION-BLOCKER(TT-5): removed statement\n\nimport os\nx = 1\n"
    assert [(c.rule, c.kind) for c in changes] == [("TT-5", "marker")]


def test_a_note_on_a_named_statement_lands_above_it_not_above_the_one_being_visited() -> None:
    code, changes = _run("def f():\n    x = 1\n    return x\n")
    assert code == "def f():\n    # first statement\n    x = 1\n    return x\n"
    assert [(c.rule, c.line, c.kind) for c in changes] == [("TT-7", 2, "note")]


class _LateMark(MigrationCodemod):
    """Marks a function's first body statement when the function is left: that statement was left
    (and its comments flushed) before."""

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef):
        self.mark("TT-8", original_node.body.body[0], "finish by hand")
        return updated_node


def test_a_marker_on_a_statement_already_left_is_not_dropped_silently() -> None:
    codemod = _LateMark(CodemodContext(filename="svc/app.py"))
    code = codemod.transform_module(cst.parse_module("def f():\n    x = 1\n    return x\n")).code
    # the function, still open when its body statement is marked, carries the marker
    assert code == "# MIGRATION-BLOCKER(TT-8): finish by hand\ndef f():\n    x = 1\n    return x\n"
    assert [c.rule for c in codemod.changes] == ["TT-8"]


class _StrayMark(MigrationCodemod):
    """Marks a statement of another tree: nothing in this traversal ever leaves it."""

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module):
        self.mark("TT-9", cst.parse_statement("y = 2\n"), "look at y")
        return updated_node


def test_a_marker_on_a_statement_never_left_lands_in_the_header() -> None:
    codemod = _StrayMark(CodemodContext(filename="svc/app.py"))
    code = codemod.transform_module(cst.parse_module("x = 1\n")).code
    assert code.startswith("# MIGRATION-BLOCKER(TT-9): look at y\n")
    assert [c.rule for c in codemod.changes] == ["TT-9"]


def _loop_changes(body: str) -> tuple[str, list[tuple[str, str]]]:
    source = dedent(f"def read(influx, other):\n    result = {QUERY}\n{body}")
    code, changes = run_file("influxdb3", source, state=STATE, rel="app/q.py")
    return code, [(c.kind, c.message) for c in changes if c.rule == "IX-13"]


def test_a_record_loop_whose_target_is_not_a_name_is_marked_with_why() -> None:
    code, changes = _loop_changes(
        "    for table in result:\n        for (a, b) in table.records:\n            print(a)\n"
    )
    assert "# MIGRATION-BLOCKER(IX-13): record loop target is not a name\n" in code
    assert changes == [("marker", "record loop target is not a name")]


def test_the_exact_record_loop_is_rewritten_and_says_so() -> None:
    code, changes = _loop_changes(
        "    for table in result:\n        for record in table.records:\n            print(record.get_time())\n"
    )
    assert "MIGRATION-BLOCKER" not in code
    assert ("rewrite", "for table/for record -> for row in _influxdb3_rows(table)") in changes


def test_a_tree_results_json_names_its_root_and_versions() -> None:
    data = TreeResult("services/svc", ["influxdb3"], {"influxdb3-python": "0.12"}).to_json()
    assert (data["root"], data["upgrades"], data["versions"]) == (
        "services/svc",
        ["influxdb3"],
        {"influxdb3-python": "0.12"},
    )


def test_a_tree_counts_every_change_per_rule_and_kind_and_joins_its_files_diffs() -> None:
    first = FileResult(
        "app/b.py", "changed", [Change("IX-1", 1, "x"), Change("IX-1", 2, "y")], original="b\n", new="B\n"
    )
    second = FileResult("app/a.py", "changed", [Change("IX-13", 3, "m", "marker")], original="a\n", new="A\n")
    tree = TreeResult("svc", ["influxdb3"], {}, files=[first, second])
    assert tree.rule_counts() == {"IX-1": {"rewrite": 2}, "IX-13": {"marker": 1}}
    assert tree.diff() == second.diff() + first.diff()  # by path, nothing between them
    assert tree.diff().startswith("--- a/app/a.py\n")


class _Flatten(MigrationCodemod):
    """Statements replaced by several (`split()`), by one (`once()`) or by none (`empty()`), each marked."""

    def leave_SimpleStatementLine(self, original_node, updated_node):
        text = cst.Module([]).code_for_node(original_node).strip()
        if text.startswith("split("):
            self.mark("TT-9", original_node, "split")
            return cst.FlattenSentinel([cst.parse_statement("a = 1\n"), cst.parse_statement("b = 2\n")])
        if text.startswith("once("):
            self.mark("TT-9", original_node, "once")
            return cst.FlattenSentinel([updated_node])
        if text.startswith("empty("):
            self.mark("TT-9", original_node, "empty")
            return cst.FlattenSentinel([])
        return updated_node


def _flatten(source: str) -> tuple[str, list[Change]]:
    codemod = _Flatten(CodemodContext(filename="svc/app.py"))
    return codemod.transform_module(cst.parse_module(source)).code, codemod.changes


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("x = 0\nsplit()\n", "x = 0\n# MIGRATION-BLOCKER(TT-9): split\na = 1\nb = 2\n"),
        ("x = 0\nonce()\n", "x = 0\n# MIGRATION-BLOCKER(TT-9): once\nonce()\n"),
        # nothing left to carry it: the enclosing statement does
        (
            "def f():\n    empty()\n    return 1\n",
            "# MIGRATION-BLOCKER(TT-9): empty\ndef f():\n    return 1\n",
        ),
    ],
    ids=["two-statements", "one-statement", "no-statement"],
)
def test_a_statement_replaced_by_others_keeps_its_marker_on_the_first(source: str, code: str) -> None:
    migrated, changes = _flatten(source)
    assert migrated == code
    assert [(c.rule, c.kind) for c in changes] == [("TT-9", "marker")]


class _NewNode(MigrationCodemod):
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        new = cst.Call(cst.Name("fresh"))
        self.rewrote("TT-10", new, "a node the codemod made has no source line")
        return new


def test_a_change_to_a_node_without_a_source_position_has_line_zero() -> None:
    codemod = _NewNode(CodemodContext(filename="svc/app.py"))
    assert codemod.transform_module(cst.parse_module("x = old()\n")).code == "x = fresh()\n"
    assert [(c.rule, c.line, c.kind) for c in codemod.changes] == [("TT-10", 0, "rewrite")]


class _Matching(MigrationCodemod):
    """A codemod written with libcst's matcher decorators (the base then takes libcst's own dispatch)."""

    @m.leave(m.Call(func=m.Name("bad")))
    def _mark_bad(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        self.mark("TT-11", original_node, "finish by hand")
        return updated_node.with_changes(func=cst.Name("worse"))


def test_a_codemod_using_matcher_decorators_marks_and_rewrites_too() -> None:
    codemod = _Matching(CodemodContext(filename="svc/app.py"))
    code = codemod.transform_module(cst.parse_module("x = 1\ny = bad()\n")).code
    assert code == "x = 1\n# MIGRATION-BLOCKER(TT-11): finish by hand\ny = worse()\n"
    assert [(c.rule, c.line, c.kind) for c in codemod.changes] == [("TT-11", 2, "marker")]


def test_an_empty_module_is_transformed() -> None:
    assert _run("") == ("", [])


class _SkipFunctions(_Toy):
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a hook returning False: nothing inside the function is visited


def test_a_visit_hook_returning_false_skips_the_nodes_inside() -> None:
    codemod = _SkipFunctions(CodemodContext(filename="svc/app.py"))
    source = "def f():\n    gone()\n"
    assert codemod.transform_module(cst.parse_module(source)).code == source
    assert codemod.changes == []
