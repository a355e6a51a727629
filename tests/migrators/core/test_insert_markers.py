"""insert_markers (migrators/core/results.py): the one way the sweepers put a marker line above a
statement: its indent and line ending, bottom-up numbering, none where one is found already."""

from __future__ import annotations

from migrators.core.results import MARKER_PREFIX, Change, insert_markers


def _never(lines: list[str], line: int) -> bool:
    return False


def _right_above(lines: list[str], line: int) -> bool:
    return line >= 2 and MARKER_PREFIX in lines[line - 2]


def test_each_marker_takes_its_lines_indent_and_ending_and_the_changes_keep_the_original_numbers() -> None:
    lines = ["def f():\r\n", "    a()\r\n", "    b()\n"]
    changes = insert_markers(lines, {3: ("IX-1", "do b"), 2: ("PA-14", "do  a\n now")}, _never)
    assert lines == [
        "def f():\r\n",
        "    # MIGRATION-BLOCKER(PA-14): do a now\r\n",
        "    a()\r\n",
        "    # MIGRATION-BLOCKER(IX-1): do b\n",
        "    b()\n",
    ]
    assert changes == [Change("PA-14", 2, "do  a\n now", "marker"), Change("IX-1", 3, "do b", "marker")]


def test_a_line_found_marked_gets_none_so_a_second_run_adds_nothing() -> None:
    lines = ["x = 1\n", "y = 2\n"]
    places = {1: ("TN-6", "wrap it"), 2: ("TN-6", "wrap it")}
    insert_markers(lines, places, _right_above)
    again = list(lines)
    shifted = {line + index + 1: rule for index, (line, rule) in enumerate(sorted(places.items()))}
    assert insert_markers(again, shifted, _right_above) == [] and again == lines
