"""Flux templates in module constants, filled where the query is sent (IX-12, see .templates).

`PEAK % {"bucket": b, "days": d}` and `HUMID.format(bucket=b, minutes=m)` in another module than the
template: the template becomes SQL where it is written (its placeholders `$parameters`), each fill becomes
the constant and the call binds the values. A template that something else reads unfilled stays Flux and
is marked. The migrated service runs against the InfluxDB 3 stand-in and gives the reference Flux
evaluator's answers for the original filled Flux.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from migrators.core.tree import ProjectTree
from migrators.upgrades.influxdb3.flow import analyze_flow
from migrators.upgrades.influxdb3.templates import fill_format, fill_percent, style, unfilled
from tests.migrators.fluxref.reference import evaluate
from tests.migrators.fluxref.standin import standin_client
from tests.migrators.helpers import migrate_twice, write_tree
from tests.migrators.upgrades.influxdb3.service_import import fresh_import

SCHEMA = {"meter": ["meter_id"]}
SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "tplapp/__init__.py": "",
    "tplapp/queries.py": '''
        PEAK = """
        from(bucket: "%(bucket)s")
          |> range(start: -%(hours)dh)
          |> filter(fn: (r) => r._measurement == "meter" and r._field == "kw")
          |> max()
        """

        TOTAL = (
            'from(bucket: "{bucket}") |> range(start: -{minutes}m) '
            '|> filter(fn: (r) => r._measurement == "meter" and r._field == "kw" and r.meter_id == "{meter}") '
            "|> sum()"
        )

        SHOWN = 'from(bucket: "{bucket}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "meter")'
    ''',
    "tplapp/repo.py": """
        from influxdb_client import InfluxDBClient, Point

        from tplapp import queries
        from tplapp.queries import PEAK, SHOWN


        class Repo:
            def __init__(self, client: InfluxDBClient):
                self.bucket = "db"
                self.query_api = client.query_api()

            def add(self, client, meter_id: str, kw: float) -> None:
                client.write_api().write(bucket=self.bucket, record=Point("meter").tag("meter_id", meter_id).field("kw", kw))

            def peaks(self, hours: int) -> dict:
                tables = self.query_api.query(PEAK % {"bucket": self.bucket, "hours": hours})
                return {r.values["meter_id"]: r.get_value() for t in tables for r in t.records}

            def total(self, meter: str, minutes: int) -> float:
                q = queries.TOTAL.format(bucket=self.bucket, minutes=minutes, meter=meter)
                tables = self.query_api.query(q)
                return sum(r.get_value() for t in tables for r in t.records)

            def describe(self) -> str:
                return "runs " + SHOWN
    """,
}


def test_placeholders_become_holes_named_by_their_keys():
    assert style('from(bucket: "%(b)s") |> range(start: -%(h)dh)') == "percent"
    assert style('from(bucket: "{b}") |> range(start: -{m}m)') == "format"
    assert style('from(bucket: "b") |> range(start: -1h)') is None
    own = unfilled('from(bucket: "%(b)s") |> range(start: -%(h)dh)')
    assert own.text == 'from(bucket: "\x000\x00") |> range(start: -\x001\x00h)' and own.keys == ["b", "h"]
    filled = fill_percent('x "%(b)s" -%(h)dh', None, {"b": "self.bucket", "h": "hours"})
    assert filled.values == ["self.bucket", "int(hours)"]  # %d: the Flux saw an int
    assert fill_format("{0} {k}", ["a"], {"k": "v"}).values == ["a", "v"]
    assert fill_format("{0:>3}", ["a"], {}) is None  # a format spec changes the text


def test_only_templates_every_use_of_which_fills_a_query_are_translated(tmp_path):
    write_tree(tmp_path, SERVICE)
    flow = analyze_flow(ProjectTree(tmp_path))
    assert flow.templates == {("tplapp/queries.py", "PEAK"), ("tplapp/queries.py", "TOTAL")}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("templates")
    write_tree(root, SERVICE)
    migrate_twice(root)
    return root, {rel: (root / rel).read_text() for rel in SERVICE if rel.endswith(".py")}


def test_templates_become_sql_and_fills_bind_parameters(migrated):
    _, texts = migrated
    queries, repo = texts["tplapp/queries.py"], texts["tplapp/repo.py"]
    assert 'PEAK = """\nSELECT' in queries and "$hours" in queries, queries
    assert "TOTAL = (\n" in queries and "$meter" in queries and "$minutes" in queries, queries
    assert (
        'self.query_api.query(PEAK, language="sql", database=self.bucket, query_parameters={"hours": int(hours)})'
        in repo
    )
    assert "q = queries.TOTAL\n" in repo and '"meter": meter' in repo and '"minutes": minutes' in repo
    # read unfilled elsewhere: left as Flux, marked
    assert "SHOWN = 'from(bucket" in queries and "MIGRATION-BLOCKER(IX-14)" in queries.split("SHOWN =")[0]


def _import(root: Path):
    return fresh_import(root, "tplapp", "repo", "queries")


def test_the_filled_templates_give_the_flux_results(migrated, tmp_path):
    root, _ = migrated
    write_tree(tmp_path, SERVICE)
    _, old = _import(tmp_path)
    repo_module, _ = _import(root)
    with standin_client() as client:
        now = time.time_ns()
        points = [
            {
                "_measurement": "meter",
                "meter_id": m,
                "_time": now - (i * 4 + k + 1) * 60 * 10**9,
                "kw": float((i * 7 + k) % 11),
            }
            for i in range(12)
            for k, m in enumerate(("m1", "m2"))
        ]
        lines = "\n".join(f"meter,meter_id={p['meter_id']} kw={p['kw']!r} {p['_time']}" for p in points)
        client.write(record=lines, write_precision="ns")
        repo = repo_module.Repo(client)
        got_peaks, got_total = repo.peaks(2), repo.total("m2", 30)
        now = time.time_ns()
    peak_flux = old.PEAK % {"bucket": "db", "hours": 2}
    total_flux = old.TOTAL.format(bucket="db", minutes=30, meter="m2")
    want_peaks = {
        r["meter_id"]: r["_value"] for t in evaluate(peak_flux, points, SCHEMA, now=now) for r in t.rows
    }
    want_total = sum(r["_value"] for t in evaluate(total_flux, points, SCHEMA, now=now) for r in t.rows)
    assert want_peaks and want_total, "the data gives no rows: the test proves nothing"
    assert got_peaks == want_peaks
    assert got_total == pytest.approx(want_total)


def test_a_fill_in_a_file_the_codemod_skips_keeps_the_template_flux(tmp_path):
    # no influx token in other.py: the codemod never visits it, so its fill could not bind the values
    other = {
        "tplapp/other.py": """
            from tplapp.queries import PEAK


            def peaks(repo, hours: int):
                return repo.query_api.query(PEAK % {"bucket": "db", "hours": hours})
        """
    }
    write_tree(tmp_path, {**SERVICE, **other})
    flow = analyze_flow(ProjectTree(tmp_path))
    assert flow.templates == {("tplapp/queries.py", "TOTAL")}
