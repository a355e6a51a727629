"""Flight SQL statement queries and prepared statements, as a Flight SQL client (ADBC, JDBC,
Grafana's FlightSQL source) runs them: `core/service_grpc_flight/src/lib.rs` (the FlightSQL
sequences of `FlightService`: GetFlightInfo with a command, DoGet with the returned ticket,
DoAction CreatePreparedStatement, DoPut binding parameters) and `core/flightsql/src/cmd.rs`
(commands and the prepared statement handle). The database comes from a `database` header.

The messages are built here from `FlightSql.proto`'s field numbers with a small encoder of the
test's own, so the server's encoder is not checked against itself. Like test_conformance.py,
this runs against a real InfluxDB 3 Core when INFLUXDB3_CONFORMANCE_URL is set.
"""

from __future__ import annotations

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


def any_of(name: str, *fields: tuple[int, bytes]) -> bytes:
    return message((1, (SQL + name).encode()), (2, message(*fields)))


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


def options(db: str | None) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(headers=[(b"database", db.encode())] if db else [])


def fetch(flight: fl.FlightClient, db: str, command: bytes) -> pa.Table:
    """GetFlightInfo with the command, then DoGet of each endpoint's ticket."""
    info = flight.get_flight_info(fl.FlightDescriptor.for_command(command), options(db))
    assert info.endpoints, "a FlightInfo without endpoints cannot be read"
    tables = [flight.do_get(e.ticket, options(db)).read_all() for e in info.endpoints]
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
