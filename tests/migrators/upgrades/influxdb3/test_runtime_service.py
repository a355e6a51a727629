"""Run-time schema end to end (docs/rules.md#ix-12): a service whose writes name no field, tag or
measurement its queries read is migrated (twice: idempotent), then its code runs against the InfluxDB 3
stand-in and gives the reference Flux evaluator's answers for the original Flux — through a service
wrapper that expands what its callers send and through direct client calls."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from tests.migrators.fluxref.reference import evaluate
from tests.migrators.fluxref.standin import standin_client
from tests.migrators.helpers import dedent, migrate_twice, write_tree
from tests.migrators.upgrades.influxdb3.service_import import fresh_import

TAGS = {"sensor": ["device"], "hb": ["device", "fw"], "boot": ["fw"]}
LATEST = (
    'from(bucket: "db") |> range(start: -1h)'
    ' |> filter(fn: (r) => r._measurement == "sensor" and r.device == "d1") |> last()'
)
FIRMWARE = 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", tag: "fw")'
COUNTS = (
    'from(bucket: "db") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "sensor")'
    ' |> group(columns: ["device"]) |> count()'
)
FIRST = 'from(bucket: "db") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "hb") |> first()'
SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "rtapp/__init__.py": "",
    "rtapp/gateway.py": """
        from influxdb_client import InfluxDBClient


        class Gateway:
            def __init__(self, url, token, org):
                self.org = org
                self.bucket = "db"
                self._client = InfluxDBClient(url=url, token=token, org=org)
                self._query_api = self._client.query_api()

            def _execute_query(self, query: str) -> list[dict]:
                tables = self._query_api.query(query, org=self.org)
                rows = []
                for table in tables:
                    for record in table.records:
                        rows.append(dict(record.values))
                return rows
    """,
    "rtapp/reads.py": f"""
        import asyncio

        from influxdb_client import InfluxDBClient


        def latest(gw, device: str) -> dict:
            flux = f'from(bucket: "{{gw.bucket}}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "sensor" and r.device == "{{device}}") |> last()'
            return {{r["_field"]: r["_value"] for r in gw._execute_query(flux)}}


        async def latest_async(client: InfluxDBClient, device: str) -> dict:
            flux = f'from(bucket: "db") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "sensor" and r.device == "{{device}}") |> last()'
            tables = await asyncio.to_thread(client.query_api().query, flux, org="o")
            out = {{}}
            for table in tables:
                for record in table.records:
                    out[record.get_field()] = record.get_value()
            return out


        def firmware(gw) -> list:
            flux = {FIRMWARE!r}
            return [r["_value"] for r in gw._execute_query(flux)]


        def counts(client: InfluxDBClient) -> dict:
            flux = {COUNTS!r}
            out = {{}}
            for table in client.query_api().query(flux, org="o"):
                for record in table.records:
                    out[record.values.get("device")] = record.get_value()
            return out


        def first_beats(client: InfluxDBClient) -> list:
            flux = {FIRST!r}
            tables = client.query_api().query(flux, org="o")
            return [(r.values.get("device"), r.get_field(), r.get_value()) for t in tables for r in t.records]
    """,
}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("runtime")
    write_tree(root, SERVICE)
    migrate_twice(root)
    texts = {rel: (root / rel).read_text() for rel in SERVICE if rel.endswith(".py")}
    return root, texts


def test_every_query_is_translated_with_run_time_parts(migrated):
    _, texts = migrated
    reads, gateway = texts["rtapp/reads.py"], texts["rtapp/gateway.py"]
    # queries, calls and result handling all converted (the constructor's database= is IX-2's business)
    assert not re.search(r"MIGRATION-BLOCKER\(IX-1[1-5]\)", reads + gateway), reads + gateway
    assert "from(bucket" not in reads and "schema.tagValues" not in reads
    assert reads.count("def _influxdb3_expand(") == 1 and gateway.count("def _influxdb3_expand(") == 1
    assert "client.query(_influxdb3_expand(client, flux" in reads
    # an executor's call: the catalog is read in the executor's thread, not in the event loop
    assert "await asyncio.to_thread(_influxdb3_query, client, flux, " in reads
    assert reads.count("def _influxdb3_query(") == 1
    assert '_influxdb3_expand(self._query_api, query, sql_options.get("database"))' in gateway


def _import(root: Path):
    return fresh_import(root, "rtapp", "reads", "gateway")


def _points(now: int) -> list[dict]:
    minute = 60 * 10**9
    points = []
    for i in range(10):
        for k, device in enumerate(("d1", "d2")):
            at = now - (i * 5 + k + 1) * minute
            point = {"_measurement": "sensor", "device": device, "_time": at, "temp": 20.0 + i + k}
            if i % 3:
                point["hum"] = 40.0 + i
            points.append(point)
            fw = "v2" if i < 4 else "v1"
            points.append({"_measurement": "hb", "device": device, "fw": fw, "_time": at, "up": float(i)})
    points.append({"_measurement": "boot", "fw": "v0", "_time": now - 2 * minute, "n": 1.0})
    return points


def _line(point: dict) -> str:
    tags = "".join(f",{t}={point[t]}" for t in TAGS[point["_measurement"]])
    skip = {"_measurement", "_time", *TAGS[point["_measurement"]]}
    fields = ",".join(f"{k}={v!r}" for k, v in point.items() if k not in skip)
    return f"{point['_measurement']}{tags} {fields} {point['_time']}"


def _flux_rows(flux: str, points: list[dict], now: int) -> list[dict]:
    return [row for table in evaluate(flux, points, TAGS, now=now) for row in table.rows]


def test_the_migrated_service_gives_the_flux_results(migrated):
    root, _ = migrated
    reads, gateway = _import(root)
    with standin_client() as client:
        points = _points(time.time_ns())
        client.write(record="\n".join(_line(p) for p in points), write_precision="ns")
        gw = gateway.Gateway.__new__(gateway.Gateway)
        gw._query_api, gw.bucket, gw.org = client, "db", "o"
        got = {
            "latest": reads.latest(gw, "d1"),
            "latest_async": asyncio.run(reads.latest_async(client, "d1")),
            "firmware": reads.firmware(gw),
            "counts": reads.counts(client),
            "first": sorted(reads.first_beats(client)),
        }
        now = time.time_ns()
    want = {
        "latest": {r["_field"]: r["_value"] for r in _flux_rows(LATEST, points, now)},
        "latest_async": {r["_field"]: r["_value"] for r in _flux_rows(LATEST, points, now)},
        "firmware": [r["_value"] for r in _flux_rows(dedent(FIRMWARE), points, now)],
        "counts": {r["device"]: r["_value"] for r in _flux_rows(COUNTS, points, now)},
        "first": sorted((r["device"], r["_field"], r["_value"]) for r in _flux_rows(FIRST, points, now)),
    }
    assert want["latest"].keys() == {"temp", "hum"} and want["firmware"] == ["v0", "v1", "v2"]
    assert len(want["first"]) == 4  # a series per (device, fw): fw is part of the series key
    assert got == want
