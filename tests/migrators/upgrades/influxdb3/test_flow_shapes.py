"""Shapes of real services around a query call (issue 11), before and after one file's rewrite.

* Flux built with ``"...".format(...)`` and assigned before the call is read like a literal (IX-12);
* ``"..." % value`` with one operand (not a tuple) is read like a literal too;
* the Flux of a ``query_stream()`` call is translated where it is written while the call is marked
  (IX-11): the person rewriting the call starts from the SQL and its parameters;
* ``InfluxDBClient(url=, org=, timeout=)`` converts its keywords even when the database is not known
  (IX-2 marker for database= only): a left ``url=`` would fail the post-migrate check;
* a comment after ``write_api(`` (a person's note or a corpus label) survives the fold into the client.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from migrators import migrate_tree
from migrators.upgrades.influxdb3.flow import FLUX_HINT
from tests.migrators.helpers import dedent, run_file, write_tree

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
STATE = {"dataframes": False, "schema": {"zone": ["building", "zone"], "energy": ["building"]}}


def _run(before: str) -> str:
    new, _ = run_file("influxdb3", dedent(before), state=STATE, rel="app/mod.py")
    again, _ = run_file("influxdb3", new, state=STATE, rel="app/mod.py")
    assert again == new, f"not idempotent:\n{again}"
    return new


def test_format_assigned_before_the_call_is_translated():
    new = _run(
        '''
        class Job:
            def __init__(self, client):
                self.query_api = client.query_api()

            def humid(self, low: float, high: float) -> list[str]:
                flux = """from(bucket: "{0}")
          |> range(start: -1h)
          |> filter(fn: (r) => r._measurement == "zone" and r._field == "rh_pct")
          |> filter(fn: (r) => r._value < {1} or r._value > {2})""".format("hvac", low, high)
                return sorted({r["zone"] for t in self.query_api.query(flux, org="o") for r in t.records})
        '''
    )
    assert "from(bucket" not in new and "MIGRATION-BLOCKER" not in new, new
    assert "(rh_pct < $low OR rh_pct > $high)" in new
    assert 'query_parameters={"low": low, "high": high}' in new and 'database="hvac"' in new


def test_percent_with_one_operand_is_translated():
    new = _run(
        """
        def kwh(client, building: str):
            flux = 'from(bucket: "hvac") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh" and r.building == "%s")' % building
            return [r.get_value() for t in client.query_api().query(flux) for r in t.records]
        """
    )
    assert "from(bucket" not in new and "MIGRATION-BLOCKER" not in new, new
    assert "building = $building" in new and 'query_parameters={"building": building}' in new


def test_query_stream_gets_sql_and_a_marker():
    new = _run(
        '''
        def hourly(client, building: str, days: int):
            flux = """from(bucket: "%s")
          |> range(start: -%dd)
          |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh" and r.building == "%s")""" % ("hvac", days, building)
            return list(client.query_api().query_stream(flux, org="o"))
        '''
    )
    assert "from(bucket" not in new and "SELECT" in new, new
    assert "MIGRATION-BLOCKER(IX-11): query_stream() has no influxdb3 counterpart" in new
    assert """# SQL for database "hvac"; parameters: $p2 = int(days), $building = building""" in new
    assert 'client.query_stream(flux, org="o")' in new  # the call is left to the person, marked


def test_client_keywords_convert_without_a_database():
    new = _run(
        """
        from influxdb_client import InfluxDBClient


        class Writer:
            def __init__(self, url: str, token: str, org: str):
                self.client = InfluxDBClient(url=url, token=token, org=org, timeout=5_000)
        """
    )
    assert "InfluxDBClient3(host=url, token=token, write_timeout=5_000, query_timeout=5_000)" in new, new
    assert "MIGRATION-BLOCKER(IX-2): InfluxDBClient3 needs database=" in new


def test_a_comment_after_write_api_paren_is_kept():
    new = _run(
        """
        from influxdb_client import InfluxDBClient, WriteOptions


        class Gateway:
            def __init__(self):
                self.bucket = "meters"
                self._client = InfluxDBClient(url="http://influxdb:8086", token="t", org="o")
                self._write_api = self._client.write_api(  # batching: the importer sends bursts
                    write_options=WriteOptions(batch_size=500)
                )

            def add(self, line: str) -> None:
                self._write_api.write(bucket=self.bucket, record=line)
        """
    )
    assert "self._write_api = self._client  # batching: the importer sends bursts" in new, new
    assert "write_client_options=write_client_options(write_options=WriteOptions(batch_size=500))" in new


def test_a_closure_reads_the_flux_its_enclosing_function_assigns():
    new = _run(
        '''
        import asyncio


        async def series(client, building: str) -> list:
            flux = f"""from(bucket: "hvac") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh" and r.building == "{building}")"""

            def run():
                tables = client.query_api().query(flux)
                return [r.get_value() for t in tables for r in t.records]

            return await asyncio.get_running_loop().run_in_executor(None, run)
        '''
    )
    assert "from(bucket" not in new and "MIGRATION-BLOCKER" not in new, new
    assert (
        'client.query(flux, language="sql", database="hvac", query_parameters={"building": building})' in new
    )
    assert 'return [r["kwh"] for r in _influxdb3_rows(tables)]' in new


def test_a_closure_rebinding_a_name_the_flux_reads_is_not_followed():
    new = _run(
        '''
        def series(client, building: str) -> list:
            flux = f"""from(bucket: "hvac") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh" and r.building == "{building}")"""

            def run(building):
                return client.query_api().query(flux)

            return run("other")
        '''
    )
    assert "MIGRATION-BLOCKER(IX-12)" in new and "from(bucket" in new, new


def test_schema_functions_are_flux_even_without_a_pipe(tmp_path):
    # `schema.measurements(bucket: ...)` has neither `from(bucket` nor `|>`: still Flux sent to a wrapper
    # (before, the wrapper call took it for SQL already and left it unmarked)
    assert FLUX_HINT.search('import "influxdata/influxdb/schema"\nschema.measurements(bucket: "b")')
    assert FLUX_HINT.search('schema.tagValues(bucket: "b", tag: "room")')
    assert not FLUX_HINT.search("SELECT table_name FROM information_schema.tables")
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/__init__.py": "",
            "app/gateway.py": """
                class Gateway:
                    def __init__(self, client):
                        self.query_api = client.query_api()

                    def run_flux(self, flux: str):
                        return self.query_api.query(flux)
            """,
            "app/tables.py": """
                def tables(gw) -> list:
                    flux = 'import "influxdata/influxdb/schema"\\nschema.measurements(bucket: "b")'
                    return gw.run_flux(flux)
            """,
        },
    )
    migrate_tree(tmp_path, write=True)
    body = (tmp_path / "app/tables.py").read_text()
    # translated (a translator that knows schema.measurements) or marked where it is written
    assert "MIGRATION-BLOCKER(IX-12): translate Flux to SQL" in body or "information_schema" in body, body


def test_async_client_call_named_like_a_wrapper_is_not_rewritten(tmp_path):
    """fleet-gps has its own `PositionStore.query(flux)` wrapper: that must not make
    `self.client.query_api().query(flux)` on its InfluxDBClientAsync look like a wrapper call. Calls under
    the async client are marked (IX-8), never rewritten as the sync client (no database=, no row helper)."""
    shutil.copytree(CORPUS / "fleet-gps", tmp_path / "fleet-gps")
    migrate_tree(tmp_path / "fleet-gps", write=True)
    body = (tmp_path / "fleet-gps/app/live.py").read_text()
    assert "await self.client.query_api().query(flux)  # site: gps-k03" in body, body
    assert "query(flux, database" not in body and "_influxdb3_rows" not in body, body
    assert "MIGRATION-BLOCKER(IX-8)" in body, body
