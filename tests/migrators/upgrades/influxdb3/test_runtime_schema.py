"""Run-time schema (docs/rules.md#ix-12, runtime.py): translations that name no field, tag or measurement
the service writes, filled by the emitted `_influxdb3_expand` helper from the stand-in's
information_schema, and compared with the independent reference evaluator on the same points."""

from __future__ import annotations

import ast
import re
import time

import libcst as cst
import pytest

from migrators.upgrades.influxdb3.flux import Unsupported
from migrators.upgrades.influxdb3.flux_sql import translate
from migrators.upgrades.influxdb3.queries import sql_expression
from migrators.upgrades.influxdb3.runtime import EXPAND_HELPER
from tests.migrators.fluxref.reference import evaluate, time_ns
from tests.migrators.fluxref.standin import standin_client, time_ns_of
from tests.migrators.upgrades.influxdb3.test_flux_execution import TAGS as CPU_TAGS
from tests.migrators.upgrades.influxdb3.test_flux_execution import _by_table
from tests.migrators.upgrades.influxdb3.test_flux_execution import dataset as cpu_dataset

TAGS = {**CPU_TAGS, "plain": [], "mixed": ["dev"], "disk": ["host", "mount"]}
R = 'from(bucket: "db") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)'
BASE = time_ns("2024-01-01T00:00:00Z")
MIN = 60 * 10**9


def of(measurement: str) -> str:
    return R + f' |> filter(fn: (r) => r._measurement == "{measurement}")'


CASES: dict[str, str] = {
    "all_fields_last": of("cpu") + " |> last()",
    "all_fields_first": of("cpu") + " |> first()",
    "all_fields_count": of("cpu") + " |> count()",
    "all_fields_sum_one_tag": of("cpu") + ' |> filter(fn: (r) => r.host == "web1") |> sum()',
    "all_fields_last_drop": of("cpu") + ' |> last() |> drop(columns: ["_start", "_stop"])',
    "all_fields_window": of("temp") + " |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)",
    "two_fields_first_tags_unknown": of("cpu")
    + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> first()',
    "all_fields_group_count": of("cpu") + ' |> group(columns: ["region"]) |> count()',
    "all_fields_one_table_count": of("cpu") + " |> group() |> count()",
    "mixed_types_group_count": of("mixed") + ' |> group(columns: ["dev"]) |> count()',
    "exists_tag": of("cpu")
    + ' |> filter(fn: (r) => r._field == "usage") |> filter(fn: (r) => exists r.region)',
    "exists_tag_no_field_filter_last": of("cpu") + " |> filter(fn: (r) => exists r.host) |> last()",
    "exists_a_field_empty": of("cpu")
    + ' |> filter(fn: (r) => r._field == "usage") |> filter(fn: (r) => exists r.idle)',
    "exists_nothing_empty": of("temp") + ' |> filter(fn: (r) => r._field == "value" and exists r.nothing)',
    "count_per_measurement": R + ' |> filter(fn: (r) => r.host == "web1") |> group(columns: ["_measurement"])'
    ' |> count() |> sort(columns: ["_value"], desc: true)',
    "count_per_measurement_nobody_empty": R + ' |> filter(fn: (r) => r.nobody == "x")'
    ' |> group(columns: ["_measurement"]) |> count()',
    "limit_per_series_tags_unknown": of("cpu") + ' |> filter(fn: (r) => r._field == "usage") |> limit(n: 2)',
    "last_keep_time_value": of("temp")
    + ' |> filter(fn: (r) => r._field == "value") |> last() |> keep(columns: ["_time", "_value"])',
    # a plain selection of named fields with no writer naming the tags: Flux rows carry every tag of their
    # series (a caller's df["host"]); the SQL named only the tags the query filters on
    "plain_select_tags_unknown": of("cpu") + ' |> filter(fn: (r) => r._field == "usage")',
    "plain_select_one_tag_filtered": of("cpu")
    + ' |> filter(fn: (r) => r._field == "usage" and r.host == "web1")',
    "no_tag_last": of("plain") + " |> last()",
    "no_tag_count": of("plain") + " |> count()",
    "no_tag_window": of("plain") + " |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)",
    "no_tag_two_fields_limit": of("plain") + ' |> filter(fn: (r) => r._field == "v" or r._field == "w")'
    " |> limit(n: 3)",
    "tag_values_host": 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", tag: "host",'
    " start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)",
    "tag_values_nobody_empty": 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", '
    'tag: "nobody", start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)',
}


def points() -> list[dict]:
    extra = [
        {"_measurement": "plain", "_time": BASE + i * 7 * MIN, "v": float(i % 5), "w": float(i)}
        for i in range(12)
    ]
    extra += [
        {
            "_measurement": "disk",
            "host": h,
            "mount": m,
            "_time": BASE + i * 11 * MIN,
            "free": float(i),
            "used": 1.5,
        }
        for i in range(9)
        for h, m in (("web1", "/"), ("web1", "/data"), ("db1", "/"))
    ]
    extra += [
        {"_measurement": "mixed", "dev": "a", "_time": BASE + i * MIN, "n": i, "x": i + 0.5} for i in range(3)
    ]
    return cpu_dataset() + extra


def line(point: dict) -> str:
    tags = "".join(f",{t}={point[t]}" for t in TAGS[point["_measurement"]])
    values = {
        k: v
        for k, v in point.items()
        if k not in TAGS[point["_measurement"]] and k not in ("_measurement", "_time")
    }
    fields = ",".join(f"{k}={v}i" if isinstance(v, int) else f"{k}={v!r}" for k, v in values.items())
    return f"{point['_measurement']}{tags} {fields} {point['_time']}"


@pytest.fixture(scope="module")
def client():
    with standin_client() as c:
        c.write(record="\n".join(line(p) for p in points()), write_precision="ns")
        yield c


def expand(client, sql: str) -> str:
    """The helper exactly as the codemod writes it into a service."""
    scope: dict = {"re": re}
    exec(EXPAND_HELPER, scope)
    return scope["_influxdb3_expand"](client, sql, "db")


def expected(flux: str, long: bool) -> list[dict]:
    """Flux's rows in long format (`_field`/`_value` kept) or wide (the field's name for `_value`), as
    the translation gives them."""
    rows = []
    dropped = ("_start", "_stop") + (() if '"_measurement"]' in flux else ("_measurement",))
    for table in evaluate(flux, points(), TAGS):
        for row in table.rows:
            if not long:
                row = {k: v for k, v in row.items() if k not in ("_field", "_value")} | {
                    row.get("_field") or re.search(r'_field == "(\w+)"', flux).group(1): row["_value"]
                }
            rows.append({("time" if k == "_time" else k): v for k, v in row.items() if k not in dropped})
    return rows


def as_written(sql: str) -> str:
    """The SQL as the codemod writes it into a service (a clause per line)."""
    return ast.literal_eval(cst.Module([]).code_for_node(sql_expression(sql, [])))


def actual(client, flux: str) -> list[dict]:
    translation = translate(flux, schema={}, fields={}, runtime=True)
    assert translation.runtime, "the case must need the run-time schema"
    rows = client.query(expand(client, as_written(translation.sql)), language="sql").to_pylist()
    for row in rows:
        if "time" in row:
            row["time"] = time_ns_of(row["time"])
    return rows


@pytest.mark.parametrize("name", sorted(CASES))
def test_runtime_translation_gives_flux_results(client, name):
    flux = CASES[name]
    want = expected(flux, translate(flux, schema={}, fields={}, runtime=True).value_column is not None)
    assert want or name.endswith("_empty"), f"{name}: Flux gives no row: the case checks nothing"
    got = actual(client, flux)
    assert len(got) == len(want), f"{name}: {len(got)} rows, Flux gives {len(want)}\n{got}\n{want}"
    keys = [
        c for c in (want[0] if want else {}) if c in ("host", "region", "sensor", "_field", "_measurement")
    ]
    assert _by_table(got, keys, want) == _by_table(want, keys, want), name


def test_fields_of_different_types_fail_loudly(client):
    """One `_value` column would turn the integer field into floats: the helper refuses at run time."""
    translation = translate(of("mixed") + " |> last()", schema={}, fields={}, runtime=True)
    with pytest.raises(ValueError, match="different types"):
        expand(client, translation.sql)


def test_text_without_runtime_parts_is_sent_unchanged(client):
    sql = translate(of("cpu") + ' |> filter(fn: (r) => r._field == "usage")', schema=TAGS).sql
    assert expand(client, sql) == sql


def test_without_runtime_the_translation_still_refuses():
    """A caller that cannot send the helper (a service wrapper, a marked call) keeps the marker."""
    with pytest.raises(Unsupported, match="fields to return are not known"):
        translate(of("cpu") + " |> last()", schema={"cpu": ["host", "region"]})
    with pytest.raises(Unsupported, match="no measurement the service writes carries that tag"):
        translate('import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", tag: "host")')


@pytest.mark.parametrize(
    "flux",
    [
        of("cpu") + ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
        of("cpu") + ' |> group(columns: ["host"]) |> last()',
        'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", tag: "host", '
        'predicate: (r) => r.region == "eu")',
    ],
)
def test_runtime_refuses_shapes_it_cannot_fill(flux):
    with pytest.raises(Unsupported):
        translate(flux, schema={}, fields={}, runtime=True)


@pytest.mark.parametrize("window", ["-2h", "-90m", "-1d"])
def test_a_duration_parameter_as_range_start_gives_flux_results(window):
    """`range(start: duration(v: params.window))` (params bound by the call): now() + the interval."""
    flux = (
        'from(bucket: "db") |> range(start: duration(v: params.window))'
        ' |> filter(fn: (r) => r._measurement == "temp" and r._field == "value") |> sum()'
    )
    translation = translate(flux, schema=TAGS)
    assert translation.flux_params == ["window"]
    with standin_client() as c:
        now = time.time_ns()
        pts = [
            {"_measurement": "temp", "sensor": s, "_time": now - i * 7 * MIN, "value": float(i + k)}
            for i in range(40)
            for k, s in enumerate(("a", "b"))
        ]
        c.write(record="\n".join(line(p) for p in pts), write_precision="ns")
        rows = c.query(translation.sql, language="sql", query_parameters={"window": window}).to_pylist()
        now = time.time_ns()
    want = {
        r["sensor"]: r["_value"]
        for t in evaluate(flux, pts, TAGS, now=now, params={"window": window})
        for r in t.rows
    }
    assert want and {r["sensor"]: r["value"] for r in rows} == pytest.approx(want)


@pytest.mark.parametrize("columns", ['keep(columns: ["_value", "host"])', 'drop(columns: ["region"])'])
def test_keep_or_drop_of_a_tag_keeps_the_series_the_query_names(columns):
    """One placeholder stands for every tag: no single tag can be kept or dropped from it, so the
    series key stays the tags the query names, with a note (as without the run-time schema)."""
    flux = (
        of("cpu") + f' |> filter(fn: (r) => r._field == "usage" and r.host == "web1") |> last() |> {columns}'
    )
    translation = translate(flux, schema={}, fields={}, runtime=True)
    assert not translation.runtime and "__influxdb3" not in translation.sql
    assert any("series assumed" in note for note in translation.notes)
    exists = of("cpu") + f' |> filter(fn: (r) => r._field == "usage" and exists r.host) |> {columns}'
    with pytest.raises(Unsupported, match="known only at run time"):
        translate(exists, schema={}, fields={}, runtime=True)
