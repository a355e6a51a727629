"""Before/after per rule of the influxdb3 upgrade (IX-1 … IX-13); assert_codemod also checks that a
second run changes nothing."""

import pytest

from migrators.upgrades.influxdb3.codemod import FRAME_HELPER
from tests.migrators.helpers import assert_codemod, dedent, migrate_twice, read, run_file, write_tree

STATE = {"dataframes": False, "schema": {"cpu": ["host"]}}


def test_imports_constructor_sync_write_close():
    assert_codemod(
        "influxdb3",
        """
        from influxdb_client import InfluxDBClient, Point
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.rest import ApiException


        class Store:
            def __init__(self, url, token, bucket):
                self.bucket = bucket
                self.client = InfluxDBClient(url=url, token=token, org="o", timeout=5_000)
                self.write_api = self.client.write_api(write_options=SYNCHRONOUS)

            def save(self, p: Point):
                try:
                    self.write_api.write(self.bucket, "o", p)
                except ApiException as exc:
                    raise RuntimeError(exc.status)

            def close(self):
                self.write_api.close()
                self.client.close()
        """,
        """
        from influxdb_client_3 import InfluxDBClient3, Point
        from influxdb_client_3.exceptions import InfluxDBError


        class Store:
            def __init__(self, url, token, bucket):
                self.bucket = bucket
                self.client = InfluxDBClient3(host=url, token=token, database=self.bucket, write_timeout=5_000, query_timeout=5_000)
                self.write_api = self.client

            def save(self, p: Point):
                try:
                    self.write_api.write(record=p, database=self.bucket)
                except InfluxDBError as exc:
                    # MIGRATION-BLOCKER(IX-6): not every influxdb3-python error has .status: a partial write raises InfluxDBPartialWriteError and a failed query InfluxDB3ClientQueryError (only an HTTP write failure keeps status/reason/body/headers): read getattr(exc, 'status', None) or exc.response (None when no HTTP answer came)
                    raise RuntimeError(exc.status)

            def close(self):
                self.client.close()
        """,
        rules={"IX-1", "IX-2", "IX-3", "IX-4", "IX-5", "IX-6"},
        state=STATE,
        rel="app/store.py",
    )


def test_batching_options_move_to_the_client():
    changes = assert_codemod(
        "influxdb3",
        """
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import WriteOptions


        def make(url, token):
            client = InfluxDBClient(url=url, token=token, org="o")
            w = client.write_api(write_options=WriteOptions(batch_size=10), error_callback=print)
            w.write(bucket="home", record="m v=1")
            return client
        """,
        """
        from influxdb_client_3 import write_client_options, InfluxDBClient3
        from influxdb_client_3 import WriteOptions


        def make(url, token):
            client = InfluxDBClient3(host=url, token=token, database="home", write_client_options=write_client_options(write_options=WriteOptions(batch_size=10), error_callback=print))
            w = client
            w.write(record="m v=1", database="home")
            return client
        """,
        state=STATE,
        rel="app/w.py",
    )
    assert any(c.rule == "IX-4" for c in changes)


def test_ping_becomes_get_server_version_helper():
    new = assert_codemod(
        "influxdb3",
        """
        from influxdb_client import InfluxDBClient

        client = InfluxDBClient(url="http://h:8181", token="t", org="o")
        client.write_api().write(bucket="b", record="m v=1")
        ok = client.ping()
        """,
        '''
        from influxdb_client_3 import InfluxDBClient3

        client = InfluxDBClient3(host="http://h:8181", token="t", database="b")


        def _influxdb3_ping(client) -> bool:
            """v2 ping(): True when the server answers GET /ping (influxdb3-python has no ping(), IX-7)."""
            try:
                client.get_server_version()
            except Exception:
                return False
            return True


        client.write(record="m v=1", database="b")
        ok = _influxdb3_ping(client)
        ''',
        state=STATE,
        rel="app/p.py",
    )
    assert {c.rule for c in new} >= {"IX-7", "IX-3", "IX-2"}


def test_delete_api_gets_the_ix9_blocker():
    changes = assert_codemod(
        "influxdb3",
        """
        def expire(influx, start, stop):
            api = influx.client.delete_api()
            api.delete(start, stop, '_measurement="m"', bucket="b", org="o")
        """,
        """
        def expire(influx, start, stop):
            # MIGRATION-BLOCKER(IX-9): InfluxDB 3 has no predicate delete; use a database retention period (set at creation in Core: influxdb3 create database --retention-period 30d DB) or DELETE /api/v3/configure/table for a whole table
            api = influx.client.delete_api()
            api.delete(start, stop, '_measurement="m"', bucket="b", org="o")
        """,
        state=STATE,
        rel="app/e.py",
    )
    assert [c.kind for c in changes] == ["marker"]


def test_flux_fstring_query_and_record_loop():
    assert_codemod(
        "influxdb3",
        """
        def latest(influx, bucket, host):
            flux = f'''from(bucket: "{bucket}") |> range(start: -1h)
              |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage" and r.host == "{host}") |> last()'''
            for table in influx.query_api.query(flux, org="o"):
                for record in table.records:
                    return record.get_time(), record.get_value(), record.values["host"]
        """,
        '''
        import pyarrow
        from datetime import timezone


        def _influxdb3_rows(table) -> list:
            """Rows of an Arrow table as dicts (IX-13). Times are cut to microseconds first: a Python datetime
            holds no nanoseconds, and pyarrow refuses to convert a nanosecond time that is not a whole
            microsecond (the v2 client cut them the same way)."""
            columns = [
                column.cast(pyarrow.timestamp("us", column.type.tz), safe=False)
                if pyarrow.types.is_timestamp(column.type)
                else column
                for column in table.columns
            ]
            return pyarrow.table(columns, names=table.column_names).to_pylist()


        def latest(influx, bucket, host):
            flux = """
        SELECT time, host, usage
        FROM (SELECT time, host, usage, row_number() OVER (PARTITION BY host
        ORDER BY time DESC) AS _rn
        FROM cpu
        WHERE time >= now() - INTERVAL '1 hours' AND time < now() AND host = $host AND usage IS NOT NULL)
        WHERE _rn = 1
        ORDER BY host, time
        """
            for record in _influxdb3_rows(influx.query_api.query(flux, language="sql", database=bucket, query_parameters={"host": host})):
                return record["time"].replace(tzinfo=timezone.utc), record["usage"], record["host"]
        ''',
        rules={"IX-11", "IX-12", "IX-13"},
        state=STATE,
        rel="app/q.py",
    )


def test_untranslatable_flux_is_marked_with_its_text():
    changes = assert_codemod(
        "influxdb3",
        """
        def q(client):
            return client.query_api().query('from(bucket: "b") |> range(start: -1h) |> reduce(fn: (r, accumulator) => r)')
        """,
        """
        def q(client):
            # MIGRATION-BLOCKER(IX-12): translate Flux to SQL (Flux stage reduce() has no SQL translation; see docs/rules.md#ix-12): 'from(bucket: "b") |> range(start: -1h) |> reduce(fn: (r, accumulator) => r)'
            return client.query('from(bucket: "b") |> range(start: -1h) |> reduce(fn: (r, accumulator) => r)')
        """,
        state=STATE,
        rel="app/q.py",
    )
    assert [c.rule for c in changes if c.kind == "marker"] == ["IX-12"]


def test_conditionally_assembled_flux_is_marked():
    changes = assert_codemod(
        "influxdb3",
        """
        def q(api, host):
            flux = 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "cpu")'
            if host:
                flux += f' |> filter(fn: (r) => r.host == "{host}")'
            return api.query_api().query(flux)
        """,
        """
        def q(api, host):
            flux = 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "cpu")'
            if host:
                flux += f' |> filter(fn: (r) => r.host == "{host}")'
            # MIGRATION-BLOCKER(IX-12): translate Flux to SQL; the query text is not a literal or an f-string assembled in this function (see docs/rules.md#ix-12)
            return api.query(flux)
        """,
        state=STATE,
        rel="app/q.py",
    )
    assert [c.rule for c in changes if c.kind == "marker"] == ["IX-12"]


def test_query_data_frame_columns():
    assert_codemod(
        "influxdb3",
        """
        def hourly(store, days):
            flux = f'''from(bucket: "b") |> range(start: -{days}d)
              |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")
              |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)'''
            frame = store.query_api.query_data_frame(flux, org="o")
            return frame.rename(columns={"_time": "time", "_value": "kwh"})
        """,
        FRAME_HELPER.lstrip()
        + "\n\n"
        + dedent('''
        def hourly(store, days):
            flux = """
        SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', now()) AS time, host, sum(usage) AS usage
        FROM cpu
        WHERE time >= now() - CAST(concat($days, ' days') AS INTERVAL) AND time < now() AND usage IS NOT NULL
        GROUP BY date_bin(INTERVAL '1 hours', time), host
        ORDER BY host, time
        """
            frame = _influxdb3_frame(store.query_api.query(flux, language="sql", mode="pandas", database="b", query_parameters={"days": days}))
            return frame.rename(columns={"time": "time", "usage": "kwh"})
        '''),
        state=STATE,
        rel="app/f.py",
    )


def test_query_data_frame_index_names_the_sql_time_column():
    # The frame's index moves to set_index(); Flux's `_time` is the SQL frame's `time`.
    assert_codemod(
        "influxdb3",
        """
        def hourly(store, days):
            flux = f'from(bucket: "b") |> range(start: -{days}d) |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")'
            frame = store.query_api.query_data_frame(flux, org="o", data_frame_index=["_time", "host"])
            return frame.rename(columns={"_value": "kwh"})
        """,
        FRAME_HELPER.lstrip()
        + "\n\n"
        + dedent('''
        def hourly(store, days):
            flux = """
        SELECT time, host, usage
        FROM cpu
        WHERE time >= now() - CAST(concat($days, ' days') AS INTERVAL) AND time < now() AND usage IS NOT NULL
        ORDER BY host, time
        """
            frame = _influxdb3_frame(store.query_api.query(flux, language="sql", mode="pandas", database="b", query_parameters={"days": days})).set_index(["time", "host"])
            return frame.rename(columns={"usage": "kwh"})
        '''),
        state=STATE,
        rel="app/f.py",
    )


def test_tree_requirements_and_idempotence(tmp_path):
    root = write_tree(
        tmp_path / "svc",
        {
            "requirements.txt": "fastapi==0.110.0\ninfluxdb-client[extra]==1.40.0\n",
            "app/store.py": """
            from influxdb_client import InfluxDBClient


            def frame(c):
                return c.query_api().query_data_frame('from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "m" and r._field == "f")')
            """,
        },
    )
    result = migrate_twice(root, only=["influxdb3"])
    assert "influxdb3-python[pandas]==0.21.0" in read(root, "requirements.txt")
    assert "influxdb_client_3" in read(root, "app/store.py")
    assert not result.errors


NUMPY1_STORE = """
    from influxdb_client import InfluxDBClient


    def frame(c):
        return c.query_api().query_data_frame('from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "m" and r._field == "f")')
    """


def test_numpy1_pin_gets_a_pyarrow_ceiling_once(tmp_path):
    # pyarrow 26 refuses to import beside NumPy 1.x (energy-forecasting pins numpy==1.26.4).
    root = write_tree(
        tmp_path / "svc",
        {
            "requirements.txt": "influxdb-client[extra]==1.40.0\npandas==2.1.4\nnumpy==1.26.4\n",
            "app/store.py": NUMPY1_STORE,
        },
    )
    migrate_twice(root, only=["influxdb3"])
    assert read(root, "requirements.txt") == (
        "influxdb3-python[pandas]==0.21.0\npyarrow<26\npandas==2.1.4\nnumpy==1.26.4\n"
    )


def test_numpy2_or_unpinned_gets_no_pyarrow_line(tmp_path):
    root = write_tree(
        tmp_path / "svc",
        {"requirements.txt": "influxdb-client==1.40.0\nnumpy>=2\n", "app/store.py": NUMPY1_STORE},
    )
    migrate_twice(root, only=["influxdb3"])
    assert "pyarrow" not in read(root, "requirements.txt")


def test_async_client_is_a_blocker(tmp_path):
    # IX-8: InfluxDBClientAsync has no v3 counterpart; the gate must stop the service.
    root = write_tree(
        tmp_path / "svc",
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/a.py": """
            from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync


            async def ping(url, token):
                async with InfluxDBClientAsync(url=url, token=token, org="o") as client:
                    return await client.ping()
            """,
        },
    )
    result = migrate_twice(root, only=["influxdb3"])
    assert any(change.rule == "IX-8" for _, change in result.markers), result.markers
    assert "# MIGRATION-BLOCKER(IX-8): InfluxDBClientAsync has no v3 counterpart" in read(root, "app/a.py")


def test_tag_and_field_with_one_name_is_a_blocker(tmp_path):
    # IX-10: InfluxDB 2 accepted `host` as a tag in one write and a field in another; 3 refuses.
    root = write_tree(
        tmp_path / "svc",
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/w.py": """
            from influxdb_client import Point


            def tagged(host, v):
                return Point("cpu").tag("host", host).field("usage", v)


            def fielded(host):
                return Point("cpu").field("host", host)


            def other(v):
                return Point("mem").tag("host", "a").field("used", v)
            """,
        },
    )
    result = migrate_twice(root, only=["influxdb3"])
    marked = [change for _, change in result.markers if change.rule == "IX-10"]
    assert len(marked) == 2, result.markers
    text = read(root, "app/w.py")
    assert (
        text.count("# MIGRATION-BLOCKER(IX-10): 'cpu' is written with host both as a tag and as a field") == 2
    )
    assert "'mem'" not in text


def test_an_import_with_names_of_no_counterpart_is_split_and_the_rest_kept_as_written():
    # IX-1: the names with a counterpart move (renamed); the others stay as written, marked: a kept
    # `from influxdb_client import BucketsApi, InfluxDBClient3` would name what the module never had.
    assert_codemod(
        "influxdb3",
        """
        from influxdb_client import BucketsApi, InfluxDBClient as Client, Point


        def make(url: str, token: str) -> tuple[Client, BucketsApi, Point]:
            return Client, BucketsApi, Point
        """,
        """
        # MIGRATION-BLOCKER(IX-1): BucketsApi from influxdb_client has no influxdb3-python counterpart
        from influxdb_client import BucketsApi
        from influxdb_client_3 import InfluxDBClient3 as Client, Point


        def make(url: str, token: str) -> tuple[Client, BucketsApi, Point]:
            return Client, BucketsApi, Point
        """,
        rules={"IX-1"},
        state=STATE,
        rel="app/store.py",
    )


def test_a_synchronous_write_api_block_keeps_a_long_lived_client_open():
    # v2 closed only the write API at the block's end; `with self.client as w:` would close the client
    assert_codemod(
        "influxdb3",
        """
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS


        class Store:
            def __init__(self, url, token, bucket):
                self.bucket = bucket
                self.client = InfluxDBClient(url=url, token=token, org="o")

            def save(self, points):
                with self.client.write_api(write_options=SYNCHRONOUS) as writer:
                    writer.write(self.bucket, "o", points)
        """,
        """
        from influxdb_client_3 import InfluxDBClient3
        from contextlib import nullcontext


        class Store:
            def __init__(self, url, token, bucket):
                self.bucket = bucket
                self.client = InfluxDBClient3(host=url, token=token, database=self.bucket)

            def save(self, points):
                with nullcontext(self.client) as writer:
                    writer.write(record=points, database=self.bucket)
        """,
        rules={"IX-1", "IX-2", "IX-3", "IX-5"},
        state=STATE,
        rel="app/store.py",
    )


def test_a_batching_write_api_block_is_marked_not_closed():
    new, changes = run_file(
        "influxdb3",
        dedent(
            """
            from influxdb_client import InfluxDBClient

            client = InfluxDBClient(url="http://h:8181", token="t", org="o")


            def save(points):
                with client.write_api() as batch:
                    batch.write(bucket="b", record=points)
            """
        ),
        state=STATE,
        rel="app/w.py",
    )
    assert "with client.write_api() as batch:" in new
    assert "with client as batch" not in new
    assert any(c.rule == "IX-5" and c.kind == "marker" and "client.flush()" in c.message for c in changes)


def test_injected_query_and_write_apis_are_the_client_and_their_imports_merge():
    # FastAPI-style injection: the parameter's annotation is all that says what it holds
    assert_codemod(
        "influxdb3",
        """
        from fastapi import Depends
        from influxdb_client import Point
        from influxdb_client.client.query_api import QueryApi
        from influxdb_client.client.write_api import WriteApi

        from app.deps import get_query_api, get_write_api


        def cpu(host: str, q: QueryApi = Depends(get_query_api)):
            return q.query('from(bucket: "m") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "cpu")')


        def record(usage: float, w: WriteApi = Depends(get_write_api)):
            w.write(bucket="m", record=Point("cpu").field("usage", usage))
        """,
        '''
        from fastapi import Depends
        from influxdb_client_3 import Point
        from influxdb_client_3 import InfluxDBClient3

        from app.deps import get_query_api, get_write_api


        def cpu(host: str, q: InfluxDBClient3 = Depends(get_query_api)):
            # MIGRATION-BLOCKER(IX-13): the result is an Arrow table (pandas frame with mode="pandas"), not Flux tables; rewrite its consumers (time, tags, one column per field)
            return q.query("""
        SELECT *
        FROM cpu
        WHERE time >= now() - INTERVAL '1 hours' AND time < now()
        ORDER BY host, time
        """, language="sql", database="m")


        def record(usage: float, w: InfluxDBClient3 = Depends(get_write_api)):
            w.write(record=Point("cpu").field("usage", usage), database="m")
        ''',
        rules={"IX-1", "IX-3", "IX-11", "IX-12", "IX-13"},
        state=STATE,
        rel="app/routes.py",
    )


def test_a_bucket_set_by_tuple_assignment_before_the_client_names_its_database():
    assert_codemod(
        "influxdb3",
        """
        from influxdb_client import InfluxDBClient


        class Store:
            def __init__(self, url, token, org, bucket):
                self.bucket, self.org = bucket, org
                self.client = InfluxDBClient(url=url, token=token, org=org)

            def save(self, line):
                self.client.write_api().write(bucket=self.bucket, record=line)
        """,
        """
        from influxdb_client_3 import InfluxDBClient3


        class Store:
            def __init__(self, url, token, org, bucket):
                self.bucket, self.org = bucket, org
                self.client = InfluxDBClient3(host=url, token=token, database=self.bucket)

            def save(self, line):
                self.client.write(record=line, database=self.bucket)
        """,
        state=STATE,
        rel="app/store.py",
    )


def test_a_literal_bucket_in_an_f_string_query_names_the_client_database():
    new, _ = run_file(
        "influxdb3",
        dedent(
            """
            from influxdb_client import InfluxDBClient

            client = InfluxDBClient(url="http://influx:8086", token="t", org="o")


            def temps(hours):
                return client.query_api().query_data_frame(f'from(bucket: "sensors") |> range(start: -{hours}h) |> filter(fn: (r) => r._measurement == "climate")')
            """
        ),
        state=STATE,
        rel="app/frames.py",
    )
    assert 'client = InfluxDBClient3(host="http://influx:8086", token="t", database=\'sensors\')' in new


@pytest.mark.parametrize("placeholder", ["%s", "%(bucket)s", "$bucket", "${bucket}"])
def test_a_placeholder_in_a_flux_template_is_not_a_bucket_name(placeholder):
    # `'from(bucket: "%s") ...' % BUCKET` named the client's database '%s': a wrong database, unmarked
    new, _ = run_file(
        "influxdb3",
        dedent(
            f"""
            from influxdb_client import InfluxDBClient

            QUERY = 'from(bucket: "{placeholder}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "temp")'


            def latest(fill):
                with InfluxDBClient(url="http://influx:8086", token="t", org="o") as client:
                    return client.query_api().query(fill(QUERY))
            """
        ),
        state=STATE,
        rel="app/reader.py",
    )
    assert "database=" not in new.split("with InfluxDBClient3(")[1].split(")")[0]
    assert "MIGRATION-BLOCKER(IX-2): InfluxDBClient3 needs database=" in new


def test_a_percent_filled_bucket_and_a_class_body_bucket_name_the_clients_database(tmp_path):
    # `QUERY % BUCKET` fills the template's `from(bucket: "%s")`; `class Config: BUCKET = ...` binds the
    # bucket above its client in the class body, where `Config.BUCKET` does not exist yet: both clients
    # were marked IX-2 though the name is bound where they are built
    from tests.migrators.upgrades.influxdb3.service_import import fresh_import

    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.44.0\n",
            "pctapp/__init__.py": "",
            "pctapp/store.py": dedent(
                '''
                import os

                from influxdb_client import InfluxDBClient

                BUCKET = os.environ.get("PCT_BUCKET", "sensors")
                QUERY = """from(bucket: "%s")
                  |> range(start: -1h)
                  |> filter(fn: (r) => r._measurement == "env" and r._field == "temp")"""

                client = InfluxDBClient(url="http://influx:8086", token="t", org="acme")


                def temps():
                    return [r.get_value() for t in client.query_api().query(QUERY % BUCKET) for r in t.records]
                '''
            ),
            "pctapp/cfg.py": dedent(
                """
                from influxdb_client import InfluxDBClient


                class Config:
                    BUCKET = "plant"
                    CLIENT = InfluxDBClient(url="http://influx:8086", token="t", org="acme")


                def load(hours: int):
                    q = f'from(bucket: "{Config.BUCKET}") |> range(start: -{hours}h) |> filter(fn: (r) => r._measurement == "m" and r._field == "v")'
                    return [r.get_value() for t in Config.CLIENT.query_api().query(q) for r in t.records]
                """
            ),
        },
    )
    migrate_twice(tmp_path)
    for rel in ("pctapp/store.py", "pctapp/cfg.py"):
        assert "MIGRATION-BLOCKER" not in read(tmp_path, rel), rel
    store, cfg = fresh_import(tmp_path, "pctapp", "store", "cfg")
    assert store.client._database == "sensors"
    assert cfg.Config.CLIENT._database == "plant"


@pytest.mark.parametrize(
    ("template", "values", "bucket"),
    [
        ('from(bucket: "%s") |> range(start: -1h)', "BUCKET", "BUCKET"),
        ('x = "%s"\nfrom(bucket: "%s") |> range(start: -%sh)', "(a, cfg.bucket, hours)", "cfg.bucket"),
        ('from(bucket: "%s") |> range(start: -%sh)', "(b, h, extra)", None),  # counts differ
        ('from(bucket: "%s") |> range(start: -%dh)', "(b, h)", None),  # not all %s
        ('from(bucket: "%(b)s")', "{'b': b}", None),
        ('from(bucket: "b") |> limit(n: %s)', "n", None),
    ],
)
def test_percent_bucket(template, values, bucket):
    import libcst as cst

    from migrators.upgrades.influxdb3.codemod import _percent_bucket

    found = _percent_bucket(template, cst.parse_expression(values))
    assert (cst.Module([]).code_for_node(found) if found is not None else None) == bucket
