"""Flight SQL statement queries, prepared statements and metadata commands, as a Flight SQL
client (ADBC, JDBC, Grafana's FlightSQL source, DBeaver's table tree) runs them: `core/service_grpc_flight/src/lib.rs` (the FlightSQL
sequences of `FlightService`: GetFlightInfo with a command, DoGet with the returned ticket,
DoAction CreatePreparedStatement, DoPut binding parameters) and `core/flightsql/src/cmd.rs`
(commands and the prepared statement handle). The database comes from a `database` header.

The messages are built here from `FlightSql.proto`'s field numbers with a small encoder of the
test's own, so the server's encoder is not checked against itself. Like test_conformance.py,
this runs against a real InfluxDB 3 Core when INFLUXDB3_CONFORMANCE_URL is set.
"""

from __future__ import annotations

import base64

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from tests.standin.test_conformance import write_lp

pytestmark = pytest.mark.docker

SQL = "type.googleapis.com/arrow.flight.protocol.sql."
LINES = "cpu,host=a usage=1.5 1\ncpu,host=b usage=2.5 2\ncpu,host=c usage=3.5 3"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def message(*fields: tuple[int, bytes]) -> bytes:
    """Length-delimited fields (wire type 2) in the order given."""
    return b"".join(_varint(n << 3 | 2) + _varint(len(v)) + v for n, v in fields)


def any_of(name: str, *fields: tuple[int, bytes], varints: tuple[tuple[int, int], ...] = ()) -> bytes:
    """An Any of the named Flight SQL message; `varints` are (field, value) pairs of wire type 0."""
    numbers = b"".join(_varint(n << 3) + _varint(v) for n, v in varints)
    return message((1, (SQL + name).encode()), (2, message(*fields) + numbers))


def read_fields(data: bytes) -> dict[int, bytes]:
    fields, pos = {}, 0
    while pos < len(data):
        key = data[pos]
        pos += 1
        size = shift = 0
        while True:
            byte = data[pos]
            size |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if not byte & 0x80:
                break
        fields[key >> 3] = data[pos : pos + size]
        pos += size
    return fields


@pytest.fixture(scope="module")
def cpu_db(influx) -> str:
    db = influx.database()
    assert write_lp(influx, db, LINES).status_code == 204
    return db


def client(influx) -> fl.FlightClient:
    return fl.FlightClient(influx.url.replace("http://", "grpc+tcp://"))


def options(db: str | None, *extra: tuple[bytes, bytes]) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(headers=([(b"database", db.encode())] if db else []) + list(extra))


def fetch(flight: fl.FlightClient, db: str, command: bytes, *headers: tuple[bytes, bytes]) -> pa.Table:
    """GetFlightInfo with the command, then DoGet of each endpoint's ticket."""
    info = flight.get_flight_info(fl.FlightDescriptor.for_command(command), options(db, *headers))
    assert info.endpoints, "a FlightInfo without endpoints cannot be read"
    tables = [flight.do_get(e.ticket, options(db, *headers)).read_all() for e in info.endpoints]
    return pa.concat_tables(tables)


def test_statement_query_through_get_flight_info(influx, cpu_db):
    """FlightSQL ad-hoc query: CommandStatementQuery (query = 1) -> FlightInfo -> DoGet."""
    command = any_of("CommandStatementQuery", (1, b"SELECT host, usage FROM cpu ORDER BY time"))
    table = fetch(client(influx), cpu_db, command)
    assert table.to_pylist() == [
        {"host": "a", "usage": 1.5},
        {"host": "b", "usage": 2.5},
        {"host": "c", "usage": 3.5},
    ]
    info = client(influx).get_flight_info(fl.FlightDescriptor.for_command(command), options(cpu_db))
    assert info.schema.names == ["host", "usage"]


def test_statement_errors_reach_the_client(influx, cpu_db):
    """Planning errors are INVALID_ARGUMENT (datafusion_error_to_tonic_code); no database header
    is INVALID_ARGUMENT `no 'database' header in request` (Error::NoFlightSQLDatabase), headers
    naming two databases are refused (get_flightsql_namespace, TooManyFlightSQLDatabases)."""
    command = any_of("CommandStatementQuery", (1, b"SELECT nope FROM cpu"))
    with pytest.raises(pa.ArrowInvalid, match="nope"):
        fetch(client(influx), cpu_db, command)
    good = any_of("CommandStatementQuery", (1, b"SELECT 1"))
    with pytest.raises(pa.ArrowInvalid, match="no 'database' header in request"):
        client(influx).get_flight_info(fl.FlightDescriptor.for_command(good), options(None))
    both = fl.FlightCallOptions(headers=[(b"database", cpu_db.encode()), (b"bucket", b"other")])
    with pytest.raises(pa.ArrowInvalid, match="More than one headers are found in request"):
        client(influx).get_flight_info(fl.FlightDescriptor.for_command(good), both)


def _prepare(flight: fl.FlightClient, db: str, query: str) -> bytes:
    body = any_of("ActionCreatePreparedStatementRequest", (1, query.encode()))
    results = list(flight.do_action(fl.Action("CreatePreparedStatement", body), options(db)))
    assert len(results) == 1
    outer = read_fields(results[0].body.to_pybytes())
    assert outer[1] == (SQL + "ActionCreatePreparedStatementResult").encode()
    return read_fields(outer[2])[1]  # prepared_statement_handle


def test_prepared_statement_without_parameters(influx, cpu_db):
    """FlightSQL prepared statement: CreatePreparedStatement -> handle -> GetFlightInfo with
    CommandPreparedStatementQuery (handle = 1) -> DoGet; ClosePreparedStatement answers one
    empty result (core/flightsql/src/planner.rs `do_action`)."""
    flight = client(influx)
    handle = _prepare(flight, cpu_db, "SELECT host FROM cpu WHERE usage > 2 ORDER BY host")
    table = fetch(flight, cpu_db, any_of("CommandPreparedStatementQuery", (1, handle)))
    assert table.column("host").to_pylist() == ["b", "c"]
    close = any_of("ActionClosePreparedStatementRequest", (1, handle))
    closed = list(flight.do_action(fl.Action("ClosePreparedStatement", close), options(cpu_db)))
    assert [r.body.to_pybytes() for r in closed] == [b""]  # planner.rs do_action: Bytes::new()


def test_prepared_statement_with_bound_parameters(influx, cpu_db):
    """DoPut(CommandPreparedStatementQuery) with a parameter batch answers a
    DoPutPreparedStatementResult whose handle carries the values; parameters bind by field
    name (PreparedStatementHandle::to_df_param_values)."""
    flight = client(influx)
    handle = _prepare(flight, cpu_db, "SELECT host FROM cpu WHERE usage > $threshold ORDER BY host")
    command = any_of("CommandPreparedStatementQuery", (1, handle))
    params = pa.table({"threshold": [3.0]})
    writer, metadata = flight.do_put(fl.FlightDescriptor.for_command(command), params.schema, options(cpu_db))
    writer.write_table(params)
    writer.done_writing()
    bound = read_fields(metadata.read().to_pybytes())[1]
    writer.close()
    table = fetch(flight, cpu_db, any_of("CommandPreparedStatementQuery", (1, bound)))
    assert table.column("host").to_pylist() == ["c"]


def _prepared_schemas(flight: fl.FlightClient, db: str, query: str) -> tuple[pa.Schema, pa.Schema]:
    body = any_of("ActionCreatePreparedStatementRequest", (1, query.encode()))
    (result,) = list(flight.do_action(fl.Action("CreatePreparedStatement", body), options(db)))
    fields = read_fields(read_fields(result.body.to_pybytes())[2])
    return tuple(pa.ipc.read_schema(pa.py_buffer(fields[n])) for n in (2, 3))


def test_prepared_statement_announces_its_parameter_schema(influx, cpu_db):
    """ActionCreatePreparedStatementResult carries the dataset schema (dictionaries hydrated,
    `prepare_schema_for_flight`) and the parameter schema: one nullable field per placeholder,
    named with its `$`, typed by what it is compared with (planner.rs
    `get_encoded_schemas_for_prepared_statement`, `parameter_types_to_schema`; the real
    server's field order comes from a HashMap, so fields are compared by name)."""
    flight = client(influx)
    dataset, parameters = _prepared_schemas(
        flight, cpu_db, "SELECT host, usage FROM cpu WHERE usage > $threshold AND host = $h"
    )
    assert [(f.name, f.type) for f in dataset] == [("host", pa.string()), ("usage", pa.float64())]
    assert {f.name: f.type for f in parameters} == {"$threshold": pa.float64(), "$h": pa.string()}
    assert all(f.nullable for f in parameters)
    _, none = _prepared_schemas(flight, cpu_db, "SELECT host FROM cpu")
    assert len(none) == 0


def test_a_parameter_without_a_type_is_refused(influx, cpu_db):
    """A placeholder nothing types (`SELECT $1`): `UnknownParameterType` (error.rs)."""
    with pytest.raises(pa.ArrowInvalid, match=r"Unable to infer the type of parameter '\$1'"):
        _prepared_schemas(client(influx), cpu_db, "SELECT $1")


def test_get_catalogs(influx, cpu_db):
    """One catalog, `public` (influxdb3/tests/server/flight.rs `flight`, planner.rs
    `plan_get_catalogs`)."""
    table = fetch(client(influx), cpu_db, any_of("CommandGetCatalogs"))
    assert table.to_pylist() == [{"catalog_name": "public"}]
    assert [(f.name, f.nullable) for f in table.schema] == [("catalog_name", False)]


def test_get_db_schemas_filters_by_catalog_and_pattern(influx, cpu_db):
    """information_schema, iox and system of catalog public (planner.rs `plan_get_db_schemas`,
    query_executor `CatalogProvider for Database`), filtered by the catalog and a LIKE pattern,
    sorted (arrow-rs `GetDbSchemasBuilder`)."""
    flight = client(influx)
    rows = fetch(flight, cpu_db, any_of("CommandGetDbSchemas")).to_pylist()
    assert [r["db_schema_name"] for r in rows] == ["information_schema", "iox", "system"]
    assert {r["catalog_name"] for r in rows} == {"public"}
    like = fetch(flight, cpu_db, any_of("CommandGetDbSchemas", (2, b"i%"))).to_pylist()
    assert [r["db_schema_name"] for r in like] == ["information_schema", "iox"]
    assert fetch(flight, cpu_db, any_of("CommandGetDbSchemas", (1, b"other"))).num_rows == 0


INFORMATION_SCHEMA = ["columns", "df_settings", "parameters", "routines", "schemata", "tables", "views"]


def test_get_tables_lists_views_tables_and_system_tables(influx, cpu_db):
    """The seven information_schema views, the database's tables as BASE TABLE and the system
    tables, sorted by catalog, schema, table, type (influxdb3/tests/server/flight.rs `flight`,
    planner.rs `plan_get_tables`). The real server also lists its processing-engine tables, so
    the system schema is checked for the tables both have."""
    rows = fetch(client(influx), cpu_db, any_of("CommandGetTables")).to_pylist()
    keys = [(r["db_schema_name"], r["table_name"], r["table_type"]) for r in rows]
    assert keys == sorted(keys)
    assert [k[1] for k in keys if k[0] == "information_schema"] == INFORMATION_SCHEMA
    assert {k[2] for k in keys if k[0] == "information_schema"} == {"VIEW"}
    assert [k for k in keys if k[0] == "iox"] == [("iox", "cpu", "BASE TABLE")]
    system = {k[1] for k in keys if k[0] == "system" and k[2] == "BASE TABLE"}
    assert {"distinct_caches", "last_caches", "parquet_files", "queries"} <= system


def test_get_tables_filters_and_includes_the_table_schema(influx, cpu_db):
    """Table name and schema LIKE patterns, table types, and `include_schema` (field 5): the
    table's stored schema IPC-encoded, tags as Dictionary(Int32, Utf8) (arrow-rs
    `GetTablesBuilder`, planner.rs `plan_get_tables` passes `table.schema()`)."""
    flight = client(influx)
    command = any_of("CommandGetTables", (2, b"iox"), (3, b"c_u"), varints=((5, 1),))
    table = fetch(flight, cpu_db, command)
    assert table.schema.names == [
        "catalog_name",
        "db_schema_name",
        "table_name",
        "table_type",
        "table_schema",
    ]
    assert table.column("table_name").to_pylist() == ["cpu"]
    schema = pa.ipc.read_schema(pa.py_buffer(table.column("table_schema")[0].as_py()))
    assert set(schema.names) == {"host", "time", "usage"}
    assert schema.field("host").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("usage").type == pa.float64()
    views = fetch(flight, cpu_db, any_of("CommandGetTables", (4, b"VIEW")))
    assert views.column("table_name").to_pylist() == INFORMATION_SCHEMA


def test_get_table_types_and_the_base_table_type_header(influx, cpu_db):
    """`BASE TABLE` and `VIEW`; the `x-influxdata-base-table-type` header (read on DoGet)
    switches to the ODBC name `TABLE`; an unknown value is INVALID_ARGUMENT
    (service_grpc_flight/src/lib.rs `get_flightsql_base_table_type`, flightsql/src/lib.rs)."""
    flight = client(influx)
    command = any_of("CommandGetTableTypes")
    assert fetch(flight, cpu_db, command).column("table_type").to_pylist() == ["BASE TABLE", "VIEW"]
    odbc = (b"x-influxdata-base-table-type", b"table")
    assert fetch(flight, cpu_db, command, odbc).column("table_type").to_pylist() == ["TABLE", "VIEW"]
    tables = fetch(flight, cpu_db, any_of("CommandGetTables", (3, b"cpu")), odbc)
    assert tables.column("table_type").to_pylist() == ["TABLE"]
    with pytest.raises(pa.ArrowInvalid, match="Invalid base table type: 'view'"):
        fetch(flight, cpu_db, command, (b"x-influxdata-base-table-type", b"view"))


def test_get_sql_info(influx, cpu_db):
    """The server's SQL info (core/flightsql/src/sql_info/mod.rs; flight.rs checks id 0):
    the ids asked (`info`, field 1, packed), or all of them, as a dense union value."""
    flight = client(influx)
    asked = any_of("CommandGetSqlInfo", (1, b"".join(_varint(i) for i in (0, 1, 2, 3, 504))))  # packed
    rows = fetch(flight, cpu_db, asked).to_pylist()
    assert rows == [
        {"info_name": 0, "value": "InfluxDB IOx"},
        {"info_name": 1, "value": "2"},
        {"info_name": 2, "value": "1.3"},
        {"info_name": 3, "value": True},
        {"info_name": 504, "value": '"'},
    ]
    everything = {
        r["info_name"]: r["value"] for r in fetch(flight, cpu_db, any_of("CommandGetSqlInfo")).to_pylist()
    }
    assert everything[503] == 3 and everything[555] == 2**31 - 1  # lowercase identifiers; max row size
    assert "select" in everything[508] and everything[511] == ["array", "arrow_typeof", "struct"]
    assert 19 in dict(everything[517])  # SQL_CONVERT_VARCHAR converts to something


def test_get_xdbc_type_info(influx, cpu_db):
    """Five XDBC types ordered by data type (core/flightsql/src/xdbc_type_info/mod.rs, arrow-rs
    `XdbcTypeInfoDataBuilder`), or the one asked (`data_type`, field 1)."""
    flight = client(influx)
    table = fetch(flight, cpu_db, any_of("CommandGetXdbcTypeInfo"))
    assert table.column("type_name").to_pylist() == ["INTEGER", "FLOAT", "INTERVAL", "VARCHAR", "TIMESTAMP"]
    varchar = fetch(flight, cpu_db, any_of("CommandGetXdbcTypeInfo", varints=((1, 12),))).to_pylist()
    assert [(r["type_name"], r["column_size"], r["create_params"]) for r in varchar] == [
        ("VARCHAR", 2**31 - 1, ["length"])
    ]


def test_key_commands_answer_empty_tables(influx, cpu_db):
    """No keys in InfluxDB: primary, exported, imported keys and cross references answer no rows
    in their Flight SQL shapes (planner.rs `plan_get_primary_keys`...)."""
    flight = client(influx)
    primary = fetch(flight, cpu_db, any_of("CommandGetPrimaryKeys", (3, b"cpu")))
    assert primary.num_rows == 0 and primary.schema.names[-1] == "key_sequence"
    for name in ("CommandGetExportedKeys", "CommandGetImportedKeys"):
        table = fetch(flight, cpu_db, any_of(name, (3, b"cpu")))
        assert table.num_rows == 0 and table.schema.names[:2] == ["pk_catalog_name", "pk_db_schema_name"]
    cross = fetch(flight, cpu_db, any_of("CommandGetCrossReference", (3, b"cpu"), (6, b"cpu")))
    assert cross.num_rows == 0 and cross.schema.names[-2:] == ["update_rule", "delete_rule"]


def test_commands_the_server_does_not_know_are_invalid_arguments(influx, cpu_db):
    """Updates, ingestion and Substrait plans are no command the real server decodes
    (cmd.rs `try_decode`: `UnsupportedMessageType`, INVALID_ARGUMENT)."""
    flight = client(influx)
    for name in ("CommandStatementUpdate", "CommandStatementSubstraitPlan"):
        descriptor = fl.FlightDescriptor.for_command(any_of(name, (1, b"DELETE FROM cpu")))
        with pytest.raises(pa.ArrowInvalid, match="Unsupported FlightSQL message type"):
            flight.get_flight_info(descriptor, options(cpu_db))


def test_statement_as_influxql_by_header(influx, cpu_db):
    """A CommandStatementQuery with `x-influxdata-query-language: influxql` runs as InfluxQL
    (service_grpc_flight/src/planner.rs `flight_sql_get_flight_info_schema`; the rows as
    influxdb3/tests/server/flight.rs `flight_influxql` shows them for SHOW MEASUREMENTS)."""
    command = any_of("CommandStatementQuery", (1, b"SHOW MEASUREMENTS"))
    table = fetch(client(influx), cpu_db, command, (b"x-influxdata-query-language", b"influxql"))
    assert table.to_pylist() == [{"iox::measurement": "measurements", "name": "cpu"}]


class _SeenHeaders(fl.ClientMiddlewareFactory):
    """Sends a Basic `authorization` header on every call and keeps the headers answered."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict] = []

    def start_call(self, info):
        return _HeaderMiddleware(self)


class _HeaderMiddleware(fl.ClientMiddleware):
    def __init__(self, factory: _SeenHeaders) -> None:
        super().__init__()
        self.factory = factory

    def sending_headers(self):
        return {"authorization": "Basic " + base64.b64encode(b"user:secret").decode()}

    def received_headers(self, headers):
        self.factory.received.append(headers)


class _Payload(fl.ClientAuthHandler):
    def __init__(self) -> None:
        super().__init__()
        self.answer: bytes | None = None

    def authenticate(self, outgoing, incoming):
        outgoing.write(b"hello")
        self.answer = incoming.read()

    def get_token(self):
        return b""


def test_handshake_echoes_its_payload_and_answers_the_token_as_bearer(influx):
    """`handshake` (service_grpc_flight/src/lib.rs): not authorised; the response repeats the
    request's payload and carries the Basic password as `authorization: Bearer <password>`;
    a handshake without a request message is `Invalid handshake. No payload provided`."""
    seen = _SeenHeaders()
    flight = fl.FlightClient(influx.url.replace("http://", "grpc+tcp://"), middleware=[seen])
    handler = _Payload()
    flight.authenticate(handler)
    assert handler.answer == b"hello"
    answered = [v for h in seen.received for k, values in h.items() if k == "authorization" for v in values]
    assert [v.decode() if isinstance(v, bytes) else v for v in answered] == ["Bearer secret"]
    with pytest.raises(pa.ArrowInvalid, match="Invalid handshake. No payload provided"):
        client(influx).authenticate_basic_token("user", "secret")
