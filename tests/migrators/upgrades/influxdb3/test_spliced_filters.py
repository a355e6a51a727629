"""Spliced filter lines (IX-12) and a row wrapper built in one comprehension (IX-11, IX-13).

A query assembled by concatenation with one filter line added only when a parameter is truthy (an
`X.format(...) if p else ""` operand, or a call of a same-module `def f(p): if not p: return ""; return
f'...'`) is translated twice; the SQL and its `query_parameters` are chosen under the same condition.
The wrapper `query(flux)` returning `[record.values for table in tables for record in table.records]` through
`self._get_client().query_api()` sends SQL and returns Arrow rows as dicts. The migrated service runs
against the InfluxDB 3 stand-in with the condition on and off and gives the reference Flux evaluator's
answers for each original Flux text.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from migrators.core.tree import ProjectTree
from migrators.upgrades.influxdb3.flow import analyze_flow
from tests.migrators.fluxref.reference import evaluate
from tests.migrators.fluxref.standin import standin_client
from tests.migrators.helpers import migrate_twice, write_tree
from tests.migrators.upgrades.influxdb3.service_import import fresh_import

SCHEMA = {"energy": ["plant"]}
SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "splice/__init__.py": "",
    "splice/helper.py": """
        from influxdb_client import InfluxDBClient, Point


        class Helper:
            def __init__(self):
                self._client = None
                self.bucket = "db"

            def _get_client(self):
                if not self._client:
                    self._client = InfluxDBClient(url="http://x", token="t", org="o")
                return self._client

            def add(self, plant: str, kwh: float) -> None:
                point = Point("energy").tag("plant", plant).field("kwh", kwh)
                self._get_client().write_api().write(bucket=self.bucket, record=point)

            def query(self, flux_query: str) -> list[dict]:
                tables = self._get_client().query_api().query(flux_query)
                return [record.values for table in tables for record in table.records]
    """,
    "splice/energy.py": """
        PLANT_FILTER = '  |> filter(fn: (r) => r.plant == "{plant}")\\n'


        def _plant_filter(plant):
            if not plant:
                return ""
            return f'  |> filter(fn: (r) => r.plant == "{plant}")\\n'


        def by_constant(helper, plant=None, hours: int = 1) -> dict:
            flux = (
                'from(bucket: "db")\\n'
                + "  |> range(start: -" + str(hours) + "h)\\n"
                + '  |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh")\\n'
                + (PLANT_FILTER.format(plant=plant) if plant else "")
                + '  |> group(columns: ["plant"])\\n'
                + "  |> sum()\\n"
            )
            return {r["plant"]: r["_value"] for r in helper.query(flux)}


        def by_function(helper, hours: int, plant=None) -> dict:
            flux = (
                f'from(bucket: "{helper.bucket}")\\n'
                f"  |> range(start: -{hours}h)\\n"
                '  |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh")\\n'
                + _plant_filter(plant)
                + '  |> group(columns: ["plant"])\\n'
                + "  |> sum()\\n"
            )
            return {r["plant"]: r["_value"] for r in helper.query(flux)}


        def reassigned(helper, plant=None) -> dict:
            plant = plant or None
            flux = (
                'from(bucket: "db") |> range(start: -1h)'
                + ' |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh")'
                + (PLANT_FILTER.format(plant=plant) if plant else "")
                + " |> sum()"
            )
            return {r["plant"]: r["_value"] for r in helper.query(flux)}


        def loop_rebinds(helper, plants: list, plant=None) -> list:
            flux = (
                'from(bucket: "db") |> range(start: -1h)'
                + ' |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh")'
                + (PLANT_FILTER.format(plant=plant) if plant else "")
                + " |> sum()"
            )
            for plant in plants:
                pass
            return helper.query(flux)


        def other_columns(helper, overall=False) -> list:
            # with the fragment one total (no plant column), without it one sum per plant: not one rewrite
            flux = (
                'from(bucket: "db") |> range(start: -1h)'
                + ' |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh")'
                + (" |> group()" if overall else "")
                + " |> sum()"
            )
            return helper.query(flux)
    """,
}
BASE = (
    'from(bucket: "db") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "energy" and '
    'r._field == "kwh")'
)
WITH_PLANT = BASE + ' |> filter(fn: (r) => r.plant == "p2") |> group(columns: ["plant"]) |> sum()'
WITHOUT = BASE + ' |> group(columns: ["plant"]) |> sum()'


def test_the_comprehension_wrapper_is_a_row_wrapper(tmp_path):
    write_tree(tmp_path, SERVICE)
    flow = analyze_flow(ProjectTree(tmp_path))
    assert set(flow.row_wrappers) == {"query"}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("splice")
    write_tree(root, SERVICE)
    migrate_twice(root)  # idempotent over the tree
    return root, {rel: (root / rel).read_text() for rel in SERVICE if rel.endswith(".py")}


def test_the_wrapper_sends_sql_and_returns_rows(migrated):
    _, texts = migrated
    helper = texts["splice/helper.py"]
    expanded = '_influxdb3_expand(self._get_client(), flux_query, sql_options.get("database"))'
    assert f'self._get_client().query({expanded}, language="sql", **sql_options)' in helper, helper
    assert "return [record for record in _influxdb3_rows(tables)]" in helper
    assert "query_api" not in helper and "write_api" not in helper, helper
    # the only marker: the lazily built client names no database (the bucket is on self)
    assert helper.count("MIGRATION-BLOCKER") == 1 and "MIGRATION-BLOCKER(IX-2)" in helper
    assert "self._get_client().write(record=point, database=self.bucket)" in helper


def test_both_variants_are_chosen_under_the_condition(migrated):
    _, texts = migrated
    energy = texts["splice/energy.py"]
    assert energy.count('""" if plant else """') == 2, energy
    assert energy.count('"plant": plant} if plant else {') == 2
    assert 'r["kwh"] for r in helper.query(flux' in energy


def test_a_reassigned_condition_is_not_spliced(migrated):
    _, texts = migrated
    reassigned = texts["splice/energy.py"].split("def reassigned")[1]
    assert "MIGRATION-BLOCKER(IX-1" in reassigned and "SELECT" not in reassigned, reassigned


def test_a_condition_rebound_by_a_loop_is_not_spliced(migrated):
    _, texts = migrated
    rebound = texts["splice/energy.py"].split("def loop_rebinds")[1].split("def other_columns")[0]
    assert "MIGRATION-BLOCKER(IX-1" in rebound and "SELECT" not in rebound, rebound


def test_variants_with_other_columns_are_not_spliced(migrated):
    _, texts = migrated
    other = texts["splice/energy.py"].split("def other_columns")[1]
    assert "MIGRATION-BLOCKER(IX-1" in other and "SELECT" not in other, other


def _import(root: Path):
    return fresh_import(root, "splice", "energy", "helper")


def test_the_migrated_queries_give_the_flux_results(migrated):
    root, _ = migrated
    energy, helper_module = _import(root)
    with standin_client() as client:
        now = time.time_ns()
        points = [
            {
                "_measurement": "energy",
                "plant": p,
                "_time": now - (i * 5 + 1) * 60 * 10**9,
                "kwh": float(i + k),
            }
            for i in range(6)
            for k, p in enumerate(("p1", "p2", "p3"))
        ]
        lines = "\n".join(f"energy,plant={p['plant']} kwh={p['kwh']!r} {p['_time']}" for p in points)
        client.write(record=lines, write_precision="ns")
        helper = helper_module.Helper()
        helper._client = client
        got = {
            "const-on": energy.by_constant(helper, "p2"),
            "const-off": energy.by_constant(helper),
            "func-on": energy.by_function(helper, 1, "p2"),
            "func-off": energy.by_function(helper, 1),
        }
        now = time.time_ns()

    def want(flux: str) -> dict:
        return {r["plant"]: r["_value"] for t in evaluate(flux, points, SCHEMA, now=now) for r in t.rows}

    with_plant, without = want(WITH_PLANT), want(WITHOUT)
    assert list(with_plant) == ["p2"] and len(without) == 3
    assert got["const-on"] == pytest.approx(with_plant) and got["func-on"] == pytest.approx(with_plant)
    assert got["const-off"] == pytest.approx(without) and got["func-off"] == pytest.approx(without)
