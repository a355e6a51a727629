"""The gRPC Flight side of the port (specs § 1.9): DoGet with the JSON ticket, nothing else.

influxdb3-python only calls DoGet with a UTF-8 JSON ticket and `authorization: Bearer <token>`
metadata. Errors map to the gRPC codes the real server uses: planning, execution and
not-implemented errors INVALID_ARGUMENT, unknown database INTERNAL with the real message.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as fl

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


class AuthMiddlewareFactory(fl.ServerMiddlewareFactory):
    """Reads the token only from `authorization` metadata (Bearer/Token/Basic)."""

    def __init__(self, tokens: Tokens) -> None:
        super().__init__()
        self.tokens = tokens

    def start_call(self, info, headers):
        if not self.tokens.enabled:
            return None
        values = headers.get("authorization") or []
        try:
            token = token_from_header(values[0]) if values else None
        except AuthError:
            token = None
        if token is None or not self.tokens.is_valid(token):
            raise fl.FlightUnauthenticatedError("Unauthenticated")
        return None


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
        request = decode_ticket(ticket.ticket)
        try:
            table = self.executor.run(request)
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
        return fl.RecordBatchStream(table)

    def get_flight_info(self, context, descriptor):
        if descriptor.descriptor_type == fl.DescriptorType.PATH:
            raise pa.ArrowNotImplementedError("Unsupported message type: FlightInfo with Path")
        raise pa.ArrowInvalid("no 'database' header in request")

    def list_flights(self, context, criteria):
        raise pa.ArrowNotImplementedError("Not yet implemented: list_flights")

    def get_schema(self, context, descriptor):
        raise pa.ArrowNotImplementedError("Not yet implemented: get_schema")

    def list_actions(self, context):
        raise pa.ArrowNotImplementedError("Not yet implemented: list_actions")

    def do_exchange(self, context, descriptor, reader, writer):
        raise pa.ArrowNotImplementedError("Not yet implemented: do_exchange")

    def do_put(self, context, descriptor, reader, writer):
        raise pa.ArrowNotImplementedError("Not yet implemented: do_put")

    def do_action(self, context, action):
        raise pa.ArrowNotImplementedError("Not yet implemented: do_action")
