"""The 33-point checklist of specs/influxdb3-mosquitto.md ("What a faithful double must do"),
one test per item (named `test_NN_...`), driven with the real clients: influxdb3-python,
influxdb-client's v2 write API, pyarrow.flight and raw HTTP. The server is the stand-in in its
container unless INFLUXDB3_CONFORMANCE_URL points at a real InfluxDB 3 Core (see conftest.py).
"""

from __future__ import annotations

import gzip
import json
import time

import pandas as pd
import pyarrow as pa
import pyarrow.flight as fl
import pytest
import requests
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client_3 import InfluxDBClient3, Point
from influxdb_client_3.exceptions import InfluxDB3ClientQueryError, InfluxDBError

from tests.standin.tokens import admin_token

pytestmark = pytest.mark.docker
TOKEN = "any-token"


def client(influx, db: str, token: str = TOKEN, **kwargs) -> InfluxDBClient3:
    return InfluxDBClient3(host=influx.url, token=token, database=db, **kwargs)


def write_lp(influx, db: str, body: str | bytes, headers: dict | None = None, **params) -> requests.Response:
    return requests.post(
        f"{influx.url}/api/v3/write_lp",
        params={"db": db, **params},
        data=body if isinstance(body, bytes) else body.encode(),
        headers=headers,
        timeout=10,
    )


def sql(influx, db: str, q: str, **params) -> requests.Response:
    return requests.get(f"{influx.url}/api/v3/query_sql", params={"db": db, "q": q, **params}, timeout=10)


def rows(influx, db: str, q: str) -> list[dict]:
    response = sql(influx, db, q)
    assert response.status_code == 200, response.text
    return response.json()


def flight_client(influx) -> fl.FlightClient:
    return fl.FlightClient(influx.url.replace("http://", "grpc+tcp://"))


def ticket(db: str, q: str, **extra) -> fl.Ticket:
    return fl.Ticket(json.dumps({"database": db, "sql_query": q, **extra}).encode())


def test_01_one_port_serves_http_writes_and_flight_queries(influx):
    db = influx.database()
    with client(influx, db) as c:
        c.write(record="cpu,host=a usage=1.5 1700000000000000000")
        table = c.query("SELECT host, usage FROM cpu")
    assert table.to_pylist() == [{"host": "a", "usage": 1.5}]


def test_02_v2_write_returns_204_and_needs_a_bucket(influx):
    db = influx.database()
    ok = requests.post(
        f"{influx.url}/api/v2/write",
        params={"bucket": db, "org": "whatever", "precision": "ns"},
        data=b"m f=1 1",
        timeout=10,
    )
    assert (ok.status_code, ok.content) == (204, b"")
    for params in ({"org": "o"}, {"bucket": "", "org": "o"}):
        bad = requests.post(f"{influx.url}/api/v2/write", params=params, data=b"m f=1 1", timeout=10)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid", bad.text


def test_02b_influxdb_client_v2_write_api_works_unchanged(influx):
    db = influx.database()
    with InfluxDBClient(url=influx.url, token=TOKEN, org="sandbox") as v2:
        v2.write_api(write_options=SYNCHRONOUS).write(
            bucket=db, record="temp,room=k c=21.5 1700000000000000000"
        )
    assert rows(influx, db, "SELECT room, c FROM temp") == [{"room": "k", "c": 21.5}]


def test_03_v3_write_lp_returns_204_and_needs_db(influx):
    assert write_lp(influx, influx.database(), "m f=1 1").status_code == 204
    bare = requests.post(f"{influx.url}/api/v3/write_lp", data=b"m f=1 1", timeout=10)
    assert (bare.status_code, bare.text) == (400, "missing query parameter 'db'")


@pytest.mark.parametrize(
    "precision,value,expected",
    [
        ("auto", 1700000000, "2023-11-14T22:13:20"),
        ("auto", 1700000000000, "2023-11-14T22:13:20"),
        ("auto", 1700000000000000, "2023-11-14T22:13:20"),
        ("auto", 1700000000000000000, "2023-11-14T22:13:20"),
        ("second", 1700000000, "2023-11-14T22:13:20"),
        ("ms", 1700000000001, "2023-11-14T22:13:20.001"),
        ("u", 1700000000000001, "2023-11-14T22:13:20.000001"),
        ("n", 1700000000000000001, "2023-11-14T22:13:20.000000001"),
    ],
)
def test_04_v3_precision_names_and_auto_guess(influx, precision, value, expected):
    db = influx.database()
    assert write_lp(influx, db, f"m f=1 {value}", precision=precision).status_code == 204
    assert rows(influx, db, "SELECT time FROM m") == [{"time": expected}]


def test_04b_v2_defaults_to_nanoseconds(influx):
    db = influx.database()
    requests.post(f"{influx.url}/api/v2/write", params={"bucket": db}, data=b"m f=1 1700000000", timeout=10)
    assert rows(influx, db, "SELECT time FROM m") == [{"time": "1970-01-01T00:00:01.700"}]


def test_05_line_without_timestamp_gets_server_time_truncated_to_precision(influx):
    db = influx.database()
    before = time.time_ns()
    assert write_lp(influx, db, "m f=1", precision="second").status_code == 204
    table = client(influx, db).query("SELECT time FROM m")
    stamp = table.column("time").cast(pa.int64())[0].as_py()
    assert stamp % 10**9 == 0 and before - 10**9 <= stamp <= time.time_ns()


def test_06_write_creates_database_and_is_immediately_queryable(influx):
    db = influx.database()
    with client(influx, db) as c:
        c.write(record=Point("cpu").tag("host", "b").field("v", 2.0).field("n", 3))
        assert c.query("SELECT host, n, v FROM cpu").to_pylist() == [{"host": "b", "n": 3, "v": 2.0}]


def test_07_line_protocol_types_and_type_conflicts(influx):
    db = influx.database()
    body = 'm i=1i,u=2u,f=1,g=1.5,h=1e3,s="x y",b1=t,b2=FALSE 1'
    assert write_lp(influx, db, body).status_code == 204
    schema = client(influx, db).query("SELECT * FROM m").schema
    types = {name: schema.field(name).type for name in schema.names}
    assert types == {
        "b1": pa.bool_(),
        "b2": pa.bool_(),
        "f": pa.float64(),
        "g": pa.float64(),
        "h": pa.float64(),
        "i": pa.int64(),
        "s": pa.string(),
        "time": pa.timestamp("ns"),
        "u": pa.uint64(),
    }
    conflict = write_lp(influx, db, "m f=1i 2")
    assert conflict.status_code == 400
    assert (
        "invalid column type for column 'f', expected iox::column_type::field::float, "
        "got iox::column_type::field::integer"
    ) in conflict.text


def test_08_repeated_field_is_rejected(influx):
    response = write_lp(influx, influx.database(), "m usage=1,usage=2 1")
    assert "invalid line protocol - multiple instances of 'usage' field found" in response.text


def test_09_partial_write_stores_good_lines_and_reports_bad_ones(influx):
    db = influx.database()
    response = write_lp(influx, db, "m f=1 1\nm f=notanumber_and_long 2\nm f=3 3")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "partial write of line protocol occurred"
    assert [(e["line_number"], len(e["original_line"].encode()) <= 20) for e in body["data"]] == [(2, True)]
    assert set(body["data"][0]) == {"error_message", "line_number", "original_line"}
    assert rows(influx, db, "SELECT f FROM m ORDER BY time") == [{"f": 1.0}, {"f": 3.0}]


def test_10_accept_partial_false_stores_nothing(influx):
    db = influx.database()
    write_lp(influx, db, "other f=1 1")
    response = write_lp(influx, db, "m f=1 1\nm f=bad 2", accept_partial="false")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "line protocol parsing error" and body["data"]["line_number"] == 2
    assert "table 'public.iox.m' not found" in sql(influx, db, "SELECT * FROM m").text


def test_11_v2_bad_line_stores_nothing_and_client_raises_invalid(influx):
    db = influx.database()
    response = requests.post(
        f"{influx.url}/api/v2/write", params={"bucket": db}, data=b"m f=1 1\nm f=bad 2", timeout=10
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid"
    assert body["message"].startswith("write buffer error: line protocol parse failed: ")
    with pytest.raises(InfluxDBError) as caught, client(influx, db) as c:
        c.write(record="m f=1 1\nm f=bad 2")
    assert caught.value.message.startswith("invalid:")
    assert sql(influx, db, "SELECT * FROM m").status_code in (400, 404)


def test_12_empty_write_is_rejected(influx):
    response = write_lp(influx, influx.database(), "")
    assert (response.status_code, response.text) == (400, "incoming write was empty")


def test_13_gzip_accepted_other_encodings_and_oversized_bodies_refused(influx):
    db = influx.database()
    assert write_lp(influx, db, gzip.compress(b"m f=1 1"), {"Content-Encoding": "gzip"}).status_code == 204
    brotli = write_lp(influx, db, b"m f=1 1", {"Content-Encoding": "br"})
    assert brotli.status_code == 400 and "unacceptable content-encoding" in brotli.text
    huge = write_lp(influx, db, b"m f=1 1\n" * (11 * 1024 * 1024 // 8))
    assert huge.status_code == 413


@pytest.mark.parametrize("name", ["_bad", "a b", "a/b/c", "a/", "x" * 512])
def test_14_invalid_database_names_are_refused(influx, name):
    response = write_lp(influx, name, "m f=1 1")
    assert response.status_code == 400 and "error" in response.json()


def test_15_auth_on_requires_a_valid_token_everywhere(influx_auth):
    url = influx_auth.url
    token = admin_token(influx_auth)
    for path in ("/health", "/ping", "/api/v3/query_sql?db=x&q=select%201"):
        response = requests.get(url + path, timeout=10)
        assert response.status_code == 401 and response.json() == {
            "error": "the request was not authenticated"
        }
    for scheme in ("Token", "Bearer"):
        assert requests.get(url + "/health", headers={"Authorization": f"{scheme} {token}"}, timeout=10).ok
    for header in (f"bearer {token}", "Bearer", f"Bearer {token} x"):
        response = requests.get(url + "/health", headers={"Authorization": header}, timeout=10)
        assert response.status_code == 400 and "Authorization header was malformed" in response.text
    assert requests.options(url + "/api/v3/write_lp", timeout=10).status_code == 204


def test_16_auth_off_accepts_anything_and_disables_token_endpoints(influx):
    assert requests.get(f"{influx.url}/health", headers={"Authorization": "Token nonsense"}, timeout=10).ok
    assert requests.get(f"{influx.url}/health", timeout=10).ok
    response = requests.post(f"{influx.url}/api/v3/configure/token/admin", timeout=10)
    assert (response.status_code, response.text) == (405, "endpoint disabled, started without auth")


def test_17_admin_token_created_once_and_authorises_http_and_flight(influx_auth):
    token = admin_token(influx_auth)
    assert token.startswith("apiv3_")
    again = requests.post(f"{influx_auth.url}/api/v3/configure/token/admin", timeout=10)
    assert again.status_code == 409
    db = influx_auth.database()
    with client(influx_auth, db, token=token) as c:
        c.write(record="m f=1 1")
        assert c.query("SELECT f FROM m").to_pylist() == [{"f": 1.0}]


def test_18_health_is_plain_ok(influx):
    for path in ("/health", "/api/v1/health"):
        response = requests.get(influx.url + path, timeout=10)
        assert (response.status_code, response.headers["Content-Type"], response.text) == (
            200,
            "text/plain; charset=utf-8",
            "OK",
        )


def test_19_ping_reports_version_and_head_is_not_routed(influx):
    for method in ("GET", "POST"):
        response = requests.request(method, f"{influx.url}/ping", timeout=10)
        body = response.json()
        assert {"version", "revision", "process_id", "product_name"} <= set(body)
        assert response.headers["X-Influxdb-Build"] == "Core"
        assert response.headers["X-Influxdb-Version"] == body["version"]
    with client(influx, "x") as c:
        assert c.get_server_version() == body["version"]
    assert requests.head(f"{influx.url}/ping", timeout=10).status_code == 404


def test_20_cors_options_and_unknown_routes(influx):
    assert requests.get(f"{influx.url}/health", timeout=10).headers["Access-Control-Allow-Origin"] == "*"
    assert requests.options(f"{influx.url}/anything", timeout=10).status_code == 204
    missing = requests.get(f"{influx.url}/no/such/route", timeout=10)
    assert (missing.status_code, missing.text) == (404, "Not found")


def test_21_http_query_formats(influx):
    db = influx.database()
    write_lp(influx, db, "m,host=a f=1 1700000000000000000\nm,host=b g=2i 1700000001000000000")
    assert rows(influx, db, "SELECT host, f, g FROM m ORDER BY time") == [
        {"host": "a", "f": 1.0},
        {"host": "b", "g": 2},
    ]
    assert rows(influx, db, "SELECT * FROM m WHERE false") == []
    jsonl = sql(influx, db, "SELECT host FROM m ORDER BY time", format="jsonl")
    assert (
        jsonl.headers["Content-Type"] == "application/jsonl" and jsonl.text == '{"host":"a"}\n{"host":"b"}\n'
    )
    csv = sql(influx, db, "SELECT host, time FROM m ORDER BY time", format="csv")
    assert csv.headers["Content-Type"] == "text/csv"
    assert csv.text.splitlines() == ["host,time", "a,2023-11-14T22:13:20", "b,2023-11-14T22:13:21"]
    pretty = sql(influx, db, "SELECT host FROM m ORDER BY time", format="pretty")
    assert pretty.headers["Content-Type"] == "text/plain; charset=utf-8" and "| host |" in pretty.text
    parquet = sql(influx, db, "SELECT host FROM m ORDER BY time", format="parquet")
    assert (
        parquet.headers["Content-Type"] == "application/vnd.apache.parquet" and parquet.content[:4] == b"PAR1"
    )
    by_accept = requests.get(
        f"{influx.url}/api/v3/query_sql",
        params={"db": db, "q": "SELECT host FROM m LIMIT 1"},
        headers={"Accept": "text/csv"},
        timeout=10,
    )
    assert by_accept.headers["Content-Type"] == "text/csv"
    bad = requests.get(
        f"{influx.url}/api/v3/query_sql",
        params={"db": db, "q": "SELECT 1"},
        headers={"Accept": "application/xml"},
        timeout=10,
    )
    assert bad.status_code == 400 and "invalid mime type" in bad.text
    posted = requests.post(
        f"{influx.url}/api/v3/query_sql", json={"db": db, "q": "SELECT count(*) AS n FROM m"}, timeout=10
    )
    assert posted.json() == [{"n": 2}]


def test_22_http_query_unknown_database_and_table(influx):
    missing = sql(influx, "no_such_db_x", "SELECT 1")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "query error: database not found: no_such_db_x"},
    )
    db = influx.database()
    write_lp(influx, db, "m f=1 1")
    response = sql(influx, db, "SELECT * FROM invalid_table")
    assert response.status_code == 400 and "table 'public.iox.invalid_table' not found" in response.text


def test_23_database_create_list_delete(influx):
    db = influx.database()
    url = f"{influx.url}/api/v3/configure/database"
    assert requests.post(url, json={"db": db}, timeout=10).status_code == 200
    listed = requests.get(url, params={"format": "json"}, timeout=10).json()
    assert {"iox::database": db, "deleted": False} in listed
    assert requests.post(url, json={"db": db}, timeout=10).status_code == 409
    assert requests.post(url, data=json.dumps({"db": db + "x"}), timeout=10).status_code == 415
    write_lp(influx, db, "m f=1 1")
    assert requests.delete(url, params={"db": db}, timeout=10).status_code == 200
    names = [r["iox::database"] for r in requests.get(url, params={"format": "json"}, timeout=10).json()]
    assert db not in names
    assert requests.delete(url, params={"db": db}, timeout=10).status_code == 404
    write_lp(influx, db, "fresh f=1 1")
    assert "table 'public.iox.m' not found" in sql(influx, db, "SELECT * FROM m").text


def test_24_flight_json_ticket_sql_and_influxql(influx):
    db = influx.database()
    write_lp(influx, db, "m,host=a f=1 1")
    reader = flight_client(influx).do_get(ticket(db, "SELECT f FROM m"))
    assert reader.read_all().to_pylist() == [{"f": 1.0}]
    reader = flight_client(influx).do_get(ticket(db, "SELECT f FROM m", query_type="influxql"))
    assert reader.read_all().column_names == ["iox::measurement", "time", "f"]
    for raw in (
        b"not json",
        json.dumps({"database": db, "sql_query": "SELECT 1", "query_type": "SQL"}).encode(),
    ):
        with pytest.raises(pa.ArrowInvalid):
            flight_client(influx).do_get(fl.Ticket(raw)).read_all()


def test_25_flight_auth_reads_authorization_metadata(influx_auth):
    token = admin_token(influx_auth)
    db = influx_auth.database()
    with client(influx_auth, db, token=token) as c:
        c.write(record="m f=1 1")
    for headers in (
        [],
        [(b"authorization", b"Bearer wrong")],
        [(b"authorization", f"bearer {token}".encode())],
    ):
        with pytest.raises(fl.FlightUnauthenticatedError):
            flight_client(influx_auth).do_get(
                ticket(db, "SELECT 1"), fl.FlightCallOptions(headers=headers)
            ).read_all()
    with pytest.raises(InfluxDB3ClientQueryError), client(influx_auth, db, token="wrong") as c:
        c.query("SELECT f FROM m")
    options = fl.FlightCallOptions(headers=[(b"authorization", f"Token {token}".encode())])
    assert flight_client(influx_auth).do_get(ticket(db, "SELECT f FROM m"), options).read_all().num_rows == 1


def test_26_flight_schema_first_and_hydrated_types(influx):
    db = influx.database()
    write_lp(influx, db, 'm,host=a,dc=x f=1,i=2i,u=3u,s="t",b=true 1')
    empty = client(influx, db).query("SELECT * FROM m WHERE false")
    assert empty.num_rows == 0 and empty.column_names == ["b", "dc", "f", "host", "i", "s", "time", "u"]
    schema = client(influx, db).query("SELECT * FROM m").schema
    assert schema.field("host").type == pa.string() and schema.field("dc").type == pa.string()
    time_field = schema.field("time")
    assert time_field.type == pa.timestamp("ns") and not time_field.nullable


def test_27_pandas_mode_string_tags_and_datetime64(influx):
    db = influx.database()
    write_lp(influx, db, "m,host=a f=1 1\nm,host=b f=2 2")
    frame = client(influx, db).query("SELECT host, f, time FROM m", mode="pandas")
    assert not isinstance(frame["host"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_string_dtype(frame["host"]) and str(frame["time"].dtype) == "datetime64[ns]"


def test_28_query_parameters_bind_in_sql_and_influxql(influx):
    db = influx.database()
    write_lp(influx, db, "m,host=a f=1 1\nm,host=b f=2 2")
    with client(influx, db) as c:
        assert c.query("SELECT f FROM m WHERE host = $h", query_parameters={"h": "a"}).to_pylist() == [
            {"f": 1.0}
        ]
        influxql = c.query(
            "SELECT f FROM m WHERE host = $h", language="influxql", query_parameters={"h": "b"}
        )
        assert influxql.column("f").to_pylist() == [2.0]
        with pytest.raises(InfluxDB3ClientQueryError):
            c.query("SELECT f FROM m WHERE host = $missing")


def test_29_influxql_columns_show_measurements_and_show_databases(influx):
    db = influx.database()
    write_lp(influx, db, "cpu,host=a usage=1,idle=2 1\nmem,host=a used=3 1")
    with client(influx, db) as c:
        star = c.query("SELECT * FROM cpu", language="influxql")
        assert star.column_names == ["iox::measurement", "time", "host", "idle", "usage"]
        assert star.column("iox::measurement").to_pylist() == ["cpu"]
        shown = c.query("SHOW MEASUREMENTS", language="influxql").to_pylist()
        assert shown == [
            {"iox::measurement": "measurements", "name": "cpu"},
            {"iox::measurement": "measurements", "name": "mem"},
        ]
        with pytest.raises(
            InfluxDB3ClientQueryError, match="This feature is not implemented: SHOW DATABASES"
        ):
            c.query("SHOW DATABASES", language="influxql")


def test_30_flight_planning_errors_and_unknown_database(influx):
    db = influx.database()
    write_lp(influx, db, "m f=1 1")
    with pytest.raises(pa.ArrowInvalid, match="table 'public.iox.nope' not found"):
        flight_client(influx).do_get(ticket(db, "SELECT * FROM nope")).read_all()
    with pytest.raises(fl.FlightInternalError, match="database not found: nowhere_db"):
        flight_client(influx).do_get(ticket("nowhere_db", "SELECT 1")).read_all()


@pytest.mark.parametrize("call", ["list_flights", "list_actions", "get_schema"])
def test_31_other_flight_rpcs_are_unimplemented(influx, call):
    flight = flight_client(influx)
    with pytest.raises(pa.ArrowNotImplementedError):
        if call == "get_schema":
            flight.get_schema(fl.FlightDescriptor.for_command(b"x"))
        else:
            list(getattr(flight, call)())


def test_31b_get_flight_info_needs_a_database_header(influx):
    with pytest.raises(pa.ArrowInvalid, match="no 'database' header"):
        flight_client(influx).get_flight_info(fl.FlightDescriptor.for_command(b"x"))


def test_32_acknowledged_write_is_visible_at_once_also_with_no_sync(influx):
    db = influx.database()
    for n in range(5):
        assert write_lp(influx, db, f"m f={n} {n + 1}", no_sync="true").status_code == 204
        assert rows(influx, db, "SELECT count(*) AS n FROM m") == [{"n": n + 1}]


def test_33_ready_means_logged_startup_and_health_answers(influx, influx_auth):
    # The fixtures waited with sandbox.deps.influxdb3.InfluxReadyWait: log line first, then /health.
    assert requests.get(f"{influx.url}/health", timeout=10).status_code == 200
    assert requests.get(f"{influx_auth.url}/health", timeout=10).status_code in (200, 401)
