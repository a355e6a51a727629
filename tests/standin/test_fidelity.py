"""Round-2 fidelity points (issue 14): one test per closed divergence, each naming the real
server's source file or snapshot it follows (repository influxdata/influxdb). Like
test_conformance.py, these run against the stand-in's container unless INFLUXDB3_CONFORMANCE_URL /
INFLUXDB3_CONFORMANCE_AUTH_URL point at a real InfluxDB 3 Core (the nightly fidelity job), so the
same assertions measure both servers.
"""

from __future__ import annotations

import gzip
import json
import re

import pyarrow as pa
import pytest
import requests
from influxdb_client_3 import InfluxDBClient3

from tests.standin.test_conformance import flight_client, sql, ticket, write_lp
from tests.standin.tokens import TOKENS, admin_token

pytestmark = pytest.mark.docker

# The cpu fixture of core/iox_query's OneMeasurementTwoSeries setup, as gapfill.sql uses it.
MINUTE = 60 * 10**9
T0 = 957528000 * 10**9  # 2000-05-05T12:00:00Z
CPU = "\n".join(
    [
        f"cpu,region=a idle=70.0,user=23.2 {T0 + 20 * MINUTE}",
        f"cpu,region=a user=21.0 {T0 + 40 * MINUTE}",
        f"cpu,region=b user=25.2 {T0 + 31 * MINUTE}",
        f"cpu,region=b idle=60.0,user=28.9 {T0 + 39 * MINUTE}",
    ]
)
BETWEEN = "time between timestamp '2000-05-05T12:{}:00Z' and timestamp '2000-05-05T12:{}:00Z'"


@pytest.fixture(scope="module")
def cpu_db(influx) -> str:
    db = influx.database()
    assert write_lp(influx, db, CPU).status_code == 204
    return db


def ok_rows(influx, db: str, q: str) -> list[dict]:
    response = sql(influx, db, q)
    assert response.status_code == 200, response.text
    return response.json()


# -- 1. IOx SQL functions (core/query_functions) -------------------------------------------------
def test_date_bin_gapfill_gives_a_row_per_bucket(influx, cpu_db):
    """influxdb_iox/tests/query_tests/cases/in/gapfill.sql(.expected): "Gap filling with no other
    group keys"; count() of an empty bucket is 0 (handle_gapfill.rs default_return_value_for_aggr_fn)."""
    got = ok_rows(
        influx,
        cpu_db,
        "SELECT date_bin_gapfill(interval '10 minute', time) as minute, count(cpu.user) from cpu "
        f"where {BETWEEN.format('00', '59')} group by minute",
    )
    assert [(r["minute"][11:16], r["count(cpu.user)"]) for r in got] == [
        ("12:00", 0),
        ("12:10", 0),
        ("12:20", 1),
        ("12:30", 2),
        ("12:40", 1),
        ("12:50", 0),
    ]


def test_locf_carries_the_last_value_forward_per_series(influx, cpu_db):
    """gapfill.sql.expected: `locf(min(cpu.user))` by region over 5-minute buckets."""
    got = ok_rows(
        influx,
        cpu_db,
        "SELECT region, date_bin_gapfill(interval '5 minute', time) as minute, locf(min(cpu.user)) "
        f"from cpu where {BETWEEN.format('15', '59')} group by region, minute",
    )
    values = [(r["region"], r["minute"][11:16], r.get("locf(min(cpu.user))")) for r in got]
    assert values[:6] == [
        ("a", "12:15", None),
        ("a", "12:20", 23.2),
        ("a", "12:25", 23.2),
        ("a", "12:30", 23.2),
        ("a", "12:35", 23.2),
        ("a", "12:40", 21.0),
    ]
    assert values[9:14] == [
        ("b", "12:15", None),
        ("b", "12:20", None),
        ("b", "12:25", None),
        ("b", "12:30", 25.2),
        ("b", "12:35", 28.9),
    ]
    assert len(values) == 18


def test_interpolate_is_linear_between_known_buckets(influx, cpu_db):
    """gapfill.sql.expected: `interpolate(min(cpu.idle))`, `interpolate(min(cpu."user"))`."""
    got = ok_rows(
        influx,
        cpu_db,
        "SELECT date_bin_gapfill(interval '4 minutes', time) as four_minute, interpolate(min(cpu.idle)), "
        'interpolate(min(cpu."user")), count(*) from cpu '
        f"where {BETWEEN.format('19', '40')} group by four_minute",
    )
    idle = [r.get("interpolate(min(cpu.idle))") for r in got]
    user = [r.get("interpolate(min(cpu.user))") for r in got]
    assert idle == [None, 70.0, 67.5, 65.0, 62.5, 60.0, None]
    assert user == [None, 23.2, 24.2, 25.2, 27.05, 28.9, 21.0]


@pytest.mark.parametrize(
    "where,missing",
    [
        ("", "both upper and lower time bounds"),
        ("where time >= timestamp '2000-05-05T12:00:00Z'", "upper time bound"),
        ("where time < timestamp '2000-05-05T13:00:00Z'", "lower time bound"),
    ],
)
def test_gapfill_without_time_bounds_is_a_planning_error(influx, cpu_db, where, missing):
    """gapfill.sql.expected "Missing time bounds"; handle_gapfill.rs validate_time_range."""
    response = sql(
        influx,
        cpu_db,
        f"SELECT region, date_bin_gapfill(interval '10 minute', time) as minute, locf(avg(cpu.user)) "
        f"from cpu {where} group by region, minute",
    )
    assert response.status_code == 400
    assert f"gap-filling query is missing {missing}" in response.text


def test_gap_filling_inside_a_subquery_and_a_cte(influx, cpu_db):
    """handle_gapfill.rs rewrites any Aggregate that groups by date_bin_gapfill, wherever it is
    in the plan: a subquery or a CTE body fills the same way; count's default 0 also when aliased."""
    inner = (
        "SELECT date_bin_gapfill(INTERVAL '20 minutes', time) AS _time, count(user) AS n, "
        "locf(avg(user)) AS u FROM cpu "
        "WHERE time >= '2000-05-05T12:00:00Z' AND time < '2000-05-05T13:00:00Z' GROUP BY 1"
    )
    expected = [("12:00", 0, None), ("12:20", 3, 25.766667), ("12:40", 1, 21.0)]
    for query in (
        f"SELECT * FROM ({inner}) AS g ORDER BY _time",
        f"WITH g AS ({inner}) SELECT * FROM g ORDER BY _time",
    ):
        got = ok_rows(influx, cpu_db, query)
        assert [(r["_time"][11:16], r["n"], r.get("u") and round(r["u"], 6)) for r in got] == expected


def test_gap_filling_with_query_parameters(influx, cpu_db):
    """Parameters are bound before the analyzer runs (query_executor: params into the plan), so
    `$start`/`$stop` bound the gap fill like literals; influxdb3-python sends them this way."""
    response = requests.post(
        f"{influx.url}/api/v3/query_sql",
        json={
            "db": cpu_db,
            "q": "SELECT date_bin_gapfill(INTERVAL '20 minutes', time) AS t, count(user) AS n FROM cpu "
            "WHERE time >= $start AND time < $stop AND region = $region GROUP BY 1 ORDER BY 1",
            "params": {"start": "2000-05-05T12:00:00Z", "stop": "2000-05-05T13:00:00Z", "region": "a"},
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert [(r["t"][11:16], r["n"]) for r in response.json()] == [("12:00", 0), ("12:20", 1), ("12:40", 1)]


def test_locf_outside_a_gap_filling_query_is_refused(influx, cpu_db):
    """handle_gapfill.rs check_node: locf may only be used in the SELECT list of a gap-filling query."""
    response = sql(influx, cpu_db, "SELECT locf(user) FROM cpu")
    assert response.status_code == 400
    assert "locf may only be used in the SELECT list of a gap-filling query" in response.text


def test_selectors_return_value_and_time(influx, cpu_db):
    """core/query_functions/src/selectors.rs (+ selectors/internal.rs): a struct {value, time};
    nulls skipped; `selector_last(col, time)['value']` reads one field."""
    got = ok_rows(
        influx,
        cpu_db,
        "SELECT region, selector_last(user, time)['value'] AS last_user, selector_first(idle, time) AS first_idle, "
        "selector_max(user, time)['time'] AS max_at, selector_min(user, time)['value'] AS min_user "
        "FROM cpu GROUP BY region ORDER BY region",
    )
    assert got == [
        {
            "region": "a",
            "last_user": 21.0,
            "first_idle": {"value": 70.0, "time": "2000-05-05T12:20:00"},
            "max_at": "2000-05-05T12:20:00",
            "min_user": 21.0,
        },
        {
            "region": "b",
            "last_user": 28.9,
            "first_idle": {"value": 60.0, "time": "2000-05-05T12:39:00"},
            "max_at": "2000-05-05T12:39:00",
            "min_user": 25.2,
        },
    ]


def test_selector_column_name_when_unaliased(influx, cpu_db):
    """selectors.rs module docs: `selector_last(x, time)['value']` is named `...[value]`."""
    got = ok_rows(influx, cpu_db, "SELECT selector_last(user, time)['value'] FROM cpu")
    assert got == [{"selector_last(cpu.user,cpu.time)[value]": 21.0}]


def test_tz_and_date_bin_wallclock(influx, cpu_db):
    """core/query_functions/src/tz.rs and date_bin_wallclock.rs: tz() keeps the instant in a
    zone; date_bin_wallclock bins on that zone's wall clock."""
    got = ok_rows(
        influx,
        cpu_db,
        "SELECT arrow_typeof(tz(time, 'Europe/Paris')) AS t, "
        "date_bin_wallclock(INTERVAL '1 day', tz(time, 'America/New_York')) AS d FROM cpu LIMIT 1",
    )
    assert got[0]["t"].startswith("Timestamp(") and "Europe/Paris" in got[0]["t"]
    table = InfluxDBClient3(host=influx.url, token="t", database=cpu_db).query(
        "SELECT date_bin_wallclock(INTERVAL '1 day', tz(time, 'America/New_York')) AS d FROM cpu LIMIT 1"
    )
    day = table.column("d")[0].as_py()
    assert (day.hour, day.minute, str(day.tzinfo)) == (0, 0, "America/New_York")


# -- 2. tag column types -----------------------------------------------------------------------
def test_tags_are_dictionaries_in_sql_but_utf8_over_flight(influx, cpu_db):
    """influxdb3_catalog / schema: tags are Dictionary(Int32, Utf8); the Flight encoder hydrates
    dictionaries (conformance point 26 stands)."""
    typed = ok_rows(influx, cpu_db, "SELECT arrow_typeof(region) AS t FROM cpu LIMIT 1")
    assert typed == [{"t": "Dictionary(Int32, Utf8)"}]
    columns = ok_rows(
        influx,
        cpu_db,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'cpu' AND column_name = 'region'",
    )
    assert columns == [{"column_name": "region", "data_type": "Dictionary(Int32, Utf8)"}]
    table = InfluxDBClient3(host=influx.url, token="t", database=cpu_db).query("SELECT region FROM cpu")
    assert table.schema.field("region").type == pa.string()


# -- 3. request handling and error shapes (influxdb3_server/src/http.rs) ---------------------------
def test_post_query_body_is_json_whatever_the_content_type(influx, cpu_db):
    """extract_query_request: POST bodies go through serde_json::from_slice, no Content-Type check."""
    for headers in ({}, {"Content-Type": "text/plain"}):
        response = requests.post(
            f"{influx.url}/api/v3/query_sql",
            data=json.dumps({"db": cpu_db, "q": "SELECT count(*) AS n FROM cpu"}),
            headers=headers,
            timeout=10,
        )
        assert (response.status_code, response.json()) == (200, [{"n": 4}])


def test_tag_and_field_of_the_same_name_reject_the_line(influx):
    """influxdb3_write/src/write_buffer/validator.rs: the column is a tag, the field's type clashes."""
    db = influx.database()
    response = write_lp(influx, db, "m,a=x a=1 1\nm,a=y b=2 2")
    assert response.status_code == 400
    errors = response.json()["data"]
    assert [e["line_number"] for e in errors] == [1]
    assert "'a'" in errors[0]["error_message"]
    assert ok_rows_after_write(influx, db) == [{"a": "y", "b": 2.0}]


def ok_rows_after_write(influx, db: str) -> list[dict]:
    return requests.get(
        f"{influx.url}/api/v3/query_sql", params={"db": db, "q": "SELECT a, b FROM m"}, timeout=10
    ).json()


def test_string_field_over_64_kib_is_rejected(influx):
    """validator.rs: string field values are limited to 64 KiB."""
    db = influx.database()
    big = "x" * (64 * 1024 + 1)
    response = write_lp(influx, db, f'm s="{big}" 1\nm s="ok" 2')
    assert response.status_code == 400
    assert [e["line_number"] for e in response.json()["data"]] == [1]


def test_newline_inside_a_quoted_string_stays_in_the_line(influx):
    """core/influxdb_line_protocol split_lines: newlines inside double quotes do not end a line."""
    db = influx.database()
    assert write_lp(influx, db, 'm s="two\nlines" 1\nm s="next" 2').status_code == 204
    got = requests.get(
        f"{influx.url}/api/v3/query_sql", params={"db": db, "q": "SELECT s FROM m ORDER BY time"}, timeout=10
    ).json()
    assert got == [{"s": "two\nlines"}, {"s": "next"}]


@pytest.mark.parametrize("param", ["accept_partial", "no_sync"])
def test_write_flags_must_be_serde_booleans(influx, param):
    """WriteParams: `accept_partial`/`no_sync` are serde bools; anything else is a 400 serde error."""
    db = influx.database()
    for bad in ("yes", "True", "1"):
        response = write_lp(influx, db, "m f=1 1", **{param: bad})
        assert response.status_code == 400 and response.text.startswith("serde error"), response.text
    assert write_lp(influx, db, "m f=1 1", **{param: "false"}).status_code == 204


def test_content_encoding_must_be_exactly_gzip(influx):
    """read_body: `None | Some("identity")` plain, `Some("gzip")` gunzip, anything else 400."""
    db = influx.database()
    body = gzip.compress(b"m f=1 1")
    assert write_lp(influx, db, body, {"Content-Encoding": "gzip"}).status_code == 204
    for value in ("GZIP", "Gzip"):
        response = write_lp(influx, db, body, {"Content-Encoding": value})
        assert (response.status_code, response.text) == (400, f"unacceptable content-encoding: {value}")


def test_body_that_is_not_utf8(influx):
    """Error::NonUtf8Body (`body content is not valid utf8: <Utf8Error>`): the v3 write falls to
    the mapping's default 500; the v2 API answers 400 `invalid`."""
    db = influx.database()
    response = write_lp(influx, db, b"m f=1\xff")
    assert (response.status_code, response.text) == (
        500,
        "body content is not valid utf8: invalid utf-8 sequence of 1 bytes from index 5",
    )
    v2 = requests.post(f"{influx.url}/api/v2/write", params={"bucket": db}, data=b"m f=1\xff", timeout=10)
    assert v2.status_code == 400 and v2.json()["code"] == "invalid"


def test_auth_comes_before_routing(influx_auth):
    """perform_routing: authenticate_request runs before the route match, so an unknown path
    without a token is 401 and with one 404."""
    token = admin_token(influx_auth)
    assert requests.get(f"{influx_auth.url}/no/such/path", timeout=10).status_code == 401
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{influx_auth.url}/no/such/path", headers=headers, timeout=10).status_code == 404


def test_query_error_statuses(influx, cpu_db):
    """http.rs query error mapping (and its tests `test_datafusion_plan_error_maps_to_bad_request`):
    planning 400 with DataFusion's text, execution 500, NotImplemented 405."""
    planning = sql(influx, cpu_db, "SELECT nope FROM cpu")
    assert planning.status_code == 400 and planning.text.startswith("Schema error")
    running = sql(influx, cpu_db, "SELECT CAST(region AS INT) FROM cpu")
    assert running.status_code == 500 and "Cast error" in running.text
    unsupported = requests.get(
        f"{influx.url}/api/v3/query_influxql", params={"db": cpu_db, "q": "DELETE FROM cpu"}, timeout=10
    )
    assert unsupported.status_code == 405 and "This feature is not implemented" in unsupported.text


def test_flight_error_codes(influx, cpu_db):
    """datafusion_error_to_tonic_code (core/service_common/src/error.rs): execution, Arrow and
    not-implemented errors are INVALID_ARGUMENT over Flight, so clients see the message."""
    flight = flight_client(influx)
    with pytest.raises(pa.ArrowInvalid, match="Cast error"):
        flight.do_get(ticket(cpu_db, "SELECT CAST(region AS INT) FROM cpu")).read_all()
    with pytest.raises(pa.ArrowInvalid, match="This feature is not implemented: SHOW DATABASES"):
        flight.do_get(ticket(cpu_db, "SHOW DATABASES", query_type="influxql")).read_all()


def test_json_error_bodies_are_compact(influx):
    """serde_json::to_string writes no spaces: `{"error":"..."}`."""
    response = write_lp(influx, "_bad", "m f=1 1")
    assert response.text == '{"error":"db name did not start with a number or letter"}'
    partial = write_lp(influx, influx.database(), "m f=1 1\nm f=")
    assert partial.text.startswith('{"error":"partial write of line protocol occurred","data":[{')


def test_catalog_and_token_errors_are_plain_text(influx, influx_auth):
    """CatalogError::into_response: NotFound 404 with the error's text (no JSON);
    TokenNameAlreadyExists 409 plain text."""
    response = requests.delete(
        f"{influx.url}/api/v3/configure/database", params={"db": "never_created_db"}, timeout=10
    )
    assert response.status_code == 404 and not response.text.startswith("{")
    admin_token(influx_auth)
    again = requests.post(f"{influx_auth.url}/api/v3/configure/token/admin", timeout=10)
    assert (again.status_code, again.text) == (409, "token name already exists, _admin")


@pytest.mark.parametrize(
    "name,text",
    [
        ("", "db name cannot be empty"),
        ("x" * 65, "db name too long: max 64"),
        ("_a", "db name did not start with a number or letter"),
        ("a b", "invalid character in database or rp name"),
        ("a/b/c", "db name with invalid retention policy"),
        ("a/", "db name with invalid retention policy"),
    ],
)
def test_database_name_error_texts(influx, name, text):
    """validate_db_name / ValidateDbNameError (http.rs): 64 bytes at most, these texts, 400 JSON."""
    response = requests.post(f"{influx.url}/api/v3/configure/database", json={"db": name}, timeout=10)
    assert response.status_code == 400 and response.json()["error"].startswith(text), response.text


# -- 4. InfluxQL (core/iox_query_influxql, http.rs query_influxql_inner) ----------------------------
def influxql(influx, db: str | None, q: str) -> requests.Response:
    params = {"q": q} | ({"db": db} if db else {})
    return requests.get(f"{influx.url}/api/v3/query_influxql", params=params, timeout=10)


def test_show_tag_values_with_key(influx, cpu_db):
    """iox_query_influxql show_tag_values: rows `iox::measurement, key, value`."""
    response = influxql(influx, cpu_db, 'SHOW TAG VALUES FROM cpu WITH KEY = "region"')
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"iox::measurement": "cpu", "key": "region", "value": "a"},
        {"iox::measurement": "cpu", "key": "region", "value": "b"},
    ]
    assert influxql(influx, cpu_db, "SHOW TAG VALUES WITH KEY IN (region)").json() == response.json()


def test_group_by_time_without_lower_bound_starts_at_the_first_point(influx):
    """iox_query_influxql planner: with no lower time bound the windows start at the first point."""
    db = influx.database()
    now = 1_700_000_000 * 10**9
    write_lp(influx, db, f"m v=1 {now}\nm v=3 {now + 2 * 10**9}")
    response = influxql(
        influx, db, f"SELECT mean(v) FROM m WHERE time <= {now + 2 * 10**9} GROUP BY time(1s)"
    )
    assert response.status_code == 200, response.text
    assert [r.get("mean") for r in response.json()] == [1.0, None, 3.0]


@pytest.mark.parametrize(
    "fill,expected",
    [
        ("null", [1.0, None, None, 4.0]),
        ("previous", [1.0, 1.0, 1.0, 4.0]),
        ("linear", [1.0, 2.0, 3.0, 4.0]),
        ("0", [1.0, 0.0, 0.0, 4.0]),
    ],
)
def test_group_by_time_fill_modes(influx, fill, expected):
    """iox_query_influxql planner (plan/planner.rs): fill(previous) is LOCF, fill(linear) is
    interpolate, fill(<n>) a constant, over IOx's gap filling."""
    db = influx.database()
    second = 10**9
    write_lp(influx, db, f"m,h=a v=1 {100 * second}\nm,h=a v=4 {103 * second}", precision="nanosecond")
    response = influxql(
        influx,
        db,
        f"SELECT mean(v) FROM m WHERE time >= {100 * second} AND time < {104 * second} "
        f"GROUP BY time(1s), h fill({fill})",
    )
    assert response.status_code == 200, response.text
    assert [r.get("mean") for r in response.json()] == expected


def test_raw_select_group_by_tag_shows_the_tag(influx, cpu_db):
    """InfluxQL raw points GROUP BY a tag: the tag column follows `time`, rows per series."""
    response = influxql(influx, cpu_db, "SELECT user FROM cpu GROUP BY region")
    assert response.status_code == 200, response.text
    rows = response.json()
    assert list(rows[0]) == ["iox::measurement", "time", "region", "user"]
    assert [r["region"] for r in rows] == ["a", "a", "b", "b"]


def test_show_measurements_with_clauses(influx):
    """The statements Grafana's InfluxQL editor sends: SHOW MEASUREMENTS WITH MEASUREMENT / LIMIT
    (influxdb_influxql_parser show_measurements; iox_query_influxql planner)."""
    db = influx.database()
    write_lp(influx, db, "cpu f=1 1\ncpu2 f=1 1\nmem f=1 1")

    def names(q: str) -> list[str]:
        return [r["name"] for r in influxql(influx, db, q).json()]

    assert names("SHOW MEASUREMENTS LIMIT 2") == ["cpu", "cpu2"]
    assert names("SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CPU/ LIMIT 100") == ["cpu", "cpu2"]
    assert names("SHOW MEASUREMENTS OFFSET 1") == ["cpu2", "mem"]


def test_show_databases_and_retention_policies_over_http(influx, cpu_db):
    """query_influxql_inner answers SHOW DATABASES / SHOW RETENTION POLICIES itself."""
    databases = influxql(influx, None, "SHOW DATABASES")
    assert databases.status_code == 200
    assert {"iox::measurement": "databases", "name": cpu_db} in databases.json()
    policies = influxql(influx, cpu_db, "SHOW RETENTION POLICIES")
    assert policies.status_code == 200
    assert policies.json()[0]["name"] == "autogen"


def test_show_retention_policies_rows_name_the_database(influx):
    """`QueryExecutorImpl::show_retention_policies` (influxdb3_server/src/query_executor): over
    /api/v3/query_influxql a row per database, `iox::database` and `name` (the part after '/',
    else `autogen`), `duration` from `retention_time_ns()`, None in Core, so absent from JSON."""
    db = influx.database()
    assert write_lp(influx, db, "m v=1 1").status_code == 204
    for on in (f"SHOW RETENTION POLICIES ON {db}", "SHOW RETENTION POLICIES"):
        got = influxql(influx, db, on)
        assert got.status_code == 200, got.text
        assert {"iox::database": db, "name": "autogen"} in got.json()


def test_v1_show_retention_policies_is_the_v1_shape(influx):
    """`ShowRetentionPolicies` for the v1 /query API (influxdb3_server/src/query_executor, test
    `test_show_retention_policies`): series `retention_policies`, columns name/duration/default,
    one row naming the database, its retention printed as v1 prints durations."""
    db = influx.database()
    created = requests.post(
        f"{influx.url}/api/v3/configure/database", json={"db": db, "retention_period": "7d"}, timeout=10
    )
    assert created.status_code == 200, created.text
    got = requests.get(f"{influx.url}/query", params={"db": db, "q": "SHOW RETENTION POLICIES"}, timeout=10)
    assert got.status_code == 200
    assert got.json()["results"][0]["series"] == [
        {
            "name": "retention_policies",
            "columns": ["name", "duration", "default"],
            "values": [[db, "168h0m0s", True]],
        }
    ]


@pytest.mark.parametrize(
    "statement", ["SHOW RETENTION POLICIES", "SELECT user FROM cpu", "SHOW MEASUREMENTS"]
)
def test_v1_statement_without_a_database_is_the_real_error(influx, cpu_db, statement):
    """core/iox_v1_query_api/src/handler.rs: each parsed statement but SHOW DATABASES resolves
    its database from `db` or the statement (`resolve_db`); with neither, the statement's result
    is `Error::InfluxqlNoDatabase` (error.rs), a 200 carrying the text. Named, it runs."""
    url = f"{influx.url}/query"
    got = requests.get(url, params={"q": statement}, timeout=10)
    assert got.status_code == 200, got.text
    assert got.json() == {
        "results": [
            {
                "statement_id": 0,
                "error": "must specify a 'db' parameter, or provide the database in the InfluxQL query",
            }
        ]
    }
    named = requests.get(url, params={"q": f"SHOW RETENTION POLICIES ON {cpu_db}"}, timeout=10)
    assert named.json()["results"][0]["series"][0]["values"] == [[cpu_db, "0s", True]]
    parse_error = requests.get(url, params={"q": "SELECT"}, timeout=10).json()["results"][0]
    assert "error" in parse_error and "must specify" not in parse_error["error"]


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        ("CREATE DATABASE other", "CREATE DATABASE"),
        ("DROP MEASUREMENT cpu", "DROP MEASUREMENT"),
        ("DELETE FROM cpu", "DELETE"),
    ],
)
def test_unplanned_statements_name_themselves_as_the_planner_does(influx, cpu_db, statement, name):
    """`InfluxQLToLogicalPlan::statement_to_plan` (core/iox_query_influxql/src/plan/planner.rs):
    `not_implemented("CREATE DATABASE" | "DELETE" | "DROP MEASUREMENT")`, a 405 over HTTP."""
    response = influxql(influx, cpu_db, statement)
    assert response.status_code == 405
    assert response.text == f"This feature is not implemented: {name}"


@pytest.mark.parametrize(
    ("statement", "plan_types"),
    [
        ("EXPLAIN SELECT user FROM cpu WHERE region = 'a'", ["logical_plan", "physical_plan"]),
        ("EXPLAIN ANALYZE SELECT mean(user) FROM cpu GROUP BY region", ["Plan with Metrics"]),
    ],
)
def test_influxql_explain_answers_a_plan(influx, cpu_db, statement, plan_types):
    """`explain_statement_to_plan` (core/iox_query_influxql/src/plan/planner.rs): EXPLAIN
    [ANALYZE] [VERBOSE] plans the SELECT and answers DataFusion's explain table
    (`LogicalPlan::explain_schema`: `plan_type`, `plan`), not a 405. The plan text itself is the
    stand-in's (its SQL translation's plan), so only the shape is compared."""
    response = influxql(influx, cpu_db, statement)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [row["plan_type"] for row in rows] == plan_types
    assert all(isinstance(row["plan"], str) and row["plan"] for row in rows)


def test_several_statements_get_the_real_message(influx, cpu_db):
    """http.rs Error::InfluxqlSingleStatement."""
    response = influxql(influx, cpu_db, "SELECT * FROM cpu; SELECT * FROM cpu")
    assert response.status_code == 400
    assert response.text == "must provide only one InfluxQl statement per query"


def test_unknown_show_is_the_real_parse_error(influx, cpu_db):
    """http tests `test_influxql_rewrite_error_maps_to_client_error`: `show tags`."""
    response = influxql(influx, cpu_db, "show tags")
    assert response.status_code == 400
    assert response.text == (
        "error in InfluxQL statement: parsing error: invalid SHOW statement, expected DATABASES, "
        "FIELD KEYS, MEASUREMENTS, TAG KEYS, TAG VALUES, or RETENTION POLICIES following SHOW at pos 5"
    )


def test_v1_query_endpoint(influx, cpu_db):
    """API_V1_QUERY routed to V1HttpHandler: GET and POST, `db`, `epoch`, `chunked`."""
    url = f"{influx.url}/query"
    got = requests.get(url, params={"db": cpu_db, "q": "SELECT user FROM cpu WHERE region = 'a'"}, timeout=10)
    assert got.status_code == 200
    assert got.json() == {
        "results": [
            {
                "statement_id": 0,
                "series": [
                    {
                        "name": "cpu",
                        "columns": ["time", "user"],
                        "values": [["2000-05-05T12:20:00Z", 23.2], ["2000-05-05T12:40:00Z", 21.0]],
                    }
                ],
            }
        ]
    }
    epoch = requests.post(
        url, data={"db": cpu_db, "q": "SELECT user FROM cpu WHERE region = 'a'", "epoch": "s"}, timeout=10
    ).json()
    assert epoch["results"][0]["series"][0]["values"][0] == [957529200, 23.2]
    chunked = requests.get(
        url, params={"db": cpu_db, "q": "SHOW MEASUREMENTS", "chunked": "true"}, timeout=10
    )
    first = json.loads(chunked.text.splitlines()[0])
    assert first["results"][0]["series"][0]["values"] == [["cpu"]]


def test_v1_chunked_splits_series_by_chunk_size(influx, cpu_db):
    """core/iox_v1_query_api/src/response/chunked.rs (ChunkedResultStream) and its snapshot
    `chunked__tests__many_statements`: a document per chunk of at most `chunk_size` rows of one
    series; `"partial":true` on the series it cuts and on every chunk but the statement's last."""
    got = requests.get(
        f"{influx.url}/query",
        params={
            "db": cpu_db,
            "q": "SELECT user FROM cpu GROUP BY region",
            "chunked": "true",
            "chunk_size": "1",
            "epoch": "s",
        },
        timeout=10,
    )
    assert got.status_code == 200
    documents = [json.loads(line) for line in got.text.splitlines()]
    chunks = [doc["results"][0] for doc in documents]
    assert [c.get("partial") for c in chunks] == [True, True, True, None]
    assert [c["series"][0].get("partial") for c in chunks] == [True, None, True, None]
    assert [(c["series"][0]["tags"], c["series"][0]["values"]) for c in chunks] == [
        ({"region": "a"}, [[957529200, 23.2]]),
        ({"region": "a"}, [[957530400, 21.0]]),
        ({"region": "b"}, [[957529860, 25.2]]),
        ({"region": "b"}, [[957530340, 28.9]]),
    ]
    whole = requests.get(
        f"{influx.url}/query",
        params={"db": cpu_db, "q": "SELECT user FROM cpu GROUP BY region", "chunked": "true"},
        timeout=10,
    )
    # The default chunk size (10,000 rows) cuts no series here: one document per series.
    assert [
        len(json.loads(line)["results"][0]["series"][0]["values"]) for line in whole.text.splitlines()
    ] == [
        2,
        2,
    ]


def test_v1_chunked_statement_without_rows_sends_nothing(influx, cpu_db):
    """core/iox_v1_query_api/src/response/chunked.rs: ChunkedResultStream ends without a result
    when the series stream yields no chunk (stream.rs `test_no_batch`; a batch of no rows has no
    partition), so a chunked statement with no rows adds no document: the body is empty. An
    error is still the statement's result; unchunked, the empty statement is `{"statement_id":0}`."""
    url = f"{influx.url}/query"
    empty = {"db": cpu_db, "q": "SELECT user FROM cpu WHERE region = 'nowhere'"}
    got = requests.get(url, params={**empty, "chunked": "true"}, timeout=10)
    assert got.status_code == 200
    assert got.text == ""
    assert requests.get(url, params=empty, timeout=10).json() == {"results": [{"statement_id": 0}]}
    failed = requests.get(url, params={"q": "SELECT user FROM cpu", "chunked": "true"}, timeout=10)
    assert [json.loads(line)["results"][0].keys() for line in failed.text.splitlines()] == [
        {"statement_id", "error"}
    ]


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        ({"chunk_size": "ten"}, "invalid digit found in string"),
        ({"chunk_size": "-1"}, "invalid digit found in string"),
        ({"chunk_size": ""}, "cannot parse integer from empty string"),
        ({"chunk_size": "18446744073709551616"}, "number too large to fit in target type"),
        ({"chunked": "TRUE"}, "provided string was not `true` or `false`"),
        ({"pretty": "1"}, "provided string was not `true` or `false`"),
    ],
)
def test_v1_typed_parameters_are_serde_errors(influx, cpu_db, extra, text):
    """core/iox_v1_query_api/src/lib.rs `QueryParams::from_request_query_string`: serde_urlencoded
    reads `chunk_size` as usize and `chunked`/`pretty` as bool; a value that does not parse is
    `Error::SerdeUrlDecoding` (error.rs: `error decoding params from url: <parse error>`), an
    `HttpError::Invalid`, which influxdb3_server/src/http.rs answers 400 `{"error":...}`."""
    params = {"db": cpu_db, "q": "SHOW MEASUREMENTS", **extra}
    got = requests.get(f"{influx.url}/query", params=params, timeout=10)
    assert got.status_code == 400
    assert got.json() == {"error": f"error decoding params from url: {text}"}
    # Rust's integer parse takes a leading '+'.
    good = {"db": cpu_db, "q": "SHOW MEASUREMENTS", "chunk_size": "+1", "chunked": "true"}
    plus = requests.get(f"{influx.url}/query", params=good, timeout=10)
    assert plus.status_code == 200, plus.text


def test_v1_query_series_per_tag_set(influx, cpu_db):
    """InfluxDB 1.x response shape (iox_v1_query_api): one series per GROUP BY tag set, the tags
    in `tags` and out of `columns`."""
    got = requests.get(
        f"{influx.url}/query",
        params={"db": cpu_db, "q": "SELECT max(user) FROM cpu GROUP BY region", "epoch": "ns"},
        timeout=10,
    ).json()
    series = got["results"][0]["series"]
    assert [(s["name"], s["tags"], s["columns"]) for s in series] == [
        ("cpu", {"region": "a"}, ["time", "max"]),
        ("cpu", {"region": "b"}, ["time", "max"]),
    ]
    assert [s["values"][0][1] for s in series] == [23.2, 28.9]


# -- 6. system schema, metrics, tokens, caches ----------------------------------------------------
def test_system_tables_are_listed_and_queryable(influx, cpu_db):
    """influxdb3_server/src/system_tables: queries, last_caches, distinct_caches, parquet_files."""
    tables = ok_rows(influx, cpu_db, "SHOW TABLES")
    system = {r["table_name"] for r in tables if r["table_schema"] == "system"}
    assert {"queries", "last_caches", "distinct_caches", "parquet_files"} <= system
    ok_rows(influx, cpu_db, "SELECT count(*) FROM cpu")
    queries = ok_rows(influx, cpu_db, "SELECT query_text, success FROM system.queries")
    assert {"query_text": "SELECT count(*) FROM cpu", "success": True} in queries


def test_durations_render_as_iso_8601_in_text_formats(influx, cpu_db):
    """system_tables/queries.rs: the *_duration columns are Duration(Nanosecond); the HTTP formats
    write them through arrow-json/arrow-csv, whose temporal formatter prints chrono's ISO 8601
    (`PT0.000123456S`), never an error for a sub-microsecond value."""
    ok_rows(influx, cpu_db, "SELECT count(*) FROM cpu")
    q = "SELECT end2end_duration FROM system.queries WHERE end2end_duration IS NOT NULL"
    rows = ok_rows(influx, cpu_db, q)
    assert rows and all(
        re.fullmatch(r"PT\d+(\.\d{3}|\.\d{6}|\.\d{9})?S", r["end2end_duration"]) for r in rows
    )
    csv = requests.get(
        f"{influx.url}/api/v3/query_sql", params={"db": cpu_db, "q": q, "format": "csv"}, timeout=10
    )
    assert csv.status_code == 200 and csv.text.splitlines()[1].startswith("PT")


def test_metrics_are_prometheus_text(influx):
    """handle_metrics: Prometheus text with the OpenMetrics `# EOF` marker."""
    response = requests.get(f"{influx.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.text.endswith("# EOF\n") and "# TYPE " in response.text


def test_write_metrics_carry_the_real_names(influx):
    """influxdb3_write/src/write_buffer/metrics.rs (WriteMetrics, recorded per database once a
    write is buffered: valid lines, rejected lines, bytes of the valid lines as validator.rs
    counts them), rendered as core/metric_exporters/src/lib.rs renders a counter: `_total`
    appended to the name and to its HELP and TYPE lines."""
    db = influx.database()
    body = 'm,t=a v=1i 1\nm,t=a v="x" 2\nm,t=b v=2i 3'  # the second line's type clashes
    assert write_lp(influx, db, body).status_code == 400  # a partial write: two lines stored
    assert (
        requests.post(  # a v1 write with a bad line is refused whole: nothing recorded
            f"{influx.url}/write", params={"db": db}, data=b'm,t=c v="y" 4', timeout=10
        ).status_code
        == 400
    )
    text = requests.get(f"{influx.url}/metrics", timeout=10).text
    for name, value, description in (
        ("influxdb3_write_lines", 2, "track total number of lines written to the database"),
        (
            "influxdb3_write_lines_rejected",
            1,
            "track total number of lines written to the database that were rejected",
        ),
        ("influxdb3_write_bytes", 24, "track total number of bytes written to the database"),
    ):
        assert f"# HELP {name}_total {description}\n# TYPE {name}_total counter\n" in text
        assert f'\n{name}_total{{db="{db}"}} {value}\n' in text


def test_token_endpoints(influx_auth):
    """create_named_admin_token, delete_token, regenerate_admin_token (http.rs)."""
    url = influx_auth.url
    token = admin_token(influx_auth)
    headers = {"Authorization": f"Bearer {token}"}
    named = requests.post(
        f"{url}/api/v3/configure/token/named_admin", json={"token_name": "ops"}, headers=headers, timeout=10
    )
    assert named.status_code == 201, named.text
    ops = named.json()["token"]
    assert requests.get(f"{url}/health", headers={"Authorization": f"Bearer {ops}"}, timeout=10).ok
    deleted = requests.delete(
        f"{url}/api/v3/configure/token", params={"token_name": "ops"}, headers=headers, timeout=10
    )
    assert deleted.status_code == 200
    assert (
        requests.get(f"{url}/health", headers={"Authorization": f"Bearer {ops}"}, timeout=10).status_code
        == 401
    )
    operator = requests.delete(
        f"{url}/api/v3/configure/token", params={"token_name": "_admin"}, headers=headers, timeout=10
    )
    assert operator.status_code == 405
    fresh = requests.post(f"{url}/api/v3/configure/token/admin/regenerate", headers=headers, timeout=10)
    assert fresh.status_code == 201, fresh.text
    TOKENS[url] = fresh.json()["token"]
    assert requests.get(f"{url}/health", headers=headers, timeout=10).status_code == 401
    assert requests.get(f"{url}/health", headers={"Authorization": f"Bearer {TOKENS[url]}"}, timeout=10).ok


def test_last_and_distinct_caches(influx):
    """configure_last_cache_create / configure_distinct_cache_create (201, then 204 for the same
    cache), their deletes (200), and the `last_cache()` / `distinct_cache()` table functions."""
    db = influx.database()
    write_lp(influx, db, "cpu,host=a v=1 1\ncpu,host=b v=2 2\ncpu,host=a v=3 3")
    url = f"{influx.url}/api/v3/configure"
    body = {"db": db, "table": "cpu", "name": "lc", "key_columns": ["host"], "value_columns": ["v"]}
    assert requests.post(f"{url}/last_cache", json=body, timeout=10).status_code == 201
    assert requests.post(f"{url}/last_cache", json=body, timeout=10).status_code == 204
    last = ok_rows(influx, db, "SELECT host, v FROM last_cache('cpu', 'lc') ORDER BY host")
    assert last == [{"host": "a", "v": 3.0}, {"host": "b", "v": 2.0}]
    distinct = {"db": db, "table": "cpu", "name": "dc", "columns": ["host"]}
    assert requests.post(f"{url}/distinct_cache", json=distinct, timeout=10).status_code == 201
    hosts = ok_rows(influx, db, "SELECT host FROM distinct_cache('cpu', 'dc') ORDER BY host")
    assert hosts == [{"host": "a"}, {"host": "b"}]
    listed = ok_rows(influx, db, "SELECT name FROM system.last_caches")
    assert listed == [{"name": "lc"}]
    params = {"db": db, "table": "cpu", "name": "lc"}
    assert requests.delete(f"{url}/last_cache", params=params, timeout=10).status_code == 200
    assert requests.delete(f"{url}/last_cache", params=params, timeout=10).status_code == 404
