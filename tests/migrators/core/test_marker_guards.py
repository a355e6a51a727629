"""The marker bookkeeping every upgrade relies on, held rule by rule (pure logic, no Docker).

Written against mutants of migrators/core/codemod.py and migrators/core/results.py that survived the
older tests (scripts/mutation.py, group `markers`): where a blocker comment lands when its statement
is replaced or removed, that a repeated comment is written once but every change is still counted,
and what the JSON result says about markers, owners and units.
"""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from migrators.core.codemod import MigrationCodemod, can_lead, dotted
from migrators.core.results import (
    MARKER_RULE,
    Change,
    CheckFailure,
    CheckResult,
    FileResult,
    TreeResult,
    iter_markers,
    marker_text,
    note_text,
    rule_prefix,
)


class _Toy(MigrationCodemod):
    """Marks every call of `bad()`, notes every `note()`, drops `gone()` statements, doubles `twice()`,
    and counts `old()` as rewritten and `seen()` as info."""

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = dotted(original_node.func)
        if name == "bad":
            self.mark("TT-1", original_node, "finish   this\n by hand")
        elif name == "note":
            self.note_above("TT-2", original_node, "#  look here")
        elif name == "old":
            self.rewrote("TT-3", original_node, "old -> new")
            return updated_node.with_changes(func=cst.Name("new"))
        elif name == "seen":
            self.info_only("TT-4", original_node, "seen")
        return updated_node

    def leave_SimpleStatementLine(self, original_node, updated_node):
        text = cst.Module([]).code_for_node(original_node).strip()
        if text.startswith("gone("):
            self.mark("TT-5", original_node, "removed statement")
            return cst.RemovalSentinel.REMOVE
        if text.startswith("twice("):
            self.mark("TT-6", original_node, "doubled")
            return cst.FlattenSentinel([updated_node, updated_node.deep_clone()])
        return updated_node


def _run(source: str) -> tuple[str, list[Change]]:
    codemod = _Toy(CodemodContext(filename="svc/app.py"))
    module = codemod.transform_module(cst.parse_module(source))
    return module.code, codemod.changes


def test_a_marker_sits_above_the_statement_holding_the_call_with_its_line() -> None:
    code, changes = _run("x = 1\ny = f(bad())\n")
    assert code == "x = 1\n# MIGRATION-BLOCKER(TT-1): finish this by hand\ny = f(bad())\n"
    assert changes == [Change("TT-1", 2, "finish   this\n by hand", "marker")]


def test_a_marker_inside_a_block_is_indented_above_the_innermost_statement() -> None:
    code, changes = _run("def f():\n    if x:\n        return bad()\n")
    assert code == (
        "def f():\n    if x:\n        # MIGRATION-BLOCKER(TT-1): finish this by hand\n        return bad()\n"
    )
    assert [(c.rule, c.line, c.kind) for c in changes] == [("TT-1", 3, "marker")]


def test_a_repeated_marker_is_written_once_and_counted_each_time() -> None:
    code, changes = _run("x = 1\ny = bad() + bad()\n")
    assert code.count("MIGRATION-BLOCKER") == 1
    assert [c.kind for c in changes] == ["marker", "marker"]


def test_running_twice_adds_no_second_marker() -> None:
    once, _ = _run("x = 1\ny = bad()\n")
    twice, changes = _run(once)
    assert twice == once and [c.kind for c in changes] == ["marker"]


def test_a_marker_already_in_the_module_header_is_not_written_again_but_counted() -> None:
    source = "# MIGRATION-BLOCKER(TT-1): finish this by hand\ny = bad()\nz = bad()\n"
    code, changes = _run(source)
    assert code == source.replace("z = bad()", "# MIGRATION-BLOCKER(TT-1): finish this by hand\nz = bad()")
    assert [(c.rule, c.line) for c in changes] == [("TT-1", 2), ("TT-1", 3)]


def test_a_first_statement_gets_its_marker_when_the_header_has_another_comment() -> None:
    code, changes = _run("# a header\ny = bad()\n")
    assert code == "# a header\n# MIGRATION-BLOCKER(TT-1): finish this by hand\ny = bad()\n"
    assert len(changes) == 1


def test_a_removed_statements_marker_goes_to_the_enclosing_statement() -> None:
    code, changes = _run("def f():\n    gone()\n    return 1\n")
    assert code == "# MIGRATION-BLOCKER(TT-5): removed statement\ndef f():\n    return 1\n"
    assert [(c.rule, c.line, c.kind) for c in changes] == [("TT-5", 2, "marker")]


def test_a_removed_top_level_statements_marker_goes_to_the_module_header() -> None:
    """No enclosing statement to hand it to: the header keeps it, never dropped silently."""
    code, changes = _run("import os\ngone()\nx = 1\n")
    assert code == "# MIGRATION-BLOCKER(TT-5): removed statement\nimport os\nx = 1\n"
    assert [(c.rule, c.line, c.kind) for c in changes] == [("TT-5", 2, "marker")]
    again, _ = _run(code)
    assert again == code


def test_a_statement_made_into_two_gets_the_marker_on_the_first() -> None:
    code, changes = _run("x = 1\ntwice()\n")
    assert code == "x = 1\n# MIGRATION-BLOCKER(TT-6): doubled\ntwice()\ntwice()\n"
    assert [(c.rule, c.line) for c in changes] == [("TT-6", 2)]


def test_notes_rewrites_and_infos_are_recorded_by_kind_and_line() -> None:
    code, changes = _run("a = 1\nb = note()\nc = old()\nd = seen()\n")
    assert code == "a = 1\n# look here\nb = note()\nc = new()\nd = seen()\n"
    assert changes == [
        Change("TT-2", 2, "#  look here", "note"),
        Change("TT-3", 3, "old -> new", "rewrite"),
        Change("TT-4", 4, "seen", "info"),
    ]


def test_dotted_names_and_statements_that_can_lead() -> None:
    assert dotted(cst.parse_expression("a.b.c")) == "a.b.c"
    assert dotted(cst.parse_expression("a().b")) is None
    assert dotted(cst.parse_expression("a[0]")) is None
    assert can_lead(cst.parse_statement("x = 1\n")) and can_lead(cst.parse_statement("if x:\n    pass\n"))
    assert not can_lead(cst.parse_expression("x"))


def test_marker_and_note_texts() -> None:
    assert marker_text("IX-9", "  do\n\tthis  ") == "# MIGRATION-BLOCKER(IX-9): do this"
    assert note_text("## two  words\n") == "# two words"
    assert note_text("plain") == "# plain"
    assert MARKER_RULE.search(marker_text("IX-13", "x")).group("rule") == "IX-13"
    assert rule_prefix("IX-13") == "IX" and rule_prefix("AB-1-2") == "AB" and rule_prefix("Q") == "Q"


def test_iter_markers_gives_one_based_lines_stripped() -> None:
    text = "a\n    # MIGRATION-BLOCKER(TT-1): x  \nb\n# MIGRATION-BLOCKER(TT-2): y\n"
    assert list(iter_markers(text)) == [
        (2, "# MIGRATION-BLOCKER(TT-1): x"),
        (4, "# MIGRATION-BLOCKER(TT-2): y"),
    ]


def _file(path: str, status: str = "changed", *changes: Change, **extra) -> FileResult:
    return FileResult(
        path, status, list(changes), original="a\n", new="b\n" if status == "changed" else "a\n", **extra
    )


def test_a_file_result_diff_and_json() -> None:
    changed = _file("x.py", "changed", Change("TT-1", 1, "m", "marker"), Change("TT-3", 2, "r"))
    assert changed.changed and changed.markers == [Change("TT-1", 1, "m", "marker")]
    assert changed.diff() == "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert _file("y.py", "unchanged").diff() == "" and not _file("y.py", "unchanged").changed
    assert changed.to_json() == {
        "path": "x.py",
        "status": "changed",
        "upgrades": [],
        "changes": [
            {"rule": "TT-1", "line": 1, "message": "m", "kind": "marker"},
            {"rule": "TT-3", "line": 2, "message": "r", "kind": "rewrite"},
        ],
    }
    broken = _file("z.py", "error", error="bad syntax", error_line=3, traceback="tb", reason="why")
    assert broken.to_json() == {
        "path": "z.py",
        "status": "error",
        "upgrades": [],
        "changes": [],
        "error": "bad syntax",
        "error_line": 3,
        "traceback": "tb",
        "reason": "why",
    }


def _tree() -> TreeResult:
    tree = TreeResult("svc", ["aiomqtt"], {"aiomqtt": "2"}, owners={"TT": "toy"})
    tree.files = [
        _file("b.py", "changed", Change("TT-1", 4, "finish", "marker"), Change("TT-1", 5, "r")),
        _file("a.py", "changed", Change("ZZ-1", 1, "other", "marker")),
        _file("c.py", "error", error="e", error_line=1),
        _file("d.py", "skipped", reason="vendored"),
        _file("e.py", "skipped", Change("TT-2", 1, "n", "note"), reason="generated"),
        _file("f.py", "unchanged"),
    ]
    return tree


def test_a_tree_result_counts_markers_with_their_owners() -> None:
    tree = _tree()
    assert [f.path for f in tree.changed] == ["b.py", "a.py"] and [f.path for f in tree.errors] == ["c.py"]
    records = [r.to_json() for r in tree.marker_records()]
    assert records == [
        {"path": "b.py", "line": 4, "rule": "TT-1", "upgrade": "toy", "message": "finish"},
        {"path": "a.py", "line": 1, "rule": "ZZ-1", "upgrade": None, "message": "other"},
    ]
    assert tree.rule_counts() == {
        "TT-1": {"marker": 1, "rewrite": 1},
        "TT-2": {"note": 1},
        "ZZ-1": {"marker": 1},
    }
    assert list(tree.rule_counts()) == ["TT-1", "TT-2", "ZZ-1"]
    assert tree.diff().index("a/a.py") < tree.diff().index("a/b.py")
    assert tree.file("c.py").error == "e"
    with pytest.raises(KeyError):
        tree.file("nope.py")


def test_a_tree_results_json_summary_files_and_check() -> None:
    tree = _tree()
    data = tree.to_json()
    assert data["summary"] == {
        "files_changed": 2,
        "errors": 1,
        "markers": 2,
        "files_scanned": 6,
        "files_skipped": 2,
        "check_failures": 0,
    }
    assert [f["path"] for f in data["files"]] == ["b.py", "a.py", "c.py", "e.py", "f.py"]
    assert [m["rule"] for m in data["markers"]] == ["TT-1", "ZZ-1"]
    assert data["check"] == {"ok": True, "failures": []} and "units" not in data
    assert data["diff"] == tree.diff() and "diff" not in tree.to_json(include_diff=False)
    tree.check = CheckResult()
    tree.check.extend([CheckFailure("a.py", 2, "unmarked", "msg", "next")])
    tree.units = ["svc"]
    data = tree.to_json()
    assert data["summary"]["check_failures"] == 1 and data["units"] == ["svc"]
    assert data["check"] == {
        "ok": False,
        "failures": [{"path": "a.py", "line": 2, "kind": "unmarked", "message": "msg", "next_step": "next"}],
    }


def test_absorbing_units_prefixes_paths_and_merges_upgrades_owners_and_checks() -> None:
    root = TreeResult(".", ["aiomqtt"], {}, owners={"AM": "aiomqtt"})
    unit = TreeResult("x", ["tenacity", "aiomqtt"], {}, owners={"TN": "tenacity"})
    unit.files = [_file("app.py", "changed", Change("TN-1", 1, "m", "marker"))]
    unit.check = CheckResult([CheckFailure("app.py", 1, "signature", "m", "n")])
    root.absorb("services/a", unit)
    plain = TreeResult("y", ["pytest-asyncio"], {})
    plain.files = [_file("top.py", "unchanged")]
    root.absorb("", plain)
    assert [f.path for f in root.files] == ["services/a/app.py", "top.py"]
    assert root.upgrades == ["aiomqtt", "tenacity", "pytest-asyncio"]
    assert root.owners == {"AM": "aiomqtt", "TN": "tenacity"}
    assert [f.path for f in root.check.failures] == ["services/a/app.py"]
    assert unit.check.failures[0].path == "app.py"  # the unit's own result is not rewritten
    assert root.marker_records()[0].upgrade == "tenacity"


def test_a_unit_without_a_check_leaves_the_roots_check_unset() -> None:
    root = TreeResult(".", [], {})
    root.absorb("u", TreeResult("u", [], {}))
    assert root.check is None and root.to_json()["summary"]["check_failures"] == 0
