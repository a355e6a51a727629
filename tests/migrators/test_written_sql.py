"""The SQL the influxdb3 codemod writes into a service, executed.

A small service in the fleet's style (Flux f-strings with relative ranges, ``params.x`` and holes for
tags, fields, measurements and durations) is migrated by the real codemod. For each query function
the test reads back what the codemod wrote — the SQL (a string or an f-string) and every keyword of
the ``query(...)`` call, ``query_parameters`` included — binds them with the function's arguments as
the running service would, runs the call through influxdb3-python against the InfluxDB 3 stand-in,
and compares the rows with the independent reference evaluator's answer for the original Flux, on
the same data written relative to now.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from migrators import migrate_tree
from tests.migrators.fluxref.reference import evaluate
from tests.migrators.fluxref.standin import standin_client, time_ns_of
from tests.migrators.helpers import dedent, write_tree

SEC = 10**9
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
SCHEMA = {"readings": ["room", "sensor"], "weather": ["city"], "edge_calls": ["outcome"]}
# every point sits 17 s before a whole minute back from the data's `now`; ranges are whole minutes, so
# where a range starts among the points changes only at known instants (see _settled_now)
PHASE = 17 * SEC

SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "app/readings.py": """
        from influxdb_client import InfluxDBClient, Point
        from influxdb_client.client.write_api import SYNCHRONOUS


        class Readings:
            def __init__(self, url, token, org, bucket):
                self.org = org
                self.bucket = bucket
                self.client = InfluxDBClient(url=url, token=token, org=org)
                self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
                self.query_api = self.client.query_api()

            def save(self, room, sensor, value):
                point = Point("readings").tag("room", room).tag("sensor", sensor).field("value", value)
                self.write_api.write(self.bucket, self.org, point)

            def hourly_means(self, hours: int):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{hours}h)
          |> filter(fn: (r) => r._measurement == "readings")
          |> filter(fn: (r) => r._field == "value")
          |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
        \'\'\'
                return self.query_api.query(flux, org=self.org)

            def recent(self, sensor: str):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -24h)
          |> filter(fn: (r) => r._measurement == "readings" and r._field == "value")
          |> filter(fn: (r) => r.sensor == params.sensor)
          |> sort(columns: ["_time"], desc: true)
          |> limit(n: 5)
        \'\'\'
                return self.query_api.query(flux, org=self.org, params={"sensor": sensor})

            def latest(self, measurement: str, field: str, tag: str, value: str):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -30d)
          |> filter(fn: (r) => r._measurement == "{measurement}")
          |> filter(fn: (r) => r._field == "{field}")
          |> filter(fn: (r) => r.{tag} == "{value}")
          |> last()
        \'\'\'
                return self.query_api.query(flux, org=self.org)

            def count_elsewhere(self, days: int, room: str):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{days}d)
          |> filter(fn: (r) => r._measurement == "readings" and r._field == "value" and r.room != "{room}")
          |> group(columns: ["room"])
          |> count()
        \'\'\'
                return self.query_api.query(flux, org=self.org)

            def total(self, measurement: str, field: str, days: int):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{days}d)
          |> filter(fn: (r) => r._measurement == "{measurement}" and r._field == "{field}")
          |> group()
          |> count()
        \'\'\'
                return self.query_api.query(flux, org=self.org)
        """,
    "app/weather.py": """
        from influxdb_client import InfluxDBClient, Point


        class Weather:
            def __init__(self, url, token, org, bucket):
                self.org = org
                self.bucket = bucket
                self.client = InfluxDBClient(url=url, token=token, org=org)
                self.query_api = self.client.query_api()

            def point(self, city, temperature, humidity, wind):
                return (Point("weather").tag("city", city).field("temperature", temperature)
                        .field("humidity", humidity).field("wind_speed", wind))

            def latest(self, city: str):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -7d)
          |> filter(fn: (r) => r._measurement == "weather" and r.city == "{city}")
          |> filter(fn: (r) => r._field == "temperature" or r._field == "humidity" or r._field == "wind_speed")
          |> last()
          |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
        \'\'\'
                return self.query_api.query(flux, org=self.org)

            def daily(self, city: str, days: int):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{days}d)
          |> filter(fn: (r) => r._measurement == "weather" and r.city == "{city}")
          |> filter(fn: (r) => r._field == "temperature" or r._field == "humidity")
          |> aggregateWindow(every: 1d, fn: mean, createEmpty: false)
          |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
          |> sort(columns: ["_time"])
        \'\'\'
                return self.query_api.query(flux, org=self.org)

            def warm_fahrenheit(self, hours: int, limit: float):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{hours}h, stop: now())
          |> filter(fn: (r) => r._measurement == "weather" and r._field == "temperature")
          |> filter(fn: (r) => r._value > {limit} and r.city =~ /^(oslo|rome)$/)
          |> map(fn: (r) => ({{r with _value: r._value * 1.8 + 32.0}}))
        \'\'\'
                return self.query_api.query(flux, org=self.org)

            def hourly_humidity(self, days: int):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{days}d)
          |> filter(fn: (r) => r._measurement == "weather" and r._field == "humidity")
          |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)
          |> keep(columns: ["_time", "_value", "city"])
        \'\'\'
                return self.query_api.query_data_frame(flux, org=self.org)
        """,
    "app/edge.py": """
        from influxdb_client import InfluxDBClient, Point


        class Edge:
            def __init__(self, url, token, org, bucket):
                self.org = org
                self.bucket = bucket
                self.client = InfluxDBClient(url=url, token=token, org=org)

            def point(self, outcome, attempts):
                return Point("edge_calls").tag("outcome", outcome).field("attempts", attempts)

            def summary(self, hours: int):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{hours}h)
          |> filter(fn: (r) => r._measurement == "edge_calls" and r._field == "attempts")
          |> group(columns: ["outcome"])
          |> count()
        \'\'\'
                return self.client.query_api().query(flux, org=self.org)

            def slow(self, hours: int, outcome: str):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{hours}h)
          |> filter(fn: (r) => r._measurement == "edge_calls" and r._field == "attempts")
          |> filter(fn: (r) => r.outcome == "{outcome}" and r._value >= 3)
          |> first()
        \'\'\'
                return self.client.query_api().query(flux, org=self.org)

            def retried(self, hours: int):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{hours}h)
          |> filter(fn: (r) => r._measurement == "edge_calls" and r._field == "attempts")
          |> filter(fn: (r) => r._value >= 2 and r._value < 4)
          |> count()
        \'\'\'
                return self.client.query_api().query(flux, org=self.org)

            def elsewhere(self, hours: int, outcome: str):
                flux = f\'\'\'
        from(bucket: "{self.bucket}")
          |> range(start: -{hours}h)
          |> filter(fn: (r) => r._measurement == "edge_calls" and r._field == "attempts")
          |> filter(fn: (r) => not r.outcome == "{outcome}")
          |> filter(fn: (r) => r._value <= 4)
          |> sum()
        \'\'\'
                return self.client.query_api().query(flux, org=self.org)
        """,
}


@dataclass(frozen=True)
class Case:
    module: str
    function: str
    args: dict[str, Any] = field(default_factory=dict)


CASES = {
    "hourly_means": Case("app/readings.py", "hourly_means", {"hours": 6}),
    "recent_params": Case("app/readings.py", "recent", {"sensor": "s2"}),
    "latest_holes": Case(
        "app/readings.py",
        "latest",
        {"measurement": "readings", "field": "value", "tag": "sensor", "value": "s3"},
    ),
    "count_not_equal": Case("app/readings.py", "count_elsewhere", {"days": 2, "room": "kitchen"}),
    "total_group_all": Case(
        "app/readings.py", "total", {"measurement": "readings", "field": "value", "days": 30}
    ),
    "weather_latest_pivot": Case("app/weather.py", "latest", {"city": "rome"}),
    "weather_daily_pivot": Case("app/weather.py", "daily", {"city": "oslo", "days": 5}),
    "weather_filter_then_map": Case("app/weather.py", "warm_fahrenheit", {"hours": 48, "limit": 12.5}),
    "weather_hourly_keep": Case("app/weather.py", "hourly_humidity", {"days": 2}),
    "edge_group_count": Case("app/edge.py", "summary", {"hours": 12}),
    "edge_first_int": Case("app/edge.py", "slow", {"hours": 30, "outcome": "retry"}),
    "edge_boundaries_count": Case("app/edge.py", "retried", {"hours": 20}),
    "edge_not_sum": Case("app/edge.py", "elsewhere", {"hours": 20, "outcome": "ok"}),
}


# --- data, relative to now -------------------------------------------------------------------------


def dataset(now0: int) -> list[dict]:
    def at(minutes_ago: int) -> int:
        return now0 - minutes_ago * MIN - PHASE

    points = []
    sensors = [("kitchen", "s1"), ("kitchen", "s2"), ("hall", "s3"), ("attic", "s4")]
    for i in range(160):  # about 60 hours, irregular, plus points 3 and 35 days old
        for j, (room, sensor) in enumerate(sensors):
            minutes = (i * 23 + j * 11) + (3 * 1440 if i == 7 else 0) + (35 * 1440 if i == 9 else 0)
            value = round((i * 37 + j * 53) % 101 / 4, 2)
            points.append(
                {
                    "_measurement": "readings",
                    "room": room,
                    "sensor": sensor,
                    "_time": at(minutes),
                    "value": value,
                }
            )
    for i in range(130):  # about 9 days
        for j, city in enumerate(("oslo", "rome", "lima")):
            point = {"_measurement": "weather", "city": city, "_time": at(i * 97 + j * 13 + 1)}
            point["temperature"] = round((i * 7 + j * 5) % 31 - 4.5, 1)
            if (i + j) % 4:
                point["humidity"] = float((i * 11 + j * 3) % 60 + 30)
            if (i + j) % 3 == 0:
                point["wind_speed"] = round((i * 3 + j) % 17 * 0.7, 1)
            points.append(point)
    for i in range(90):
        for j, outcome in enumerate(("ok", "retry", "failed")):
            if (i * 5 + j) % 4:
                attempts = (i + j * 2) % 5 + 1
                points.append(
                    {
                        "_measurement": "edge_calls",
                        "outcome": outcome,
                        "_time": at(i * 19 + j * 7 + 2),
                        "attempts": attempts,
                    }
                )
    return points


def line(point: dict) -> str:
    tags = "".join(f",{t}={point[t]}" for t in SCHEMA[point["_measurement"]])
    fields = ",".join(
        f"{k}={v}i" if isinstance(v, int) else f"{k}={v!r}"
        for k, v in point.items()
        if k not in SCHEMA[point["_measurement"]] and k not in ("_measurement", "_time")
    )
    return f"{point['_measurement']}{tags} {fields} {point['_time']}"


def _settled_now(now0: int) -> int:
    """A now at which the server's now, a moment later, cuts the data where this one does.

    A point ``now0 - m*MIN - PHASE`` leaves a range of whole minutes ``[now - L, now)`` when
    ``now - now0 + PHASE`` crosses a whole minute, and a window label is clamped to now until a
    whole hour passes: keep 5 s (far more than a query's latency) from both."""
    margin = 5 * SEC
    while True:
        now = time.time_ns()
        cut = (now - now0 + PHASE) % MIN
        if margin <= cut <= MIN - margin and margin <= now % HOUR <= HOUR - margin:
            return now
        time.sleep(0.5)


# --- reading back what the codemod wrote -------------------------------------------------------------


@dataclass
class Written:
    sql: ast.expr  # the query text as written: a constant or an f-string
    keywords: dict[str, ast.expr]  # every keyword of the query call, query_parameters included


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def _query_call(fn: ast.FunctionDef) -> ast.Call:
    calls = [
        n
        for n in ast.walk(fn)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr.startswith("query")
        and n.args
    ]
    assert len(calls) == 1, ast.unparse(fn)
    return calls[0]


def _text_of(fn: ast.FunctionDef, call: ast.Call) -> ast.expr:
    arg = call.args[0]
    assert isinstance(arg, ast.Name), ast.unparse(call)
    assigned = [
        n.value for n in ast.walk(fn) if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == arg.id
    ]
    assert len(assigned) == 1, ast.unparse(fn)
    return assigned[0]


def written(source: str, name: str) -> Written:
    fn = _function(ast.parse(source), name)
    call = _query_call(fn)
    return Written(_text_of(fn, call), {k.arg: k.value for k in call.keywords if k.arg})


def bind(expr: ast.expr, args: dict[str, Any]) -> Any:
    """The value an expression of the function has when it runs with ``args`` (and a ``self``)."""
    scope = {"self": SimpleNamespace(bucket="db", org="o"), **args}
    return eval(compile(ast.Expression(expr), "<written>", "eval"), {}, scope)  # noqa: S307 - our own test source


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> tuple[Path, Any]:
    root = write_tree(tmp_path_factory.mktemp("svc") / "svc", {k: dedent(v) for k, v in SERVICE.items()})
    before = {rel: (root / rel).read_text() for rel in SERVICE}
    result = migrate_tree(root, write=True, only=["influxdb3"])
    assert not result.errors, result.errors
    untranslated = [c for _, c in result.markers if c.rule == "IX-12"]
    assert not untranslated, untranslated
    return before, {rel: (root / rel).read_text() for rel in SERVICE}


@pytest.fixture(scope="module")
def server():
    now0 = time.time_ns() // SEC * SEC
    points = dataset(now0)
    with standin_client("db") as client:
        client.write(record="\n".join(line(p) for p in points), write_precision="ns")
        yield SimpleNamespace(client=client, points=points, now0=now0)


# --- comparison ----------------------------------------------------------------------------------


def _cell(value: Any, now: int) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, int) and value >= now:  # a window clamped to the query's own now
        return "now"
    return value


def _reference_rows(tables, flux: str) -> list[tuple[tuple, dict]]:
    # where `group`/`keep` dropped `_field`, `_value` stands for the one field the query filters on
    filtered = set(re.findall(r'_field == "(\w+)"', flux))
    value_name = filtered.pop() if len(filtered) == 1 else None
    out = []
    for table in tables:
        for row in table.rows:
            clean = {("time" if k == "_time" else k): v for k, v in row.items()}
            if "_value" in clean:
                clean[clean.get("_field") or value_name] = clean.pop("_value")
            for gone in ("_measurement", "_field", "_start", "_stop"):
                clean.pop(gone, None)
            out.append((table.key, clean))
    return out


def _by_table(rows: list[dict], keys: list[str], columns: list[str], now: int) -> dict[tuple, list[tuple]]:
    out: dict[tuple, list[tuple]] = {}
    for row in rows:
        cells = tuple(_cell(row.get(c), now) for c in columns)
        out.setdefault(tuple(row.get(k) for k in keys), []).append(cells)
    return out


# Known translator bugs, found by this test; strict, so the case fails loudly once the bug is fixed.
TRANSLATOR_BUGS: dict[str, str] = {}


def _params() -> list:
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=TRANSLATOR_BUGS[n]))
        if n in TRANSLATOR_BUGS
        else n
        for n in sorted(CASES)
    ]


@pytest.mark.parametrize("name", _params())
def test_written_sql_gives_flux_results(service, server, name):
    case = CASES[name]
    before, after = service
    original, migrated = (
        written(before[case.module], case.function),
        written(after[case.module], case.function),
    )
    assert "language" in migrated.keywords, f"{name}: the codemod did not rewrite the call"
    flux = bind(original.sql, case.args)
    flux_params = bind(original.keywords["params"], case.args) if "params" in original.keywords else None
    sql = bind(migrated.sql, case.args)
    keywords = {k: bind(v, case.args) for k, v in migrated.keywords.items()}
    assert "$" not in sql or keywords.get("query_parameters"), f"{name}: $params in the SQL but none bound"

    now = _settled_now(server.now0)
    result = server.client.query(sql, **keywords)
    table = result if hasattr(result, "to_pylist") else None
    got = [{k: (time_ns_of(v) if k == "time" else v) for k, v in r.items()} for r in _rows(result, table)]
    want = _reference_rows(evaluate(flux, server.points, SCHEMA, now=now, params=flux_params), flux)

    assert want, f"{name}: the reference gives no rows on this data; the case proves nothing"
    columns = list(got[0]) if got else []
    flux_columns = {c for _, row in want for c in row}
    assert set(columns) <= flux_columns, f"{name}: SQL columns {columns}, Flux gives {sorted(flux_columns)}"
    keys = [c for c in columns if any(c == k for k, _ in want[0][0])]
    assert len(got) == len(want), f"{name}: {len(got)} rows, Flux gives {len(want)}\n{sql}\n{got}\n{want}"
    want_rows = [row for _, row in want]
    assert _by_table(got, keys, columns, now) == _by_table(want_rows, keys, columns, now), f"{name}\n{sql}"


def _rows(result: Any, table: Any) -> list[dict]:
    if table is not None:
        return table.to_pylist()
    return result.to_dict("records")  # mode="pandas": a DataFrame


def test_the_cases_cover_what_the_codemod_writes(service):
    """Relative ranges with a bound duration, tag `$params`, identifier holes (an f-string) and a
    pandas query are all among the executed cases."""
    _, after = service
    texts = [ast.unparse(written(after[c.module], c.function).sql) for c in CASES.values()]
    keywords = [written(after[c.module], c.function).keywords for c in CASES.values()]
    assert any("now() - CAST(concat($" in t for t in texts)
    assert any("now() - INTERVAL" in t for t in texts)
    assert any(re.search(r"\w+ (=|<>) \$\w+", t) for t in texts)
    assert any("JoinedStr" in ast.dump(written(after[c.module], c.function).sql) for c in CASES.values())
    assert any("mode" in k for k in keywords)
    assert all("query_parameters" in k for k, t in zip(keywords, texts, strict=True) if "$" in t)
