"""The influxdb3 sweep after the rules (IX-14 … IX-18, IX-8 under the async client) and the influxdb3
part of the post-migrate check (signature table, unmarked shapes)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from migrators import migrate_tree
from migrators.core.runner import transform_source
from migrators.core.tree import FileInfo, ProjectTree, is_test_file
from migrators.upgrades import default_registry
from migrators.upgrades.influxdb3.sweep import (
    CLIENT_GIVES_WRITE_API,
    EXPORTS,
    POSITIONAL,
    SIGNATURES,
    InfluxSweeper,
    looks_like_flux,
    marker_instruction,
    signature_failures,
)
from tests.migrators.helpers import dedent, write_tree


def sweep(tmp_path: Path, code: str, rel: str = "app/mod.py", others: dict[str, str] | None = None) -> str:
    """The sweep alone (no rules) over one file of a small service."""
    write_tree(tmp_path, {rel: code, "requirements.txt": "influxdb-client==1.40.0\n", **(others or {})})
    tree = ProjectTree(tmp_path)
    versions = default_registry().versions()
    sweeper = InfluxSweeper(tree, versions)
    info = FileInfo(rel=rel, is_test=is_test_file(rel), is_conftest=rel.endswith("conftest.py"), tree=tree)
    assert sweeper.precheck(rel, code)
    new, _, _ = transform_source(code, [], {}, versions, info, [("influxdb3", sweeper)])
    again, changes, _ = transform_source(new, [], {}, versions, info, [("influxdb3", sweeper)])
    assert again == new and not [c for c in changes if c.kind == "marker" and c.message not in new]
    return new


def marker_above(code: str, needle: str) -> str | None:
    lines = code.splitlines()
    for i, line in enumerate(lines):
        if needle in line and "MIGRATION-BLOCKER" not in line:
            above = lines[i - 1].strip() if i else ""
            return above if above.startswith("# MIGRATION-BLOCKER(") else None
    raise AssertionError(f"{needle!r} not in code")


# ---------------------------------------------------------------- what gets a marker


def test_flux_in_builders_templates_fragments_and_concatenation(tmp_path):
    code = dedent(
        '''
        TEMPLATE = """
        from(bucket: "{bucket}")
          |> range(start: -1h)
        """
        FRAGMENT = '  |> filter(fn: (r) => r.plant == "{plant}")\\n'

        def count(device):
            return 'from(bucket: "' + B + '")' + ' |> count()'

        def schema():
            flux = 'import "influxdata/influxdb/schema"\\nschema.tagValues(bucket: "b", tag: "t")'
            return flux
        '''
    )
    out = sweep(tmp_path, code)
    for needle in ("TEMPLATE =", "FRAGMENT =", "return 'from(bucket", "flux = 'import"):
        assert "MIGRATION-BLOCKER(IX-14)" in marker_above(out, needle), needle


def test_prose_and_docstrings_quoting_flux_are_untouched(tmp_path):
    code = dedent(
        '''
        """Mentions from(bucket: "gps") |> range(...) for operators."""
        import influxdb_client


        def describe():
            """Run from(bucket: "gps") |> range(start: -1h) by hand."""
            return "Raw data: open the Data Explorer and run from(bucket: \\"solar\\") |> range(start: -1h)."
        '''
    )
    out = sweep(tmp_path, code)
    assert out.count("MIGRATION-BLOCKER") == 1  # the import only
    assert marker_above(out, "import influxdb_client").startswith("# MIGRATION-BLOCKER(IX-16)")


def test_result_handling_is_marked_once_per_statement(tmp_path):
    code = dedent(
        """
        from app.db import query_api

        def rows(flux):
            out = []
            for table in query_api.query(flux, org="o"):
                for rec in table.records:
                    out.append((rec.get_field(), rec.values.get("host"), rec.get_value()))
            return out
        """
    )
    out = sweep(tmp_path, code)
    assert marker_above(out, "for table in").startswith("# MIGRATION-BLOCKER(IX-16)")
    assert marker_above(out, "for rec in").startswith("# MIGRATION-BLOCKER(IX-15)")
    assert marker_above(out, "out.append").startswith("# MIGRATION-BLOCKER(IX-15)")
    assert out.count("MIGRATION-BLOCKER") == 4  # + the import of the old API name


def test_a_helper_module_with_no_influxdb_word_iterating_flux_tables_is_swept(tmp_path):
    # The tables come from a query in another module (maybe through a wrapper the rules could not
    # follow); this file names nothing of InfluxDB, yet its loop is v2 result handling.
    code = dedent(
        """
        def top(tables):
            best = {}
            for table in tables:
                for rec in table.records:
                    best[rec.values.get("vehicle")] = rec.get_value()
            return best
        """
    )
    out = sweep(tmp_path, code, rel="app/summary.py")
    assert marker_above(out, "for rec in").startswith("# MIGRATION-BLOCKER(IX-15)")
    assert marker_above(out, "best[rec").startswith("# MIGRATION-BLOCKER(IX-15)")


def test_a_helper_reading_flux_columns_by_key_is_swept(tmp_path):
    # no accessor, no `.values`: only `r["_value"]` says these are Flux records
    code = dedent(
        """
        def totals(tables):
            out = {}
            for t in tables:
                for r in t.records:
                    out[r["sensor"]] = out.get(r["sensor"], 0.0) + r["_value"]
            return out
        """
    )
    out = sweep(tmp_path, code, rel="app/totals.py")
    assert marker_above(out, "for r in").startswith("# MIGRATION-BLOCKER(IX-15)")


def test_a_test_faking_flux_tables_for_a_wrapper_is_swept(tmp_path):
    code = dedent(
        """
        from unittest.mock import MagicMock

        from app import api


        def test_rooms():
            record = MagicMock()
            record.get_value.return_value = "kitchen"
            db = MagicMock()
            db.run.return_value = [MagicMock(records=[record])]
            assert api.list_rooms(db) == ["kitchen"]
        """
    )
    out = sweep(tmp_path, code, rel="tests/test_api.py")
    assert marker_above(out, "record.get_value.return_value").startswith("# MIGRATION-BLOCKER(IX-18)")
    assert marker_above(out, "db.run.return_value").startswith("# MIGRATION-BLOCKER(IX-18)")


def test_records_without_flux_record_use_is_not_swept(tmp_path):
    write_tree(tmp_path, {"requirements.txt": "influxdb-client==1.40.0\n"})
    sweeper = InfluxSweeper(ProjectTree(tmp_path), default_registry().versions())
    dns = "def names(zone):\n    return [r.name for r in zone.records]\n"
    assert not sweeper.precheck("app/dns.py", dns)


def test_bucket_and_org_keywords_on_a_client_through_executors_and_getters(tmp_path):
    code = dedent(
        """
        import asyncio
        import functools

        class Store:
            @property
            def writer(self):
                return self.client

            def save(self, line):
                self.writer.write(bucket=self.bucket, org=self.org, record=line)

            async def save_async(self, point):
                await asyncio.to_thread(self.write_api.write, bucket=B, org=O, record=point)

            async def batch(self, lines):
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, functools.partial(self.write_api.write, B, O, lines))
        """
    )
    out = sweep(tmp_path, code)
    for needle in ("self.writer.write(", "asyncio.to_thread(", "functools.partial("):
        assert "MIGRATION-BLOCKER(IX-16)" in marker_above(out, needle), needle


def test_distractors_stay_untouched(tmp_path):
    code = dedent(
        """
        from http.server import BaseHTTPRequestHandler
        from influxdb_client_3 import InfluxDBClient3

        client = InfluxDBClient3(host="h", token="t", database="d")


        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.wfile.write(b"ok")


        def journal(record, bucket=None, org=None):
            with open("/tmp/j", "a") as fh:
                fh.write(f"{bucket}/{org}: {record}")


        class Readings:
            def __init__(self, influx):
                self.influx = influx  # the service's own wrapper: its write() is its own

            def add(self, points):
                self.influx.write(points, precision="s")


        class Audit:
            def query(self, sql, *params):
                return self.conn.execute(sql, params).fetchall()

            def save(self, site, org):
                self.session.add(self.model(org=org, **site))


        def rows():
            return client.query("SELECT * FROM cpu", language="sql").to_pylist()
        """
    )
    assert "MIGRATION-BLOCKER" not in sweep(tmp_path, code)


def test_async_client_is_marked_on_its_constructor_and_every_call(tmp_path):
    code = dedent(
        """
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync


        class Feed:
            def __init__(self):
                self.client = InfluxDBClientAsync(url=U, token=T, org=O)

            async def record(self, point):
                await self.client.write(record=point, database=B)
        """
    )
    out = sweep(tmp_path, code)
    assert marker_above(out, "self.client = InfluxDBClientAsync").startswith("# MIGRATION-BLOCKER(IX-8)")
    assert marker_above(out, "await self.client.write").startswith("# MIGRATION-BLOCKER(IX-8)")


def test_http_api_v2_is_marked(tmp_path):
    code = dedent(
        """
        import requests

        def query(flux):
            headers = {"Content-Type": "application/vnd.flux"}
            return requests.post(URL + "/api/v2/query", data=flux, headers=headers)
        """
    )
    out = sweep(tmp_path, code, others={"app/influx_settings.py": "URL = 'http://influx'\n"})
    assert marker_above(out, "headers = ").startswith("# MIGRATION-BLOCKER(IX-17)")
    assert marker_above(out, "return requests.post").startswith("# MIGRATION-BLOCKER(IX-17)")


def test_tests_mocking_the_old_client_including_an_alias_learned_in_another_module(tmp_path):
    test_code = dedent(
        """
        from unittest.mock import MagicMock, patch


        @patch("app.store.idbc")
        def test_store(idbc):
            table = MagicMock(records=[])
            idbc.return_value.query_api.return_value.query.return_value = [table]
            assert 'r._field == "speed"' in sent()
            assert kwargs["bucket"]
        """
    )
    store = "from influxdb_client import InfluxDBClient as idbc\n"
    out = sweep(tmp_path, test_code, rel="tests/test_store.py", others={"app/store.py": store})
    assert marker_above(out, '@patch("app.store.idbc")').startswith("# MIGRATION-BLOCKER(IX-18)")
    assert marker_above(out, "table = MagicMock(records").startswith("# MIGRATION-BLOCKER(IX-18)")
    assert marker_above(out, "idbc.return_value.query_api").startswith("# MIGRATION-BLOCKER(IX-18)")
    assert marker_above(out, "assert 'r._field").startswith("# MIGRATION-BLOCKER(IX-14)")
    assert marker_above(out, 'assert kwargs["bucket"]').startswith("# MIGRATION-BLOCKER(IX-18)")


def test_a_statement_the_rules_marked_gets_no_second_marker(tmp_path):
    code = dedent(
        """
        def f(q):
            # MIGRATION-BLOCKER(IX-12): translate Flux to SQL
            return query_api.query('from(bucket: "b") |> range(start: -1h)', org=O)
        """
    )
    out = sweep(tmp_path, code)
    assert out.count("MIGRATION-BLOCKER") == 1


def test_a_v3_client_behind_a_getter_still_given_v2_keywords_is_marked(tmp_path):
    code = dedent(
        """
        from influxdb_client_3 import InfluxDBClient3

        class Helper:
            def _get_client(self):
                if not self._client:
                    self._client = InfluxDBClient3(host=H, token=T, database=D)
                return self._client

            def query(self, q, params=None):
                return self._get_client().query(q, params=params)
        """
    )
    out = sweep(tmp_path, code)
    assert marker_above(out, "return self._get_client().query").startswith("# MIGRATION-BLOCKER(IX-16)")
    assert out.count("MIGRATION-BLOCKER") == 1


def test_converted_lines_are_not_marked(tmp_path):
    code = dedent(
        """
        from influxdb_client_3 import InfluxDBClient3

        class Gateway:
            def __init__(self):
                self._client = InfluxDBClient3(host=H, token=T, database=D)
                self._query_api = self._client

            def rows(self, sql):
                return self._query_api.query(sql, language="sql").to_pylist()
        """
    )
    assert "MIGRATION-BLOCKER" not in sweep(tmp_path, code)


def test_one_marker_names_the_other_kinds_found():
    rule, text = marker_instruction(["result", "flux", "client"])
    assert rule == "IX-14"
    assert text.endswith("also IX-16, IX-15")


@pytest.mark.parametrize(
    ("text", "flux"),
    [
        ('from(bucket: "b") |> range(start: -1h)', True),
        ("\n  |> filter(fn: (r) => r.x == 1)\n", True),
        ('r["_field"] == "ac_power_w"', True),
        ("range(start: -6h)", True),
        ("SELECT * FROM cpu WHERE time >= now() - INTERVAL '1 hour'", False),
        ('Run from(bucket: "x") |> range(start: -1h) yourself.', False),
    ],
)
def test_looks_like_flux(text, flux):
    assert looks_like_flux(text) is flux


# ---------------------------------------------------------------- the check: signatures


def test_signature_table_matches_the_installed_influxdb3_python():
    influxdb_client_3 = pytest.importorskip("influxdb_client_3")
    objects = {"InfluxDBClient3": influxdb_client_3.InfluxDBClient3, "Point": influxdb_client_3.Point}
    for key, entry in SIGNATURES.items():
        cls, method = key.split(".")
        params = inspect.signature(getattr(objects[cls], method)).parameters.values()
        explicit = {
            p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        assert explicit == set(entry["params"]), key
        takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
        assert takes_kwargs or not entry["forwarded"], key


def test_exports_exist_in_the_installed_influxdb3_python():
    influxdb_client_3 = pytest.importorskip("influxdb_client_3")
    assert {name for name in EXPORTS if not hasattr(influxdb_client_3, name)} == set()


def test_importing_a_name_influxdb3_python_lacks_is_a_failure():
    code = "from influxdb_client_3 import InfluxDBClient3, QueryApi, Point\n"
    (failure,) = signature_failures("app/db.py", code)
    assert (failure.line, failure.kind, failure.message) == (1, "import", "influxdb_client_3 has no QueryApi")


def test_signature_failures_name_the_line_and_the_keyword():
    code = dedent(
        """
        from influxdb_client_3 import InfluxDBClient3 as idbc, Point

        client = idbc(url=U, token=T, timeout=30_000)
        query_api = client
        rows = query_api.query(sql, org=O, language="sql")
        client.write(bucket=B, record=Point("m"))
        client.write(record=Point(measurement_name="m"), database=B)
        """
    )
    failures = signature_failures("app/db.py", code)
    assert [(f.line, f.message) for f in failures] == [
        (3, "InfluxDBClient3() does not accept timeout=, url="),
        (5, "InfluxDBClient3.query() does not accept org="),
        (6, "InfluxDBClient3.write() does not accept bucket="),
    ]
    assert all(f.next_step for f in failures)


def test_write_client_options_given_what_the_client_gives_is_a_failure():
    code = dedent(
        """
        from influxdb_client_3 import InfluxDBClient3, PointSettings, write_client_options as wco

        class Store:
            def __init__(self):
                self.client: InfluxDBClient3 = InfluxDBClient3(host=H, token=T, database=D, url=U)
                self.other = InfluxDBClient3(
                    host=H, token=T, database=D, write_client_options=wco(point_settings=PointSettings(), batch_size=1)
                )
        """
    )
    failures = signature_failures("app/db.py", code)
    assert [(f.line, f.message.split(" (")[0]) for f in failures] == [
        (7, "write_client_options() gets point_settings= which InfluxDBClient3 already gives its write API"),
        (5, "InfluxDBClient3() does not accept url="),  # an annotated assignment binds a client too
    ]
    before_021 = CLIENT_GIVES_WRITE_API - {"point_settings"}
    assert [f.line for f in signature_failures("app/db.py", code, given=before_021)] == [5]


def test_the_client_gives_its_write_api_what_the_table_says():
    # built against the installed library: each key given twice raises, the table's complement does not
    influxdb_client_3 = pytest.importorskip("influxdb_client_3")
    build = influxdb_client_3.InfluxDBClient3
    options = influxdb_client_3.write_client_options
    client = build(
        host="http://127.0.0.1:1", token="t", database="d", write_client_options=options(batch_size=1)
    )
    client.close()
    with pytest.raises(TypeError, match="multiple values"):
        build(
            host="http://127.0.0.1:1",
            token="t",
            database="d",
            write_client_options=options(point_settings=None),
        )
    assert "point_settings" in CLIENT_GIVES_WRITE_API


def test_unmarked_shape_is_a_check_failure(tmp_path):
    code = "from app.db import client\n\nrows = [r.get_value() for t in client.query_api().query(q) for r in t.records]\n"
    write_tree(tmp_path, {"app/x.py": code})
    sweeper = InfluxSweeper(ProjectTree(tmp_path), default_registry().versions())
    failures = sweeper.check("app/x.py", code)
    assert [(f.kind, f.line) for f in failures] == [("unmarked", 3)]
    marked = "from app.db import client\n\n# MIGRATION-BLOCKER(IX-16): do it\n" + code.split("\n\n", 1)[1]
    assert sweeper.check("app/x.py", marked) == []


def test_positional_table_matches_the_installed_influxdb3_python():
    influxdb_client_3 = pytest.importorskip("influxdb_client_3")
    for key, order in POSITIONAL.items():
        method = getattr(influxdb_client_3.InfluxDBClient3, key.split(".")[1])
        params = [p.name for p in inspect.signature(method).parameters.values() if p.name != "self"]
        assert tuple(params[: len(order)]) == order, key


def test_v2_positional_write_arguments_on_a_v3_client_are_failures():
    # `with client.write_api(...) as w: w.write(bucket, org, record)` left as `with client as w:`
    code = dedent(
        """
        from influxdb_client_3 import InfluxDBClient3


        class Store:
            def __init__(self):
                self.client = InfluxDBClient3.from_env()

            def save(self, points):
                with self.client as writer:
                    writer.write(self.bucket, self.org, points)
                self.client.write(self.bucket, record=points)
                self.client.write(points, self.bucket)
        """
    )
    failures = signature_failures("app/db.py", code)
    assert sorted((f.line, f.message) for f in failures) == [
        (10, "write() takes at most 2 positional arguments (record, database), got 3"),
        (11, "write() gets record both by position and by keyword"),
    ]


def test_a_getter_imported_from_another_module_is_followed(tmp_path):
    # ingest.py has no InfluxDB word: `sink().write(bucket, org, lines)` was neither rewritten nor swept, and
    # the v3 client's write(record, database) takes two positional arguments (a TypeError at run time)
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/__init__.py": "",
            "app/db.py": dedent(
                """
                from influxdb_client import InfluxDBClient
                from influxdb_client.client.write_api import SYNCHRONOUS

                _client = None
                _sink = None


                def connection():
                    global _client
                    if _client is None:
                        _client = InfluxDBClient(url="http://i:8086", token="t", org="o")
                    return _client


                def sink():
                    global _sink
                    if _sink is None:
                        _sink = connection().write_api(write_options=SYNCHRONOUS)
                    return _sink
                """
            ),
            "app/ingest.py": "from app.db import sink\n\n\ndef store(bucket, lines):\n    sink().write(bucket, 'o', lines)\n",
            "app/other.py": "from app.jobs import sink\n\n\ndef go(x):\n    return sink().write(x, 1, 2)\n",
            # the module imported whole, and v2's write(bucket, record=...): the v3 write's first is the record
            "app/batch.py": "import app.db as db\n\n\ndef put(bucket, lines):\n    db.sink().write(bucket, record=lines)\n",
        },
    )
    migrate_tree(tmp_path, write=True)
    assert marker_above((tmp_path / "app/batch.py").read_text(), "db.sink().write").startswith(
        "# MIGRATION-BLOCKER(IX-16)"
    )
    assert marker_above((tmp_path / "app/ingest.py").read_text(), "sink().write").startswith(
        "# MIGRATION-BLOCKER(IX-16)"
    )
    assert "MIGRATION-BLOCKER" not in (tmp_path / "app/other.py").read_text()  # another module's sink


def test_flux_column_names_read_far_from_the_query_are_marked(tmp_path):
    # repo.hourly() returns a frame its caller reads by v2 column names; the query is marked where it is
    # sent, but after a person translates it the frame has `time` and one column per field: a KeyError
    # in report.py, which holds no InfluxDB word
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/__init__.py": "",
            "app/repo.py": dedent(
                """
                from influxdb_client import InfluxDBClient


                class Repo:
                    def __init__(self, client: InfluxDBClient):
                        self._client = client

                    def hourly(self, text):
                        return self._client.query_api().query_data_frame(text)
                """
            ),
            "app/report.py": dedent(
                """
                from app.repo import Repo


                def report(repo: Repo, text):
                    df = repo.hourly(text)
                    latest = df.set_index("_time")
                    note = "_time_zone"
                    return df[["_time", "_value"]].to_csv(), latest, note
                """
            ),
        },
    )
    migrate_tree(tmp_path, write=True)
    report = (tmp_path / "app/report.py").read_text()
    assert marker_above(report, 'latest = df.set_index("_time")').startswith(
        "# MIGRATION-BLOCKER(IX-15): a Flux result column"
    )
    assert marker_above(report, "return df[[").startswith("# MIGRATION-BLOCKER(IX-15)")
    assert marker_above(report, "note = ") is None  # a longer word is not a column name


def test_flux_column_names_in_converted_modules_and_tests_are_left(tmp_path):
    # rows of a translated query may keep v2 keys on purpose (`count(*) AS _value`, the long form of a
    # query over all fields), and a test's fake rows may mirror them: no column marker there
    code = 'from app.gw import helper\n\n\ndef counts():\n    return {r["host"]: r["_value"] for r in helper.query("SELECT 1", database="d")}\n'
    assert "MIGRATION-BLOCKER" not in sweep(tmp_path, code.replace("app.gw", "app.influx_gw"))
    fake = 'def test_x(helper):\n    helper.query.return_value = [{"_value": 2}]\n'
    assert "MIGRATION-BLOCKER" not in sweep(tmp_path, fake, rel="tests/test_counts.py")


def test_flux_column_names_of_another_modules_frame_are_marked_in_a_converted_module(tmp_path):
    # repo.py's query is translated (its frame has `time` and `temp`); api.py is converted too (its
    # write), so it used to count as keeping v2 keys on purpose: `df["_value"]` was a silent KeyError.
    # Only keys this module's own SQL names, or a function sending the converted query itself, are kept.
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.44.0\npandas==2.2.2\n",
            "app/__init__.py": "",
            "app/repo.py": dedent(
                """
                from influxdb_client import InfluxDBClient

                BUCKET = "metrics"
                COUNT = "SELECT count(*) AS _value FROM env"
                client = InfluxDBClient(url="http://influx:8086", token="t", org="acme")


                def load_temps(hours: int):
                    q = f'''from(bucket: "{BUCKET}")
                  |> range(start: -{hours}h)
                  |> filter(fn: (r) => r._measurement == "env" and r._field == "temp")'''
                    return client.query_api().query_data_frame(q, org="acme")
                """
            ),
            "app/api.py": dedent(
                """
                from influxdb_client import Point
                from influxdb_client.client.write_api import SYNCHRONOUS

                from app.repo import BUCKET, COUNT, client, load_temps


                def mean_temp(hours: int) -> float:
                    df = load_temps(hours)
                    return float(df["_value"].mean())


                def count() -> int:
                    return int(client.query(COUNT, language="sql", database=BUCKET).to_pylist()[0]["_value"])


                def record(value: float) -> None:
                    client.write_api(write_options=SYNCHRONOUS).write(
                        bucket=BUCKET, org="acme", record=Point("env").field("temp", value)
                    )
                """
            ),
        },
    )
    migrate_tree(tmp_path, write=True)
    api = (tmp_path / "app/api.py").read_text()
    assert "client.write(" in api  # converted: the module holds new-API evidence
    assert marker_above(api, 'return float(df["_value"]').startswith(
        "# MIGRATION-BLOCKER(IX-15): a Flux result"
    )
    assert marker_above(api, "return int(client.query(COUNT") is None  # sends the SQL naming _value itself
    migrate_tree(tmp_path, write=True)
    assert (tmp_path / "app/api.py").read_text() == api


def test_a_test_mocking_the_v2_ping_is_marked(tmp_path):
    # IX-7 rewrites `client.ping()` to `_influxdb3_ping(client)` (get_server_version()); a test mocking
    # `ping` then mocks nothing the code calls: `fake.ping.return_value = True` still "passes" through a
    # MagicMock's truthy get_server_version(). The test file holds no InfluxDB word.
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.44.0\n",
            "app/__init__.py": "",
            "app/health.py": dedent(
                """
                from influxdb_client import InfluxDBClient

                client = InfluxDBClient(url="http://influx:8086", token="t", org="acme")


                def healthy() -> bool:
                    return client.ping()
                """
            ),
            "tests/test_health.py": dedent(
                """
                from unittest.mock import MagicMock, patch

                from app import health


                def test_healthy():
                    with patch.object(health.client, "ping", return_value=True):
                        assert health.healthy()


                def test_down(monkeypatch):
                    monkeypatch.setattr(health.client, "ping", lambda: False)
                    assert not health.healthy()


                def test_fake():
                    fake = MagicMock()
                    fake.ping.return_value = True
                    other = MagicMock(ping=True)
                    fake.close.return_value = None
                    assert fake and other


                @patch("app.health.client.ping")
                def test_decorated(ping):
                    ping.return_value = True
                """
            ),
        },
    )
    migrate_tree(tmp_path, write=True)
    assert "_influxdb3_ping(client)" in (tmp_path / "app/health.py").read_text()
    test = (tmp_path / "tests/test_health.py").read_text()
    for line in (
        'with patch.object(health.client, "ping"',
        'monkeypatch.setattr(health.client, "ping"',
        "fake.ping.return_value = True",
        "other = MagicMock(ping=True)",
        '@patch("app.health.client.ping")',
    ):
        assert marker_above(test, line).startswith(
            "# MIGRATION-BLOCKER(IX-18): test mocks the v2 client's ping()"
        )
    assert marker_above(test, "fake.close.return_value") is None
    migrate_tree(tmp_path, write=True)
    assert (tmp_path / "tests/test_health.py").read_text() == test
