"""The gRPC Flight side of the port (specs § 1.9): DoGet with the JSON ticket, and Flight SQL
statement queries and prepared statements (flightsql.py).

influxdb3-python only calls DoGet with a UTF-8 JSON ticket and `authorization: Bearer <token>`
metadata. Flight SQL clients (ADBC, JDBC, Grafana's FlightSQL source) send a command in
GetFlightInfo with the database in a `database` header; the FlightInfo's ticket is a JSON ticket
of the same query, so DoGet serves both. Errors map to the gRPC codes the real server uses:
planning, execution and not-implemented errors INVALID_ARGUMENT, unknown database INTERNAL with
the real message.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.flight as fl

from influxdb3_lite import flightsql
from influxdb3_lite.auth import AuthError, Tokens, token_from_header
from influxdb3_lite.query import (
    DatabaseNotFound,
    Executor,
    InfluxQLParseError,
    QueryError,
    QueryRequest,
)

DATABASE_KEYS = ("database", "namespace_name", "bucket", "bucket-name")
INVALID_TICKET = "Invalid ticket. Error: Invalid ticket"
# Headers naming the database of a Flight SQL call (`get_flight_info` of the real service).
DATABASE_HEADERS = ("database", "bucket", "bucket-name", "iox-namespace-name")
NO_DATABASE = "no 'database' header in request"
PLACEHOLDER = re.compile(r"\$\w+")


class CallHeaders(fl.ServerMiddleware):
    """The call's metadata, for RPCs that read the database from it (Flight SQL)."""

    def __init__(self, headers: dict[str, list[str]]) -> None:
        self.headers = headers

    def database(self) -> str:
        """`get_flightsql_namespace`: any of the headers, several only if they agree."""
        found = [name for name in DATABASE_HEADERS if self.headers.get(name)]
        values = {self.headers[name][0] for name in found}
        if len(values) > 1:
            names = ", ".join(f'"{name}"' for name in found)
            raise pa.ArrowInvalid(
                f"More than one headers are found in request: [{names}]. Please include only one of them"
            )
        if not values:
            raise pa.ArrowInvalid(NO_DATABASE)
        return values.pop()


class AuthMiddlewareFactory(fl.ServerMiddlewareFactory):
    """Reads the token only from `authorization` metadata (Bearer/Token/Basic)."""

    def __init__(self, tokens: Tokens) -> None:
        super().__init__()
        self.tokens = tokens

    def start_call(self, info, headers):
        if not self.tokens.enabled:
            return CallHeaders(headers)
        values = headers.get("authorization") or []
        try:
            token = token_from_header(values[0]) if values else None
        except AuthError:
            token = None
        if token is None or not self.tokens.is_valid(token):
            raise fl.FlightUnauthenticatedError("Unauthenticated")
        return CallHeaders(headers)


def decode_ticket(raw: bytes) -> QueryRequest:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise pa.ArrowInvalid(INVALID_TICKET) from None
    if not isinstance(payload, dict):
        raise pa.ArrowInvalid(INVALID_TICKET)
    database = next((payload[k] for k in DATABASE_KEYS if k in payload), None)
    query = payload.get("sql_query")
    language = payload.get("query_type", "sql")
    params = payload.get("params")
    if not isinstance(database, str) or not isinstance(query, str) or language not in ("sql", "influxql"):
        raise pa.ArrowInvalid(INVALID_TICKET)
    if params is not None and not isinstance(params, dict):
        raise pa.ArrowInvalid(INVALID_TICKET)
    return QueryRequest(database, query, language, params or None)


class FlightService(fl.FlightServerBase):
    def __init__(self, location: str, executor: Executor, tokens: Tokens) -> None:
        super().__init__(location, middleware={"auth": AuthMiddlewareFactory(tokens)})
        self.executor = executor

    def do_get(self, context, ticket):
        return fl.RecordBatchStream(self._execute(decode_ticket(ticket.ticket)))

    def _execute(self, request: QueryRequest) -> pa.Table:
        try:
            return self.executor.run(request)
        except DatabaseNotFound as exc:
            raise fl.FlightInternalError(
                f"Cannot retrieve database: External error: database not found: {exc.name}"
            ) from None
        except InfluxQLParseError as exc:
            raise pa.ArrowInvalid(f"Error while planning query: parsing error: {exc}") from None
        except QueryError as exc:
            # datafusion_error_to_tonic_code (core/service_common/src/error.rs): planning,
            # execution, Arrow and not-implemented errors are all INVALID_ARGUMENT, so the user
            # sees the message.
            raise pa.ArrowInvalid(str(exc)) from None

    def get_flight_info(self, context, descriptor):
        if descriptor.descriptor_type == fl.DescriptorType.PATH:
            raise pa.ArrowNotImplementedError("Unsupported message type: FlightInfo with Path")
        database = context.get_middleware("auth").database()
        table, request = self._statement(database, descriptor.command)
        payload = {"database": database, "sql_query": request.query, "query_type": "sql"}
        if request.params:
            payload["params"] = request.params
        ticket = json.dumps(payload).encode()
        # The schema is the planned result's (the real server plans in GetFlightInfo); here the
        # query runs to learn it, and DoGet runs it again.
        return fl.FlightInfo(table.schema, descriptor, [fl.FlightEndpoint(ticket, [])], -1, -1)

    def _statement(self, database: str, command: bytes) -> tuple[pa.Table, QueryRequest]:
        """The query of a statement or prepared-statement command, run; other Flight SQL
        commands (catalog metadata, SQL info) are not implemented here."""
        try:
            decoded = flightsql.unpack(command)
            if decoded.type_url == flightsql.STATEMENT_QUERY:
                request = QueryRequest(database, decoded.text(1), "sql")
            elif decoded.type_url == flightsql.PREPARED_QUERY:
                handle = flightsql.decode_handle(decoded.fields.get(1, b""))
                request = QueryRequest(database, handle.query, "sql", handle.param_values())
            else:
                raise pa.ArrowNotImplementedError(
                    f"This feature is not implemented: Flight SQL command {decoded.type_url}"
                )
        except flightsql.ProtoError as exc:
            raise pa.ArrowInvalid(f"Error decoding Flight SQL command: {exc}") from None
        return self._execute(request), request

    def do_action(self, context, action):
        database = context.get_middleware("auth").database()  # first, as `do_action` reads it
        try:
            if action.type == "CreatePreparedStatement":
                return [self._create_prepared(database, action.body.to_pybytes())]
            if action.type == "ClosePreparedStatement":
                # The handle holds the whole statement: nothing to release; one empty result,
                # as the real planner's `do_action` answers.
                flightsql.decode_handle(flightsql.unpack(action.body.to_pybytes()).fields.get(1, b""))
                return [fl.Result(b"")]
        except flightsql.ProtoError as exc:
            raise pa.ArrowInvalid(f"Error decoding Flight SQL action: {exc}") from None
        raise pa.ArrowNotImplementedError(f"Not yet implemented: do_action {action.type}")

    def _create_prepared(self, database: str, body: bytes) -> fl.Result:
        request = flightsql.unpack(body)
        if request.type_url != flightsql.CREATE_PREPARED:
            raise flightsql.ProtoError(f"expected {flightsql.CREATE_PREPARED}, got {request.type_url}")
        query = request.text(1)
        fields = {1: flightsql.Handle(query).encode()}
        if not PLACEHOLDER.search(query):
            # The result's schema, when it can be known before parameters are bound.
            table = self._execute(QueryRequest(database, query, "sql"))
            fields[2] = table.schema.serialize().to_pybytes()
        return fl.Result(flightsql.pack(flightsql.CREATE_PREPARED_RESULT, fields))

    def do_put(self, context, descriptor, reader, writer):
        """Binds parameters to a prepared statement: the new handle carries them."""
        context.get_middleware("auth").database()  # required, as the real `do_put` reads it
        try:
            command = flightsql.unpack(descriptor.command)
            if command.type_url != flightsql.PREPARED_QUERY:
                raise pa.ArrowNotImplementedError(
                    f"This feature is not implemented: Flight SQL DoPut {command.type_url}"
                )
            handle = flightsql.decode_handle(command.fields.get(1, b""))
        except flightsql.ProtoError as exc:
            raise pa.ArrowInvalid(f"Error decoding Flight SQL command: {exc}") from None
        params = reader.read_all()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, params.schema) as stream:
            stream.write_table(params)
        bound = flightsql.Handle(handle.query, sink.getvalue().to_pybytes())
        # A DoPutPreparedStatementResult as the PutResult's metadata, not wrapped in an Any.
        writer.write(pa.py_buffer(flightsql.encode_fields({1: bound.encode()})))

    def list_flights(self, context, criteria):
        raise pa.ArrowNotImplementedError("Not yet implemented: list_flights")

    def get_schema(self, context, descriptor):
        raise pa.ArrowNotImplementedError("Not yet implemented: get_schema")

    def list_actions(self, context):
        raise pa.ArrowNotImplementedError("Not yet implemented: list_actions")

    def do_exchange(self, context, descriptor, reader, writer):
        raise pa.ArrowNotImplementedError("Not yet implemented: do_exchange")
