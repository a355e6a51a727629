"""Unit tests of the reference Flux evaluator (pure logic, hand-computed answers) and of its
independence from the translator it checks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.migrators.fluxref.engine import FluxRuntimeError
from tests.migrators.fluxref.reference import FluxSyntaxError, evaluate, parse, time_ns
from tests.migrators.fluxref.syntax import duration_ns, tokens

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REFERENCE_MODULES = sorted((HERE / "fluxref").glob("*.py"))

T0 = time_ns("2024-01-01T00:00:00Z")
MIN = 60 * 10**9
SCHEMA = {"cpu": ["host"]}
RANGE = 'from(bucket: "b") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z)'
CPU = RANGE + ' |> filter(fn: (r) => r._measurement == "cpu")'


def point(host: str, minute: int, **fields) -> dict:
    return {"_measurement": "cpu", "host": host, "_time": T0 + minute * MIN, **fields}


POINTS = [
    point("a", 0, usage=1.0, idle=99.0),
    point("a", 10, usage=3.0),
    point("a", 40, usage=5.0, idle=95.0),
    point("b", 5, usage=10.0, idle=90.0),
    point("b", 50, usage=30.0),
    point("b", 60, usage=1000.0),  # at the range stop: excluded
    {"_measurement": "mem", "host": "a", "_time": T0, "used": 7.0},
]


def rows(flux: str, **kw) -> list[tuple]:
    """Per table (in key order): the values of its rows without the range columns."""
    out = []
    for table in evaluate(flux, POINTS, SCHEMA, **kw):
        for r in table.rows:
            out.append(
                tuple(sorted((k, v) for k, v in r.items() if k not in ("_start", "_stop", "_measurement")))
            )
    return out


def values(flux: str, **kw) -> list:
    return [dict(r).get("_value") for r in rows(flux, **kw)]


# --- independence ----------------------------------------------------------------------------------


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def test_reference_imports_nothing_from_migrators():
    assert len(REFERENCE_MODULES) >= 3, REFERENCE_MODULES
    for path in REFERENCE_MODULES:
        text = path.read_text()
        assert "__import__" not in text and "importlib" not in text, path
        for name in _imports(path):
            assert name.split(".")[0] != "migrators", f"{path.name} imports {name}"
            if name.startswith("tests."):
                assert name in ("tests.migrators.fluxref.syntax", "tests.migrators.fluxref.engine"), name


def test_loading_the_reference_loads_no_migrators_module():
    code = (
        "import sys; import tests.migrators.fluxref.reference as ref; "
        "ref.evaluate('from(bucket: \"b\") |> range(start: -1h)', [], {}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'migrators'))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


# --- syntax ----------------------------------------------------------------------------------------


def test_slash_is_a_regex_after_a_match_operator_and_a_division_after_an_operand():
    assert ("regex", "^w\\/x") in tokens("r.h =~ /^w\\/x/")
    assert [t[1] for t in tokens("r._value / 2")] == ["r", ".", "_value", "/", "2", ""]


def test_durations_and_times():
    assert duration_ns("1h30m") == 90 * MIN
    assert time_ns("2024-01-01T00:00:01.5Z") == T0 + 1_500_000_000
    assert time_ns("2024-01-01T01:00:00+01:00") == T0
    with pytest.raises(FluxSyntaxError):
        duration_ns("1mo")


def test_and_binds_tighter_than_or_and_not_covers_a_comparison():
    tree = parse("a == 1 or b == 2 and not c == 3")
    assert tree[0:2] == ("binary", "or")
    assert tree[3][0:2] == ("binary", "and")
    assert tree[3][3] == ("unary", "not", ("binary", "==", ("ident", "c"), ("int", 3)))
    assert parse("not a == 1 and b")[0:2] == ("binary", "and")
    assert parse("a + 2 * 3 > 1")[2] == (
        "binary",
        "+",
        ("ident", "a"),
        ("binary", "*", ("int", 2), ("int", 3)),
    )


def test_pipes_nest_left_and_functions_and_records_parse():
    tree = parse('from(bucket: "b") |> map(fn: (r) => ({r with v: r._value * -2.0}))')
    assert tree[0] == "pipe" and tree[1][0] == "call"
    fn = dict(tree[2][2])["fn"]
    assert fn[0:2] == ("fn", ("r",))
    assert fn[2] == (
        "record",
        ("ident", "r"),
        (("v", ("binary", "*", ("member", ("ident", "r"), "_value"), ("unary", "-", ("float", 2.0)))),),
    )


def test_outside_the_subset_is_refused():
    with pytest.raises(FluxSyntaxError):
        parse('import "join"\nfrom(bucket: "b")')
    with pytest.raises(FluxSyntaxError):
        parse('r._field == "x${y}"')
    with pytest.raises(FluxRuntimeError):
        evaluate(CPU + " |> fill(usePrevious: true)", POINTS, SCHEMA)


# --- evaluation ------------------------------------------------------------------------------------


def test_from_range_splits_series_and_fields_and_excludes_the_stop():
    assert values(CPU + ' |> filter(fn: (r) => r._field == "usage")') == [1.0, 3.0, 5.0, 10.0, 30.0]
    tables = evaluate(CPU, POINTS, SCHEMA)
    assert [dict(t.key)["_field"] + dict(t.key)["host"] for t in tables] == [
        "idlea",
        "idleb",
        "usagea",
        "usageb",
    ]
    assert dict(tables[0].key)["_stop"] == T0 + 60 * MIN


def test_comparisons_differ():
    usage = CPU + ' |> filter(fn: (r) => r._field == "usage")'
    assert values(usage + ' |> filter(fn: (r) => r.host == "a")') == [1.0, 3.0, 5.0]
    assert values(usage + ' |> filter(fn: (r) => r.host != "a")') == [10.0, 30.0]
    assert values(usage + " |> filter(fn: (r) => r.host =~ /^b$/)") == [10.0, 30.0]
    assert values(usage + " |> filter(fn: (r) => r.host !~ /^b$/)") == [1.0, 3.0, 5.0]
    assert values(usage + " |> filter(fn: (r) => r._value < 5.0)") == [1.0, 3.0]
    assert values(usage + " |> filter(fn: (r) => r._value <= 5.0)") == [1.0, 3.0, 5.0]
    assert values(usage + " |> filter(fn: (r) => r._value > 5.0)") == [10.0, 30.0]
    assert values(usage + " |> filter(fn: (r) => r._value >= 5.0)") == [5.0, 10.0, 30.0]
    assert values(usage + " |> filter(fn: (r) => not (r._value >= 5.0))") == [1.0, 3.0]
    assert values(usage + ' |> filter(fn: (r) => r.host == "a" or r._value > 20.0 and r._value < 40.0)') == [
        1.0,
        3.0,
        5.0,
        30.0,
    ]


def test_missing_column_compares_as_null_and_exists_sees_it():
    assert values(CPU + ' |> filter(fn: (r) => r.nothing != "x")') == []
    assert values(CPU + " |> filter(fn: (r) => exists r.nothing)") == []
    assert len(values(CPU + " |> filter(fn: (r) => exists r.host)")) == 8


def test_relative_range_is_anchored_at_now_and_params_bind():
    now = T0 + 45 * MIN
    flux = 'from(bucket: "b") |> range(start: -20m) |> filter(fn: (r) => r.host == params.h)'
    assert values(flux, now=now, params={"h": "a"}) == [95.0, 5.0]  # idle then usage table, minute 40
    flux = 'from(bucket: "b") |> range(start: -1h, stop: now()) |> filter(fn: (r) => r._field == "usage")'
    assert values(flux, now=now) == [1.0, 3.0, 5.0, 10.0]


def test_aggregate_window_labels_by_clamped_stop_and_fills_only_aggregates():
    start = 'from(bucket: "b") |> range(start: 2024-01-01T00:05:00Z, stop: 2024-01-01T00:50:00Z)'
    usage = start + ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage" and r.host == "a")'
    got = rows(usage + " |> aggregateWindow(every: 20m, fn: sum)")
    # windows [00:05,00:20) [00:20,00:40) [00:40,00:50): epoch-aligned, clamped to the range
    assert [(dict(r)["_time"] - T0) // MIN for r in got] == [20, 40, 50]
    assert [dict(r)["_value"] for r in got] == [3.0, None, 5.0]
    assert values(usage + " |> aggregateWindow(every: 20m, fn: count)") == [1, 0, 1]
    assert values(usage + " |> aggregateWindow(every: 20m, fn: max)") == [3.0, 5.0]
    assert values(usage + " |> aggregateWindow(every: 20m, fn: mean, createEmpty: false)") == [3.0, 5.0]


def test_selectors_keep_the_row_and_aggregates_keep_the_key():
    usage = CPU + ' |> filter(fn: (r) => r._field == "usage")'
    assert [dict(r)["_time"] for r in rows(usage + " |> last()")] == [T0 + 40 * MIN, T0 + 50 * MIN]
    assert values(usage + " |> first()") == [1.0, 10.0]
    assert values(usage + " |> min()") == [1.0, 10.0]
    assert values(usage + " |> max()") == [5.0, 30.0]
    assert values(usage + " |> mean()") == [3.0, 20.0]
    assert values(usage + " |> median()") == [3.0, 20.0]
    assert rows(usage + " |> count()") == [
        (("_field", "usage"), ("_value", 3), ("host", "a")),
        (("_field", "usage"), ("_value", 2), ("host", "b")),
    ]


def test_group_regroups_every_row():
    usage = CPU + ' |> filter(fn: (r) => r._field == "usage")'
    assert values(usage + " |> group() |> count()") == [5]
    assert values(usage + ' |> group(columns: ["host"]) |> sum()') == [9.0, 40.0]
    assert values(CPU + ' |> group(columns: ["_field"]) |> count()') == [3, 5]


def test_sort_limit_difference_act_per_table():
    usage = CPU + ' |> filter(fn: (r) => r._field == "usage")'
    assert values(usage + ' |> sort(columns: ["_value"], desc: true) |> limit(n: 2)') == [
        5.0,
        3.0,
        30.0,
        10.0,
    ]
    assert values(usage + " |> limit(n: 1, offset: 1)") == [3.0, 30.0]
    assert values(usage + " |> difference()") == [2.0, 2.0, 20.0]
    assert values(usage + ' |> group() |> sort(columns: ["_value"]) |> limit(n: 2)') == [1.0, 3.0]


def test_pivot_spreads_fields_over_columns_per_row_key():
    got = rows(
        CPU
        + ' |> filter(fn: (r) => r.host == "a") |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    )
    assert got == [
        (("_time", T0), ("host", "a"), ("idle", 99.0), ("usage", 1.0)),
        (("_time", T0 + 10 * MIN), ("host", "a"), ("usage", 3.0)),
        (("_time", T0 + 40 * MIN), ("host", "a"), ("idle", 95.0), ("usage", 5.0)),
    ]


def test_map_keep_drop_yield():
    usage = CPU + ' |> filter(fn: (r) => r._field == "usage" and r.host == "b")'
    assert values(usage + " |> map(fn: (r) => ({r with _value: r._value * 2.0 + 1.0}))") == [21.0, 61.0]
    assert values(usage + " |> map(fn: (r) => ({r with _value: (r._value - 4.0) / 2.0}))") == [3.0, 13.0]
    assert rows(usage + ' |> keep(columns: ["_value"])') == [(("_value", 10.0),), (("_value", 30.0),)]
    kept = rows(usage + ' |> drop(columns: ["_time", "_field", "host"]) |> yield(name: "x")')
    assert kept == [(("_value", 10.0),), (("_value", 30.0),)]


def test_schema_functions_give_sorted_distinct_values_of_the_range():
    schema_import = 'import "influxdata/influxdb/schema"\n'
    window = "start: 2024-01-01T00:00:00Z, stop: 2024-01-01T01:00:00Z"
    hosts = evaluate(schema_import + f'schema.tagValues(bucket: "b", tag: "host", {window})', POINTS, SCHEMA)
    assert [r["_value"] for t in hosts for r in t.rows] == ["a", "b"]
    # the predicate sees field rows; mem's host is no tag of the schema, so it has none
    late = evaluate(
        schema_import + 'schema.tagValues(bucket: "b", tag: "host", predicate: (r) => r._field == "idle",'
        " start: 2024-01-01T00:30:00Z, stop: 2024-01-01T01:00:00Z)",
        POINTS,
        SCHEMA,
    )
    assert [r["_value"] for t in late for r in t.rows] == ["a"]
    names = evaluate(schema_import + f'schema.measurements(bucket: "b", {window})', POINTS, SCHEMA)
    assert [r["_value"] for t in names for r in t.rows] == ["cpu", "mem"]
    # the default range is the last 30 days before now: 2024 points are outside it today
    assert evaluate(schema_import + 'schema.measurements(bucket: "b")', POINTS, SCHEMA) == []


def test_only_the_schema_import_is_understood():
    with pytest.raises(FluxSyntaxError):
        parse('import "strings"\nfrom(bucket: "b")')


def test_contains_tests_membership_and_a_missing_column_is_in_no_set():
    flux = CPU + ' |> filter(fn: (r) => r._field == "usage" and contains(value: r.host, set: ["b", "z"]))'
    assert values(flux) == [10.0, 30.0]
    assert values(CPU + ' |> filter(fn: (r) => contains(value: r.rack, set: ["a"]))') == []


def test_fill_replaces_the_nulls_of_empty_windows():
    flux = CPU + ' |> filter(fn: (r) => r._field == "idle" and r.host == "b")'
    filled = values(flux + " |> aggregateWindow(every: 20m, fn: mean) |> fill(value: -1.0)")
    assert filled == [90.0, -1.0, -1.0]
