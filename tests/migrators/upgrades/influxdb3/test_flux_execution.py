"""Semantics by execution: each translated query runs through influxdb3-python against the InfluxDB 3
stand-in (images/influxdb3-lite, started here as a subprocess) and its rows, timestamps and values
must equal what Flux gives on the same dataset, computed by the reference evaluator of the subset."""

from __future__ import annotations

import math

import pytest

from migrators.upgrades.influxdb3.flux_sql import translate
from tests.migrators.fluxref.reference import evaluate, time_ns
from tests.migrators.fluxref.standin import standin_client, time_ns_of
from tests.migrators.upgrades.influxdb3.flux_cases import CASES

TAGS = {"cpu": ["host", "region"], "temp": ["sensor"]}
FIELDS = {"cpu": ["usage", "idle"], "temp": ["value"]}  # what the dataset's writes send
BASE = time_ns("2024-01-01T00:00:00Z")
MIN = 60 * 10**9


def dataset() -> list[dict]:
    points = []
    hosts = [("web1", "eu"), ("web2", "us"), ("db1", "eu")]
    for i in range(40):  # irregular minutes, some idle values missing, a point at each window edge
        for j, (host, region) in enumerate(hosts):
            minute = (i * 9 + j * 7) % 360
            usage = round((i * 13 + j * 29) % 97 + 0.5, 2)
            point = {
                "_measurement": "cpu",
                "host": host,
                "region": region,
                "_time": BASE + minute * MIN,
                "usage": usage,
            }
            if (i + j) % 3:
                point["idle"] = round(100 - usage, 2)
            points.append(point)
    for i in range(30):
        for sensor, offset in (("a", 0), ("b", 11)):
            minute = (i * 11 + offset) % 300 + (60 if sensor == "b" and i % 5 == 0 else 0)
            points.append(
                {
                    "_measurement": "temp",
                    "sensor": sensor,
                    "_time": BASE + minute * MIN,
                    "value": float((i * 7 + offset) % 23),
                }
            )
    # InfluxDB keeps the last write of a series+time: dedupe so both sides see the same data
    unique = {}
    for p in points:
        unique[(p["_measurement"], p.get("host"), p.get("sensor"), p["_time"])] = p
    return list(unique.values())


def line(point: dict) -> str:
    tags = "".join(f",{t}={point[t]}" for t in TAGS[point["_measurement"]])
    fields = ",".join(
        f"{k}={v!r}"
        for k, v in point.items()
        if k not in TAGS[point["_measurement"]] and k not in ("_measurement", "_time")
    )
    return f"{point['_measurement']}{tags} {fields} {point['_time']}"


@pytest.fixture(scope="module")
def client():
    with standin_client() as c:
        c.write(record="\n".join(line(p) for p in dataset()), write_precision="ns")
        yield c


def expected(flux: str, long: bool = False) -> dict[tuple, list[dict]]:
    """Flux's tables as SQL rows: wide (the field's name for `_value`) or, for a translation in long
    format (several fields without pivot, schema functions), with `_field`/`_value` kept."""
    out: dict[tuple, list[dict]] = {}
    dropped = ("_measurement", "_start", "_stop") + (() if long else ("_field",))
    for table in evaluate(flux, dataset(), TAGS):
        key = tuple(v for _, v in table.key)
        for row in table.rows:
            clean = {("time" if k == "_time" else k): v for k, v in row.items() if k not in dropped}
            if "_value" in clean and not long:
                clean[row.get("_field") or _only_field(flux)] = clean.pop("_value")
            out.setdefault(key, []).append(clean)
    return out


def _only_field(flux: str) -> str:
    import re

    return re.search(r'_field == "(\w+)"', flux).group(1)


def actual(client, flux: str, tags: list[str]) -> list[dict]:
    translation = translate(flux, schema=TAGS, fields=FIELDS)
    table = client.query(translation.sql, language="sql")
    rows = []
    for row in table.to_pylist():
        if "time" in row:
            row["time"] = time_ns_of(row["time"])
        rows.append(row)
    return rows


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("name", sorted(CASES))
def test_translation_gives_flux_results(client, name):
    flux = CASES[name]
    long = translate(flux, schema=TAGS, fields=FIELDS).value_column is not None
    want = [row for rows in expected(flux, long).values() for row in rows]
    assert want or name.endswith("_empty"), f"{name}: the dataset gives Flux no row: the case checks nothing"
    got = actual(client, flux, [])
    assert len(got) == len(want), f"{name}: {len(got)} rows, Flux gives {len(want)}\n{got}\n{want}"
    # rows are compared per Flux table (the group key columns), in order; tables may come in any order
    keys = [c for c in (want[0] if want else {}) if c in ("host", "region", "sensor", "_field")]
    assert _by_table(got, keys, want) == _by_table(want, keys, want), name


def _by_table(rows: list[dict], keys: list[str], want: list[dict]) -> dict[tuple, list[tuple]]:
    columns = list(want[0]) if want else []
    out: dict[tuple, list[tuple]] = {}
    for row in rows:
        out.setdefault(tuple(row.get(k) for k in keys), []).append(
            tuple(round(v, 9) if isinstance(v, float) else v for v in (row.get(c) for c in columns))
        )
    return out
