"""The per-service data flow of the influxdb3 upgrade, executed.

A service builds its Flux in one module (a builder function with value holes, a module constant) and
runs it in another, through ``asyncio.to_thread`` and ``run_in_executor(functools.partial(...))``, on a
query API kept on ``self``, and reads the records in a comprehension. The whole tree is migrated; the
migrated package is imported and run against the InfluxDB 3 stand-in, and its answers are compared
with the reference Flux evaluator's on the original builder's Flux over the same points.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from migrators import migrate_tree
from migrators.core.tree import ProjectTree
from migrators.upgrades.influxdb3.flow import analyze_flow
from tests.migrators.fluxref.reference import evaluate
from tests.migrators.fluxref.standin import standin_client
from tests.migrators.helpers import dedent, write_tree
from tests.migrators.upgrades.influxdb3.service_import import fresh_import

SCHEMA = {"sensor": ["device_id"]}
SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "flowapp/__init__.py": "",
    "flowapp/config.py": 'BUCKET = "db"\n',
    "flowapp/flux.py": """
        from datetime import datetime

        from flowapp.config import BUCKET

        HOT = '''
        from(bucket: "db")
          |> range(start: -2h)
          |> filter(fn: (r) => r._measurement == "sensor" and r._field == "temperature")
          |> filter(fn: (r) => r._value > 20.0)
        '''


        def series(device_id: str, start: datetime, stop: datetime) -> str:
            return f'''
        from(bucket: "{BUCKET}")
          |> range(start: {start.isoformat()}Z, stop: {stop.isoformat()}Z)
          |> filter(fn: (r) => r._measurement == "sensor" and r.device_id == "{device_id}")
          |> filter(fn: (r) => r._field == "temperature")
        '''


        def recent(hours: int) -> str:
            return f'from(bucket: "{BUCKET}") |> range(start: -{hours}h) |> filter(fn: (r) => r._measurement == "sensor" and r._field == "temperature") |> last()'
    """,
    "flowapp/repo.py": """
        import asyncio
        import functools
        from datetime import datetime, timedelta

        from influxdb_client import InfluxDBClient, Point

        from flowapp import flux as fluxq
        from flowapp.flux import HOT


        def reading(device_id: str, value: float) -> Point:
            return Point("sensor").tag("device_id", device_id).field("temperature", value)


        class Repo:
            def __init__(self, client: InfluxDBClient, org: str = "o"):
                self.org = org
                self.query_api = client.query_api()

            async def series(self, device_id: str, hours: int) -> list[float]:
                stop = datetime.utcnow()
                q = fluxq.series(device_id, stop - timedelta(hours=hours), stop)
                tables = await asyncio.to_thread(self.query_api.query, query=q, org=self.org)
                return [rec.get_value() for table in tables for rec in table.records]

            async def hot(self) -> list[str]:
                loop = asyncio.get_running_loop()
                tables = await loop.run_in_executor(None, functools.partial(self.query_api.query, HOT, org=self.org))
                return sorted(rec.values["device_id"] for table in tables for rec in table.records)

            def recent(self, hours: int) -> dict:
                out = {}
                for table in self.query_api.query(fluxq.recent(hours), org=self.org):
                    for record in table.records:
                        out[record["device_id"]] = record.get_value()
                return out
    """,
}


def test_the_flow_finds_builders_constants_and_their_use(tmp_path):
    write_tree(tmp_path, {k: dedent(v) for k, v in SERVICE.items()})
    flow = analyze_flow(ProjectTree(tmp_path))
    assert {n for _, n in flow.used} == {"series", "recent", "HOT"}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    files = {k: dedent(v) for k, v in SERVICE.items()}
    write_tree(root, files)
    migrate_tree(root, write=True)
    texts = {rel: (root / rel).read_text() for rel in files if rel.endswith(".py")}
    return root, files, texts


def test_flux_is_translated_where_built_and_bound_where_called(migrated):
    _, _, texts = migrated
    assert "from(bucket" not in texts["flowapp/flux.py"], texts["flowapp/flux.py"]
    repo = texts["flowapp/repo.py"]
    assert "MIGRATION-BLOCKER" not in repo + texts["flowapp/flux.py"], repo
    assert ".records" not in repo and "org=" not in repo, repo
    # the builder's value holes are parameters bound from the caller's own arguments
    assert "query_parameters={" in repo and "device_id" in repo.split("query_parameters")[1], repo


def _points(now: int) -> list[dict]:
    points = []
    for i in range(30):
        for j, device in enumerate(("d1", "d2", "d3")):
            points.append(
                {
                    "_measurement": "sensor",
                    "device_id": device,
                    "_time": now - (i * 7 + j * 3 + 1) * 60 * 10**9 - 123,  # not whole microseconds
                    "temperature": float((i * 13 + j * 7) % 31),
                }
            )
    return points


def _line(p: dict) -> str:
    return f"sensor,device_id={p['device_id']} temperature={p['temperature']!r} {p['_time']}"


def _import_package(root: Path):
    return fresh_import(root, "flowapp", "repo", "flux")


def test_migrated_service_gives_the_flux_results(migrated, tmp_path):
    root, files, _ = migrated
    original = tmp_path / "original"
    write_tree(original, files)
    _, old_flux = _import_package(original)
    repo_module, _ = _import_package(root)
    with standin_client() as client:
        now = time.time_ns()
        points = _points(now)
        client.write(record="\n".join(_line(p) for p in points), write_precision="ns")
        repo = repo_module.Repo(client)
        got_series = asyncio.run(repo.series("d2", 3))
        got_hot = asyncio.run(repo.hot())
        got_recent = repo.recent(4)
        now = time.time_ns()
    stop = datetime.utcnow()
    start = stop - timedelta(hours=3)
    want_series = _values(evaluate(old_flux.series("d2", start, stop), points, SCHEMA, now=now))
    want_hot = sorted(r["device_id"] for t in evaluate(old_flux.HOT, points, SCHEMA, now=now) for r in t.rows)
    want_recent = {
        r["device_id"]: r["_value"]
        for t in evaluate(old_flux.recent(4), points, SCHEMA, now=now)
        for r in t.rows
    }
    assert want_series and want_hot and want_recent, "the data gives no rows: the test proves nothing"
    assert got_series == want_series
    assert got_hot == want_hot
    assert got_recent == want_recent


def _values(tables) -> list[float]:
    return [r["_value"] for t in tables for r in t.rows]
