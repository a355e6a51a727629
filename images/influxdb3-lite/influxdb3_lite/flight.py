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

import base64
import json
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as fl

from influxdb3_lite import flightsql, flightsql_meta
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
META_KEY = "flightsql_command"
QUERY_LANGUAGE_HEADER = "x-influxdata-query-language"
PLACEHOLDER = re.compile(r"\$\w+")


class CallHeaders(fl.ServerMiddleware):
    """The call's metadata, for RPCs that read the database from it (Flight SQL)."""

    def __init__(self, headers: dict[str, list[str]], handshake: bool = False) -> None:
        self.headers = headers
        self.handshake = handshake

    def sending_headers(self) -> dict[str, str]:
        """A handshake answers the request's token as `authorization: Bearer <token>` (the real
        `handshake`: the password of a Basic header is the token; JDBC and ODBC drivers log in
        with user and password this way)."""
        values = self.headers.get("authorization") if self.handshake else None
        try:
            token = token_from_header(values[0]) if values else None
        except AuthError:
            token = None
        return {"authorization": f"Bearer {token}"} if token else {}

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

    def query_language(self) -> str:
        """`x-influxdata-query-language`: `influxql` or `sql`; anything else (or none) is SQL,
        as the real service's `parse_header_str` drops a value that does not parse."""
        values = self.headers.get(QUERY_LANGUAGE_HEADER)
        value = values[0].lower() if values else "sql"
        return value if value in ("sql", "influxql") else "sql"

    def base_table_type(self) -> str:
        """`get_flightsql_base_table_type`, read on every DoGet before the ticket."""
        values = self.headers.get(flightsql_meta.BASE_TABLE_HEADER)
        try:
            return flightsql_meta.base_table_type(values[0] if values else None)
        except flightsql_meta.MetaError as exc:
            raise pa.ArrowInvalid(str(exc)) from None


class AuthMiddlewareFactory(fl.ServerMiddlewareFactory):
    """Reads the token only from `authorization` metadata (Bearer/Token/Basic)."""

    def __init__(self, tokens: Tokens) -> None:
        super().__init__()
        self.tokens = tokens

    def start_call(self, info, headers):
        if info.method == fl.FlightMethod.HANDSHAKE:
            # Not authorised by the real server either: the JDBC driver's handshake carries no
            # database, so the token is only checked on the calls that follow.
            return CallHeaders(headers, handshake=True)
        if self.tokens.enabled:
            values = headers.get("authorization") or []
            try:
                token = token_from_header(values[0]) if values else None
            except AuthError:
                token = None
            if token is None or not self.tokens.is_valid(token):
                raise fl.FlightUnauthenticatedError("Unauthenticated")
        if info.method == fl.FlightMethod.DO_GET and not headers.get(flightsql_meta.BASE_TABLE_HEADER):
            # Such a DoGet (every influxdb3-python query) reads nothing more from its headers.
            # Without a middleware instance gRPC does not call back into Python to send headers
            # and to end the call: two GIL hand-overs fewer per query, each waiting behind the
            # writer threads under load.
            return None
        return CallHeaders(headers)


class EchoHandshake(fl.ServerAuthHandler):
    """`Handshake` as the real service answers it: the request's payload back (the token goes
    in a header, CallHeaders.sending_headers). Every other call is authenticated by the
    `authorization` middleware, so no handshake token is required of them."""

    def authenticate(self, outgoing, incoming):
        try:
            request = incoming.read()
        except OSError:
            request = None
        if request is None:  # `InvalidHandshake` (service_grpc_flight/src/lib.rs)
            raise pa.ArrowInvalid("Invalid handshake. No payload provided")
        outgoing.write(request)

    def is_valid(self, token):
        return b""


@dataclass
class MetaTicket:
    """The ticket of a Flight SQL metadata command: its database and the command itself (the
    real server's ticket carries the command too; tickets are opaque to clients)."""

    database: str
    command: flightsql.Command


def decode_ticket(raw: bytes) -> QueryRequest | MetaTicket:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise pa.ArrowInvalid(INVALID_TICKET) from None
    if not isinstance(payload, dict):
        raise pa.ArrowInvalid(INVALID_TICKET)
    if isinstance(payload.get(META_KEY), str) and isinstance(payload.get("database"), str):
        try:
            command = flightsql.unpack(base64.b64decode(payload[META_KEY], validate=True))
        except (ValueError, flightsql.ProtoError):
            raise pa.ArrowInvalid(INVALID_TICKET) from None
        return MetaTicket(payload["database"], command)
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
        super().__init__(
            location, auth_handler=EchoHandshake(), middleware={"auth": AuthMiddlewareFactory(tokens)}
        )
        self.executor = executor

    def do_get(self, context, ticket):
        middleware = context.get_middleware("auth")  # None: no base-table-type header
        base_table_type = middleware.base_table_type() if middleware else flightsql_meta.base_table_type(None)
        request = decode_ticket(ticket.ticket)
        if isinstance(request, MetaTicket):
            return fl.RecordBatchStream(self._metadata(request, base_table_type))
        return fl.RecordBatchStream(self._execute(request))

    def _metadata(self, ticket: MetaTicket, base_table_type: str) -> pa.Table:
        try:
            return flightsql_meta.answer(
                ticket.command, lambda: self.executor.catalog_tables(ticket.database), base_table_type
            )
        except DatabaseNotFound as exc:
            raise _database_not_found(exc) from None

    def _execute(self, request: QueryRequest) -> pa.Table:
        try:
            return self.executor.run(request)
        except DatabaseNotFound as exc:
            raise _database_not_found(exc) from None
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
        command = self._command(descriptor.command)
        if command.type_url in flightsql_meta.COMMANDS:
            self._database_exists(database)
            payload = {"database": database, META_KEY: base64.b64encode(descriptor.command).decode()}
            ticket = json.dumps(payload).encode()
            schema = flightsql_meta.result_schema(command)
            return fl.FlightInfo(schema, descriptor, [fl.FlightEndpoint(ticket, [])], -1, -1)
        language = context.get_middleware("auth").query_language()
        table, request = self._statement(database, command, language)
        payload = {"database": database, "sql_query": request.query, "query_type": request.language}
        if request.params:
            payload["params"] = request.params
        ticket = json.dumps(payload).encode()
        # The schema is the planned result's (the real server plans in GetFlightInfo); here the
        # query runs to learn it, and DoGet runs it again.
        return fl.FlightInfo(table.schema, descriptor, [fl.FlightEndpoint(ticket, [])], -1, -1)

    @staticmethod
    def _command(raw: bytes) -> flightsql.Command:
        try:
            return flightsql.unpack(raw)
        except flightsql.ProtoError as exc:
            raise pa.ArrowInvalid(f"Error decoding Flight SQL command: {exc}") from None

    def _database_exists(self, database: str) -> None:
        """The real service looks the database up before planning any command."""
        if self.executor.catalog.get(database) is None:
            raise _database_not_found(DatabaseNotFound(database))

    def _statement(
        self, database: str, decoded: flightsql.Command, language: str = "sql"
    ) -> tuple[pa.Table, QueryRequest]:
        """The query of a statement or prepared-statement command, run. A statement is InfluxQL
        when the `x-influxdata-query-language` header says so (only statements, as the real
        `flight_sql_get_flight_info_schema`); prepared statements stay SQL."""
        try:
            if decoded.type_url == flightsql.STATEMENT_QUERY:
                request = QueryRequest(database, decoded.text(1), language)
            elif decoded.type_url == flightsql.PREPARED_QUERY:
                handle = flightsql.decode_handle(decoded.fields.get(1, b""))
                request = QueryRequest(database, handle.query, "sql", handle.param_values())
            else:
                raise _unexpected(decoded, "GetFlightInfo")
        except flightsql.ProtoError as exc:
            raise pa.ArrowInvalid(f"Error decoding Flight SQL command: {exc}") from None
        return self._execute(request), request

    def do_action(self, context, action):
        """The real service reads the action's body as a Flight SQL command whatever the
        action's type (`do_action`, `FlightSQLCommand::try_decode`)."""
        database = context.get_middleware("auth").database()  # first, as `do_action` reads it
        try:
            command = flightsql.unpack(action.body.to_pybytes())
            if command.type_url == flightsql.CREATE_PREPARED:
                return [self._create_prepared(database, command.text(1))]
            if command.type_url == flightsql.CLOSE_PREPARED:
                # The handle holds the whole statement: nothing to release; one empty result,
                # as the real planner's `do_action` answers.
                flightsql.decode_handle(command.fields.get(1, b""))
                return [fl.Result(b"")]
        except flightsql.ProtoError as exc:
            raise pa.ArrowInvalid(f"Error decoding Flight SQL action: {exc}") from None
        raise _unexpected(command, "DoAction")

    def _create_prepared(self, database: str, query: str) -> fl.Result:
        """ActionCreatePreparedStatementResult: the handle, the dataset schema and the
        parameter schema (empty without placeholders), both IPC-encoded."""
        fields = {1: flightsql.Handle(query).encode()}
        if PLACEHOLDER.search(query):
            try:
                dataset, parameters = self.executor.prepared_schemas(database, query)
            except DatabaseNotFound as exc:
                raise _database_not_found(exc) from None
            except QueryError as exc:
                raise pa.ArrowInvalid(str(exc)) from None
        else:
            # Without parameters the statement runs to learn its schema (what DoGet returns).
            dataset, parameters = self._execute(QueryRequest(database, query, "sql")).schema, pa.schema([])
        fields[2] = dataset.serialize().to_pybytes()
        fields[3] = parameters.serialize().to_pybytes()
        return fl.Result(flightsql.pack(flightsql.CREATE_PREPARED_RESULT, fields))

    def do_put(self, context, descriptor, reader, writer):
        """Binds parameters to a prepared statement: the new handle carries them."""
        context.get_middleware("auth").database()  # required, as the real `do_put` reads it
        try:
            command = flightsql.unpack(descriptor.command)
            if command.type_url != flightsql.PREPARED_QUERY:
                raise _unexpected(command, "DoPut")
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


def _database_not_found(exc: DatabaseNotFound) -> Exception:
    return fl.FlightInternalError(f"Cannot retrieve database: External error: database not found: {exc.name}")


KNOWN_COMMANDS = (
    flightsql.STATEMENT_QUERY,
    flightsql.PREPARED_QUERY,
    flightsql.CREATE_PREPARED,
    flightsql.CLOSE_PREPARED,
    *flightsql_meta.COMMANDS,
)


def _unexpected(command: flightsql.Command, method: str) -> Exception:
    """A command the method does not take (`Error::Protocol`, planner.rs) or no Flight SQL
    command the real server knows (`Error::UnsupportedMessageType`, cmd.rs `try_decode`, e.g.
    CommandStatementUpdate or CommandStatementIngest): both INVALID_ARGUMENT."""
    name = command.type_url.rsplit(".", 1)[-1]
    if command.type_url in KNOWN_COMMANDS:
        return pa.ArrowInvalid(
            f"Error while planning query: Protocol error. Method {method} does not expect '{name}'"
        )
    return pa.ArrowInvalid(
        f"Error while planning Flight SQL : Unsupported FlightSQL message type: {command.type_url}"
    )
