"""Annotated assignments and module-level order, shapes real services write (issue 11).

* ``self.client: InfluxDBClient = InfluxDBClient(...)`` and ``self.writer: WriteApi = ....write_api(...)``
  are learned as the plain assignments are (before, the write kept ``bucket=`` under a marker and the
  client got no ``database=``);
* ``self.qapi: QueryApi = client.query_api()`` makes ``def raw(self, flux): return self.qapi.query(flux)``
  a wrapper of the service: its callers' Flux is translated and the wrapper forwards database/parameters;
* a local ``query: str = f"..."`` and ``tables: TableList = api.query(query)`` are read like ``query = ...``;
* a client built at module level runs at import: ``database=BUCKET`` is given only when ``BUCKET`` is bound
  above it (before, ``BUCKET = ...`` below the client became a NameError at import with no marker);
* ``write_api(point_settings=...)`` becomes the client's ``point_settings=`` (inside ``write_client_options``
  it was a TypeError when the client was built, 0.21);
* ``InfluxDBClient.from_env_properties()`` becomes ``InfluxDBClient3.from_env()`` under its marker;
* lazy global getters: ``get_client().write_api(write_options=SYNCHRONOUS)`` is the client, and a function
  returning the write API (``get_writer()``) makes ``get_writer().write(bucket=...)`` a v2 write;
* a write API set at start-up on shared state (``app.state.writer`` in a FastAPI lifespan) and read in a
  handler through another object (``request.app.state.writer.write(bucket=...)``) is a v2 write;
* a ``@cached_property``/``@property`` returning ``client.query_api()`` is a query API: a wrapper sending
  its parameter through it is a wrapper of the service.
"""

from __future__ import annotations

from migrators import migrate_tree
from tests.migrators.helpers import dedent, run_file, write_tree

STATE = {"dataframes": False, "schema": {"level": ["line"], "soil": ["field_id"]}}


def _run(before: str) -> str:
    new, _ = run_file("influxdb3", dedent(before), state=STATE, rel="app/mod.py")
    again, _ = run_file("influxdb3", new, state=STATE, rel="app/mod.py")
    assert again == new, f"not idempotent:\n{again}"
    return new


def test_annotated_client_and_write_api_are_learned():
    new = _run(
        """
        import os

        from influxdb_client import InfluxDBClient, Point
        from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi


        class Store:
            def __init__(self) -> None:
                self.bucket: str = os.environ.get("INFLUX_BUCKET", "plant")
                self.client: InfluxDBClient = InfluxDBClient(url=os.environ["URL"], token="t", org="o")
                self.writer: WriteApi = self.client.write_api(write_options=SYNCHRONOUS)

            def put(self, line: str, value: float) -> None:
                self.writer.write(bucket=self.bucket, record=Point("level").tag("line", line).field("value", value))
        """
    )
    assert "MIGRATION-BLOCKER" not in new, new
    assert 'InfluxDBClient3(host=os.environ["URL"], token="t", database=self.bucket)' in new, new
    assert "self.writer.write(record=Point" in new and "database=self.bucket)" in new, new
    assert "bucket=" not in new.replace("database=self.bucket", ""), new


def test_annotated_local_query_and_result_are_read():
    new = _run(
        """
        from influxdb_client import InfluxDBClient


        def soil(client: InfluxDBClient, field_id: str) -> list[dict]:
            query: str = (
                'from(bucket: "farm") |> range(start: -6h) '
                f'|> filter(fn: (r) => r._measurement == "soil" and r.field_id == "{field_id}" and r._field == "moisture")'
            )
            tables = client.query_api().query(query)
            out: list[dict] = []
            for table in tables:
                for record in table.records:
                    out.append({"t": record.get_time(), "v": record.get_value()})
            return out
        """
    )
    assert "from(bucket" not in new and "MIGRATION-BLOCKER" not in new, new
    assert "FROM soil" in new and 'query_parameters={"field_id": field_id}' in new, new
    assert 'record["moisture"]' in new and "table.records" not in new, new


def test_an_annotated_result_name_is_no_use_of_the_result():
    new = _run(
        """
        from influxdb_client import InfluxDBClient


        def soil(client: InfluxDBClient, field_id: str) -> list:
            flux = f'from(bucket: "farm") |> range(start: -6h) |> filter(fn: (r) => r._measurement == "soil" and r.field_id == "{field_id}" and r._field == "moisture")'
            tables: list = client.query_api().query(flux)
            return [r.get_value() for t in tables for r in t.records]
        """
    )
    assert "from(bucket" not in new and "MIGRATION-BLOCKER" not in new, new
    assert 'r["moisture"]' in new, new


def test_a_module_level_client_gets_no_name_bound_below_it():
    new = _run(
        """
        from influxdb_client import InfluxDBClient

        client = InfluxDBClient(url="http://influx:8086", token="t", org="o")
        BUCKET = "farm"


        def put(line):
            client.write_api().write(bucket=BUCKET, record=line)
        """
    )
    assert "database=BUCKET)\nBUCKET" not in new, new  # a NameError at import
    assert "MIGRATION-BLOCKER(IX-2)" in new, new


def test_a_module_level_client_gets_a_name_bound_above_it():
    new = _run(
        """
        from influxdb_client import InfluxDBClient

        BUCKET = "farm"
        client = InfluxDBClient(url="http://influx:8086", token="t", org="o")


        def put(line):
            client.write_api().write(bucket=BUCKET, record=line)
        """
    )
    assert 'InfluxDBClient3(host="http://influx:8086", token="t", database=BUCKET)' in new, new
    assert "MIGRATION-BLOCKER" not in new, new


def test_a_wrapper_through_an_annotated_query_api_attribute(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "svc/__init__.py": "",
            "svc/db.py": """
                import logging

                from influxdb_client import InfluxDBClient
                from influxdb_client.client.query_api import QueryApi

                log = logging.getLogger(__name__)
                BUCKET = "metrics"


                class Repo:
                    def __init__(self, client: InfluxDBClient):
                        self.qapi: QueryApi = client.query_api()

                    def raw(self, flux: str):
                        log.debug("flux: %s", flux)
                        return self.qapi.query(flux, org="acme")

                    def watts(self, device: str) -> list:
                        flux = (
                            f'from(bucket: "{BUCKET}") |> range(start: -1h) '
                            f'|> filter(fn: (r) => r._measurement == "power" and r.device == "{device}" and r._field == "watts")'
                        )
                        return self.raw(flux)
            """,
        },
    )
    migrate_tree(tmp_path, write=True)
    body = (tmp_path / "svc/db.py").read_text()
    assert "from(bucket" not in body and "FROM power" in body, body
    assert "def raw(self, flux: str, **sql_options):" in body, body
    assert 'self.raw(flux, database=BUCKET, query_parameters={"device": device})' in body, body
    assert 'language="sql", **sql_options)' in body and "org=" not in body, body


def test_from_env_properties_becomes_from_env_under_its_marker():
    # InfluxDBClient3 has no from_env_properties(): the renamed class kept it (an AttributeError)
    new = _run(
        """
        from influxdb_client import InfluxDBClient

        client = InfluxDBClient.from_env_properties()
        """
    )
    assert "client = InfluxDBClient3.from_env()" in new, new
    assert "InfluxDBClient3.from_env_properties" not in new, new
    assert "MIGRATION-BLOCKER(IX-2): InfluxDBClient3.from_env() reads INFLUX_HOST" in new, new


def test_write_api_point_settings_become_the_client_s_own():
    # influxdb3-python 0.21 hands point_settings to its write API itself: inside write_client_options it
    # was given twice, a TypeError when the client is built ("got multiple values for keyword argument")
    new = _run(
        """
        from influxdb_client import InfluxDBClient, WriteOptions
        from influxdb_client.client.write_api import PointSettings


        class Batcher:
            def __init__(self, url, token):
                self.client = InfluxDBClient(url=url, token=token, org="o")
                self.writer = self.client.write_api(
                    write_options=WriteOptions(batch_size=500), point_settings=PointSettings(service="b")
                )

            def add(self, line):
                self.writer.write("farm", "o", line)
        """
    )
    assert 'database="farm", point_settings=PointSettings(service="b"), write_client_options=' in new, new
    assert "write_client_options(write_options=WriteOptions(batch_size=500))" in new, new


def test_default_tags_and_write_api_point_settings_are_marked():
    new = _run(
        """
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import PointSettings, SYNCHRONOUS

        client = InfluxDBClient(url="http://i:8086", token="t", org="o", default_tags={"site": "a"})
        writer = client.write_api(write_options=SYNCHRONOUS, point_settings=PointSettings(service="b"))


        def add(line):
            writer.write("farm", "o", line)
        """
    )
    code = "\n".join(line for line in new.splitlines() if not line.lstrip().startswith("#"))
    assert code.count("point_settings=") == 1, new  # twice would be a TypeError or a SyntaxError
    assert "MIGRATION-BLOCKER(IX-4): default_tags and write_api(point_settings=) both" in new, new


def test_lazy_global_getters_of_the_client_and_its_write_api():
    # `get_client().write_api(SYNCHRONOUS)` is the client itself in v3; `get_writer()` returns it, so its
    # `.write(bucket=...)` is a v2 write (before: four IX-16 markers and bucket= left)
    new = _run(
        """
        import os

        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        _client = None
        _write_api = None
        BUCKET = os.getenv("INFLUX_BUCKET", "energy")


        def get_client() -> InfluxDBClient:
            global _client
            if _client is None:
                _client = InfluxDBClient(url=os.environ["INFLUX_URL"], token=os.environ["INFLUX_TOKEN"], org="o")
            return _client


        def get_writer():
            global _write_api
            if _write_api is None:
                _write_api = get_client().write_api(write_options=SYNCHRONOUS)
            return _write_api


        def save(line: str) -> None:
            get_writer().write(bucket=BUCKET, record=line)
        """
    )
    assert "MIGRATION-BLOCKER" not in new, new
    assert (
        "_write_api = get_client()\n" in new and "get_writer().write(record=line, database=BUCKET)" in new
    ), new
    assert 'token=os.environ["INFLUX_TOKEN"], database=BUCKET)' in new, new


def test_a_batching_write_api_of_a_call_is_not_folded(tmp_path):
    # its options would have to move to the constructor of a client this module does not see: marked
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/__init__.py": "",
            "app/w.py": """
                from influxdb_client import WriteOptions


                def writer(get_client):
                    return get_client().write_api(write_options=WriteOptions(batch_size=10))
            """,
        },
    )
    migrate_tree(tmp_path, write=True)
    body = (tmp_path / "app/w.py").read_text()
    assert "get_client().write_api(write_options=WriteOptions(batch_size=10))" in body, body
    assert "MIGRATION-BLOCKER(IX-16)" in body, body


def test_a_write_api_on_app_state_read_through_the_request():
    new = _run(
        """
        from contextlib import asynccontextmanager

        from fastapi import FastAPI, Request
        from influxdb_client import InfluxDBClient, Point
        from influxdb_client.client.write_api import SYNCHRONOUS

        BUCKET = "weather"


        @asynccontextmanager
        async def lifespan(app: FastAPI):
            app.state.influx = InfluxDBClient(url="http://influxdb:8086", token="t", org="o")
            app.state.writer = app.state.influx.write_api(write_options=SYNCHRONOUS)
            yield


        async def add(station: str, temp: float, request: Request):
            request.app.state.writer.write(bucket=BUCKET, record=Point("obs").tag("station", station).field("t", temp))
        """
    )
    assert "MIGRATION-BLOCKER" not in new, new
    assert 'request.app.state.writer.write(record=Point("obs")' in new and "database=BUCKET)" in new, new
    assert 'InfluxDBClient3(host="http://influxdb:8086", token="t", database=BUCKET)' in new, new


def test_a_wrapper_through_a_cached_property_query_api(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/__init__.py": "",
            "app/repo.py": """
                from functools import cached_property

                from influxdb_client import InfluxDBClient


                class Repo:
                    def __init__(self, url: str, token: str):
                        self.client = InfluxDBClient(url=url, token=token, org="o")

                    @cached_property
                    def reader(self):
                        return self.client.query_api()

                    def run(self, flux: str):
                        return self.reader.query(flux)

                    def levels(self, tank: str) -> list:
                        flux = f'from(bucket: "water") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "tank" and r.tank == "{tank}" and r._field == "level")'
                        return [r.get_value() for t in self.run(flux) for r in t.records]
            """,
        },
    )
    first = migrate_tree(tmp_path, write=True)
    body = (tmp_path / "app/repo.py").read_text()
    assert "MIGRATION-BLOCKER" not in body and "FROM tank" in body, body
    assert "def run(self, flux: str, **sql_options):" in body, body
    assert 'self.run(flux, database="water", query_parameters={"tank": tank})' in body, body
    assert first.changed and not migrate_tree(tmp_path, write=True).changed  # idempotent
