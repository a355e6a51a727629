"""Row wrappers (IX-11, IX-13): the service's own `_execute_query(flux)` that runs a caller's query and
returns the records as dicts is rewritten with its callers.

The wrapper sends SQL and returns Arrow rows as dicts; each caller's Flux is translated where the caller
builds it, and the caller's reads of the rows (`r["_value"]`, `r["_time"]`, `rows[0]["_value"]`, tags) are
rewritten from that caller's translation. Rows handed on unread (`return gw._execute_query(q)`) are
marked. The migrated service runs against the InfluxDB 3 stand-in and gives the reference Flux
evaluator's answers for the original Flux.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from migrators.core.tree import ProjectTree
from migrators.upgrades.influxdb3.flow import analyze_flow
from tests.migrators.fluxref.reference import evaluate
from tests.migrators.fluxref.standin import standin_client
from tests.migrators.helpers import dedent, migrate_twice, write_tree
from tests.migrators.upgrades.influxdb3.service_import import fresh_import

SCHEMA = {"meter": ["meter_id"]}
GATEWAY = """
    import logging

    from influxdb_client import InfluxDBClient, Point

    logger = logging.getLogger(__name__)


    class Gateway:
        def __init__(self, url, token, org):
            self.org = org
            self.bucket = "db"
            self._client = InfluxDBClient(url=url, token=token, org=org)
            self._query_api = self._client.query_api()

        def add(self, meter_id: str, kwh: float) -> None:
            # the service's writes tell the measurement's tags (the series key of last())
            point = Point("meter").tag("meter_id", meter_id).field("kwh", kwh)
            self._client.write_api().write(bucket=self.bucket, org=self.org, record=point)

        def _execute_query(self, query: str) -> list[dict]:
            logger.debug("flux: %s", query)
            tables = self._query_api.query(query, org=self.org)
            rows = []
            for table in tables:
                for record in table.records:
                    rows.append(dict(record.values))
            return rows

        def _records(self, flux: str):
            # a generator of records: callers never see the tables
            for table in self._query_api.query(flux, org=self.org):
                yield from table.records
"""
SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "rowapp/__init__.py": "",
    "rowapp/gateway.py": GATEWAY,
    "rowapp/usage.py": """
        def total(gw, meter_id: str) -> float:
            flux = f'from(bucket: "{gw.bucket}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "meter" and r.meter_id == "{meter_id}" and r._field == "kwh") |> sum()'
            rows = gw._execute_query(flux)
            return float(rows[0]["_value"]) if rows else 0.0


        def readings(gw, meter_id: str) -> list:
            flux = f'from(bucket: "{gw.bucket}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "meter" and r.meter_id == "{meter_id}" and r._field == "kwh")'
            return [(r["meter_id"], r["_time"], r["_value"]) for r in gw._execute_query(flux)]


        def latest(gw) -> dict:
            flux = 'from(bucket: "db") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "meter" and r._field == "kwh") |> last()'
            return {r.values.get("meter_id"): r.get_value() for r in gw._records(flux)}


        def raw(gw, meter_id: str) -> list:
            flux = f'from(bucket: "{gw.bucket}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "meter" and r.meter_id == "{meter_id}" and r._field == "kwh")'
            return gw._execute_query(flux)
    """,
}


def test_the_flow_finds_the_row_wrapper(tmp_path):
    write_tree(tmp_path, SERVICE)
    flow = analyze_flow(ProjectTree(tmp_path))
    assert set(flow.row_wrappers) == {"_execute_query", "_records"}
    assert not {"_execute_query", "_records"} & flow.consumers


def test_a_wrapper_with_another_body_is_not_a_row_wrapper(tmp_path):
    other = GATEWAY.replace("rows.append(dict(record.values))", "rows.append(record.get_value())")
    write_tree(tmp_path, {**SERVICE, "rowapp/gateway.py": other})
    flow = analyze_flow(ProjectTree(tmp_path))
    assert set(flow.row_wrappers) == {"_records"} and "_execute_query" in flow.consumers


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("rows")
    write_tree(root, SERVICE)
    migrate_twice(root)  # idempotent over the tree
    texts = {rel: (root / rel).read_text() for rel in SERVICE if rel.endswith(".py")}
    return root, texts


def test_the_wrapper_sends_sql_and_returns_sql_rows(migrated):
    _, texts = migrated
    gateway = texts["rowapp/gateway.py"]
    assert "def _execute_query(self, query: str, **sql_options) -> list[dict]:" in gateway
    # the wrapper fills run-time parts of what its callers send (docs/rules.md#ix-12, run-time schema)
    expanded = '_influxdb3_expand(self._query_api, query, sql_options.get("database"))'
    assert f'self._query_api.query({expanded}, language="sql", **sql_options)' in gateway
    assert "for record in _influxdb3_rows(tables):\n            rows.append(dict(record))" in gateway
    expanded = '_influxdb3_expand(self._query_api, flux, sql_options.get("database"))'
    assert (
        f'yield from _influxdb3_rows(self._query_api.query({expanded}, language="sql", **sql_options))'
        in gateway
    )
    assert ".records" not in gateway and "MIGRATION-BLOCKER" not in gateway, gateway


def test_callers_read_sql_columns_and_unread_rows_are_marked(migrated):
    _, texts = migrated
    usage = texts["rowapp/usage.py"]
    assert "from(bucket" not in usage, usage
    assert 'float(rows[0]["kwh"]) if rows else 0.0' in usage
    assert '(r["meter_id"], r["time"].replace(tzinfo=timezone.utc), r["kwh"])' in usage
    assert '{r.get("meter_id"): r["kwh"] for r in gw._records(flux, database="db")}' in usage
    assert usage.count("MIGRATION-BLOCKER(IX-13): _execute_query() now returns rows of SQL columns") == 1
    assert "query_parameters={" in usage and "database=gw.bucket" in usage


def _import(root: Path):
    return fresh_import(root, "rowapp", "usage", "gateway")


def test_the_migrated_callers_give_the_flux_results(migrated):
    root, _ = migrated
    usage, gateway = _import(root)
    with standin_client() as client:
        now = time.time_ns()
        points = [
            {
                "_measurement": "meter",
                "meter_id": m,
                "_time": now - (i * 5 + 1) * 60 * 10**9,
                "kwh": float(i + k),
            }
            for i in range(8)
            for k, m in enumerate(("m1", "m2"))
        ]
        lines = "\n".join(f"meter,meter_id={p['meter_id']} kwh={p['kwh']!r} {p['_time']}" for p in points)
        client.write(record=lines, write_precision="ns")
        gw = gateway.Gateway.__new__(gateway.Gateway)
        gw._query_api, gw.bucket, gw.org = client, "db", "o"
        got_total = usage.total(gw, "m2")
        got_readings = usage.readings(gw, "m1")
        got_latest = usage.latest(gw)
        now = time.time_ns()
    flux = dedent(SERVICE["rowapp/usage.py"]).split("flux = f'")[1].split("'\n")[0]
    flux = flux.replace("{gw.bucket}", "db").replace("{meter_id}", "m2")
    want_total = [r["_value"] for t in evaluate(flux, points, SCHEMA, now=now) for r in t.rows]
    assert want_total and got_total == pytest.approx(want_total[0])
    assert [(m, v) for m, _, v in got_readings] == [
        ("m1", p["kwh"])
        for p in sorted((p for p in points if p["meter_id"] == "m1"), key=lambda p: p["_time"])
    ]
    assert all(t.tzinfo is not None for _, t, _ in got_readings)
    newest = {
        m: max((p for p in points if p["meter_id"] == m), key=lambda p: p["_time"]) for m in ("m1", "m2")
    }
    assert got_latest == {m: p["kwh"] for m, p in newest.items()}
