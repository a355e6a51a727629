"""The HTTP/1.1 side of the port: writes, HTTP queries, health, ping, database management, tokens.

Status codes and bodies follow InfluxDB 3 Core's `perform_routing` and error mappings (specs
§ 1.3–1.8); each handler names the spec section it follows.
"""

from __future__ import annotations

import gzip
import json
import logging
import queue
import re
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa

from influxdb3_lite import formats, v1query
from influxdb3_lite.auth import AuthError, Tokens
from influxdb3_lite.caches import CacheError
from influxdb3_lite.lpvector import parse_body
from influxdb3_lite.metrics import Metrics, valid_bytes
from influxdb3_lite.priority import serve_writes_behind_queries
from influxdb3_lite.query import (
    DatabaseNotFound,
    ExecutionError,
    Executor,
    InfluxQLParseError,
    NotImplementedQuery,
    QueryError,
    QueryRequest,
)
from influxdb3_lite.store import Catalog, CatalogError, WriteResult, validate_db_name

LOG = logging.getLogger("influxdb3_lite")
VERSION = "3.11.1"
V3_PRECISIONS = {
    "auto": "auto",
    "second": "second",
    "s": "second",
    "millisecond": "millisecond",
    "ms": "millisecond",
    "microsecond": "microsecond",
    "us": "microsecond",
    "u": "microsecond",
    "nanosecond": "nanosecond",
    "ns": "nanosecond",
    "n": "nanosecond",
}
V2_PRECISIONS = {k: v for k, v in V3_PRECISIONS.items() if k != "auto"}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass
class ServerState:
    catalog: Catalog
    executor: Executor
    tokens: Tokens
    max_request_size: int = 10 * 1024 * 1024
    legacy_error_texts: bool = False
    exempt: frozenset[str] = frozenset()
    cluster_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    process_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    metrics: Metrics = field(default_factory=Metrics)
    # Writes parse, store and answer a few at a time. Under 20 concurrent writers every write
    # thread otherwise competed for the GIL at once, sharing it in 0.5 ms slices, and a query
    # waited behind all of them at each GIL hand-over. Measured in the bench (20 writers, 4
    # readers, machine load average 16-22, so ±30%): no gate write/query p50 170/203 ms; gate
    # over the store 4 slots 147/247, 2 slots 180/173. Once a write cost ~1 ms of server CPU
    # (round 6), a gate over the store only let writers come back twice as often and queries
    # doubled; over the answer too (load average 20-31, same window, 2 runs each): main
    # 141/146, store-only 87/289, store and answer 2 slots 80/144, 1 slot 122/105.
    write_gate: WriteGate = field(default_factory=lambda: WriteGate(WRITE_SLOTS))


WRITE_SLOTS = 2


class WriteGate:
    """At most `slots` holders at a time. Tokens in a C queue: waiting and handing over happen
    in C without the GIL, where threading.Semaphore runs Python code under a Condition whose
    own lock the 20 writer threads then queued on."""

    def __init__(self, slots: int) -> None:
        self._tokens: queue.SimpleQueue[int] = queue.SimpleQueue()
        for token in range(slots):
            self._tokens.put(token)

    def __enter__(self) -> None:
        self._tokens.get()  # tokens are interchangeable: any one is a slot

    def __exit__(self, *_: object) -> None:
        self._tokens.put(0)


class HttpError(Exception):
    def __init__(self, status: int, body: str | dict, content_type: str | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.content_type = status, body, content_type


def _size(text: str, base: int) -> int | None:
    """A Content-Length (base 10) or chunk size (base 16); None unless plain non-negative digits."""
    digits = text.strip()
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def error(status: int, message: str) -> HttpError:
    return HttpError(status, {"error": message})


def auth_error(exc: AuthError) -> HttpError:
    """`AuthenticationError` bodies are formatted by hand with a space after the colon
    (`format!(r#"{{"error": "{self}"}}"#)`, influxdb3_server/src/http.rs); token endpoint
    errors (409 name exists, 405 operator token, 404) are the catalog's plain text."""
    if exc.status in (400, 401, 403):
        return HttpError(exc.status, '{"error": "' + str(exc) + '"}', "")
    return HttpError(exc.status, str(exc))


# (method, path) -> the Handler method serving it: the router of `perform_routing` (http.rs).
# Up to this many body bytes go out with the head in one send (a larger body is not copied).
ONE_SEND_BYTES = 65536
ROUTES = {
    ("GET", "/health"): "health",
    ("GET", "/api/v1/health"): "health",
    ("GET", "/ping"): "ping",
    ("POST", "/ping"): "ping",
    ("POST", "/api/v3/write_lp"): "write_v3",
    ("POST", "/api/v2/write"): "write_v2",
    ("POST", "/write"): "write_v1",
    ("GET", "/api/v3/query_sql"): "query_sql",
    ("POST", "/api/v3/query_sql"): "query_sql",
    ("GET", "/api/v3/query_influxql"): "query_influxql",
    ("POST", "/api/v3/query_influxql"): "query_influxql",
    ("GET", "/api/v3/configure/database"): "list_databases",
    ("POST", "/api/v3/configure/database"): "create_database",
    ("PUT", "/api/v3/configure/database"): "update_database",
    ("DELETE", "/api/v3/configure/database"): "delete_database",
    ("POST", "/api/v3/configure/database/retention_period"): "set_retention",
    ("DELETE", "/api/v3/configure/database/retention_period"): "clear_retention",
    ("POST", "/api/v3/configure/table"): "create_table",
    ("DELETE", "/api/v3/configure/table"): "delete_table",
    ("POST", "/api/v3/configure/token/admin"): "create_admin_token",
    ("POST", "/api/v3/configure/token/admin/regenerate"): "regenerate_admin_token",
    ("POST", "/api/v3/configure/token/named_admin"): "create_named_admin_token",
    ("DELETE", "/api/v3/configure/token"): "delete_token",
    ("GET", "/query"): "query_v1",
    ("POST", "/query"): "query_v1",
    ("GET", "/metrics"): "metrics",
    ("POST", "/api/v3/configure/last_cache"): "create_last_cache",
    ("DELETE", "/api/v3/configure/last_cache"): "delete_last_cache",
    ("POST", "/api/v3/configure/distinct_cache"): "create_distinct_cache",
    ("DELETE", "/api/v3/configure/distinct_cache"): "delete_distinct_cache",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "influxdb3-lite"
    state: ServerState  # set on the subclass made by make_handler
    _date: tuple[int, str] | None = None  # (second, Date header text) of this connection

    # -- plumbing ----------------------------------------------------------------------------
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return None  # per-request access logs would drown the start-up line the sandbox waits for

    def parse_request(self) -> bool:
        """The stdlib's `parse_request`, with the usual request head read without the email
        package: a plain `HTTP/1.1` request line and `Name: value` header lines, all already
        buffered (~0.1 ms of the write path). Anything else, including every malformed head
        and each of its error answers, is left to the stdlib untouched."""
        head = _plain_head(self.raw_requestline, self.rfile.peek())
        if head is None:
            return super().parse_request()
        (self.command, self.path), headers, size = head
        self.rfile.read(size)  # already in the buffer: no system call
        self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        self.request_version = "HTTP/1.1"
        message = self.MessageClass()
        for name, value in headers:
            message[name] = value
        self.headers = message
        # What `parse_request` decides from these headers, in its order.
        connection = message.get("Connection", "").lower()
        self.close_connection = connection == "close"
        if message.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def do_OPTIONS(self) -> None:  # noqa: N802
        self.send(204, b"", None, {"Access-Control-Allow-Methods": "*", "Access-Control-Allow-Headers": "*"})

    def do_GET(self) -> None:  # noqa: N802
        self.dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self.dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self.dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self.dispatch("DELETE")

    def do_HEAD(self) -> None:  # noqa: N802
        self.dispatch("HEAD")

    def dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query_string = url.query
        self.params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self.read_body()
            # perform_routing (http.rs): token paths refused without auth, then authentication,
            # then the route table, so an unknown path answers 401 before 404.
            if url.path.startswith("/api/v3/configure/token") and not self.state.tokens.enabled:
                raise HttpError(405, "endpoint disabled, started without auth")
            self.authenticate(url.path)
            route = self.route(method, url.path)
            if route is None:
                raise HttpError(404, "Not found")
            self.state.metrics.count(method, url.path)
            route(body)
        except HttpError as exc:
            self.send_error_body(exc)
        except AuthError as exc:
            self.send_error_body(auth_error(exc))
        except Exception as exc:  # a bug must cost one request a 500, never the connection silently
            LOG.exception("internal error on %s %s", method, url.path)
            self.close_connection = True
            self.send_error_body(error(500, f"internal error: {exc}"))

    def route(self, method: str, path: str):
        name = ROUTES.get((method, path))
        return getattr(self, name) if name else None

    def authenticate(self, path: str) -> None:
        """§ 1.3: everything but the admin-token bootstrap and exempted paths needs a token."""
        if path == "/api/v3/configure/token/admin" or path.strip("/").split("/")[-1] in self.state.exempt:
            return
        fallback = self.params.get("p") if path in ("/write", "/query") else None
        self.state.tokens.check_header(self.headers.get("Authorization"), fallback)

    def read_body(self) -> bytes:
        limit = self.state.max_request_size
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked(limit)
        else:
            length = _size(self.headers.get("Content-Length") or "0", 10)
            if length is None:
                self.close_connection = True  # the body's end is unknown: the stream is lost
                raise HttpError(400, "invalid content-length header")
            if length > limit:
                self.close_connection = True
                raise HttpError(413, f"max request size ({limit} bytes) exceeded")
            raw = self.rfile.read(length) if length else b""
        # Exact values only, as `read_body` matches them: `GZIP` or `gzip ` is refused.
        encoding = self.headers.get("Content-Encoding") or "identity"
        if encoding == "gzip":
            try:
                raw = _gunzip(raw, limit)
            except (OSError, EOFError, zlib.error) as exc:
                raise HttpError(400, f"error decoding gzip stream: {exc}") from None
        elif encoding != "identity":
            raise HttpError(400, f"unacceptable content-encoding: {encoding}")
        return raw

    def _read_chunked(self, limit: int) -> bytes:
        out = bytearray()
        while True:
            size = _size(self.rfile.readline().split(b";")[0].strip().decode("latin-1") or "0", 16)
            if size is None:
                self.close_connection = True
                raise HttpError(400, "invalid chunk size in chunked body")
            if size == 0:
                self.rfile.readline()
                return bytes(out)
            if len(out) + size > limit:  # checked before reading: a chunk may claim any size
                self.close_connection = True
                raise HttpError(413, f"max request size ({limit} bytes) exceeded")
            out += self.rfile.read(size)
            self.rfile.readline()

    def send(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("cluster-uuid", self.state.cluster_uuid)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.command == "HEAD":
            self.end_headers()
        elif len(body) <= ONE_SEND_BYTES:
            # Head and body in one send: one system call and one loopback packet, not two
            # (the stream is the same bytes; the empty body of a 204 took a send of its own).
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        else:
            self.end_headers()
            self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, formatted once a second per connection: the text has whole
        seconds only, and formatting it cost ~15 µs on every response."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        if self._date is None or self._date[0] != second:
            self._date = (second, super().date_time_string(second))
        return self._date[1]

    def send_json(self, status: int, payload: object, content_type: str = "application/json") -> None:
        self.send(status, compact(payload), content_type)

    def send_error_body(self, exc: HttpError) -> None:
        if isinstance(exc.body, dict):
            # serde_json::to_string: compact, and the real server sets no Content-Type.
            self.send(exc.status, compact(exc.body), exc.content_type)
        elif exc.content_type == "":
            self.send(exc.status, exc.body.encode(), None)
        else:
            self.send(exc.status, exc.body.encode(), exc.content_type or "text/plain; charset=utf-8")

    def text(self, body: bytes, status: int = 500) -> str:
        """UTF-8 or `Error::NonUtf8Body`, which the error mapping of http.rs leaves to its
        default arm (500); the v2 write API maps it to 400 `invalid`."""
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HttpError(status, f"body content is not valid utf8: {_utf8_error(exc)}") from None

    def json_body(self, body: bytes, check_type: bool = True) -> dict:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if check_type and not (content_type == "application/json" or content_type.endswith("+json")):
            raise HttpError(415, "unacceptable content-type, expected: application/json")
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise HttpError(400, f"serde json error: {exc}") from None
        if not isinstance(payload, dict):
            raise HttpError(400, "failed to parse json body: expected an object")
        return payload

    # -- health and ping (§ 1.7) --------------------------------------------------------------
    def health(self, _: bytes) -> None:
        self.send(200, b"OK", "text/plain; charset=utf-8")

    def ping(self, _: bytes) -> None:
        request_id = str(uuid.uuid4())
        payload = {
            "version": VERSION,
            "revision": "lite",
            "process_id": self.state.process_id,
            "product_name": "InfluxDB 3 Core",
        }
        self.send(
            200,
            json.dumps(payload).encode(),
            "application/json",
            {
                "X-Influxdb-Version": VERSION,
                "X-Influxdb-Build": "Core",
                "Request-Id": request_id,
                "X-Request-Id": request_id,
            },
        )

    # -- writes (§ 1.4, § 1.5) ----------------------------------------------------------------
    def write_v3(self, body: bytes) -> None:
        if not self.query_string:
            raise HttpError(400, "missing query parameter 'db'")
        db = self.params.get("db")
        if db is None:
            raise HttpError(400, "serde error: missing field `db`")
        precision = self._precision(V3_PRECISIONS, "auto", lambda m: HttpError(400, f"serde error: {m}"))
        accept_partial = self._flag("accept_partial", True)
        self._flag("no_sync", False)  # parsed (and refused when not a boolean) like the real one
        self._write(db, body, precision, accept_partial, v2=False)

    def _flag(self, name: str, default: bool) -> bool:
        """A serde bool from the query string: exactly `true` or `false`, else 400."""
        value = self.params.get(name)
        if value is None:
            return default
        if value not in ("true", "false"):
            raise HttpError(400, "serde error: provided string was not `true` or `false`")
        return value == "true"

    def write_v2(self, body: bytes) -> None:
        def v2_error(message: str) -> HttpError:
            return HttpError(400, {"code": "invalid", "message": message})

        precision = self._precision(
            V2_PRECISIONS,
            "nanosecond",
            lambda m: v2_error(f"failed to deserialize org/bucket/precision in request: {m}"),
        )
        bucket = self.params.get("bucket")
        if not bucket:
            raise v2_error("missing bucket value")
        self._write(bucket, body, precision, accept_partial=False, v2=True)

    def write_v1(self, body: bytes) -> None:
        db = self.params.get("db")
        if not db:
            raise HttpError(400, "missing query parameter 'db'")
        rp = self.params.get("rp", "")
        if rp and rp not in ("autogen", "default"):
            db = f"{db}/{rp}"
        precision = self._precision(
            V2_PRECISIONS, "nanosecond", lambda m: HttpError(400, f"serde error: {m}")
        )
        self._write(db, body, precision, accept_partial=False, v2=False)

    def _precision(self, allowed: dict[str, str], default: str, fail) -> str:
        value = self.params.get("precision", default)
        if value not in allowed:
            raise fail(f"unknown variant `{value}`, expected one of {', '.join(allowed)}")
        return allowed[value]

    def _write(self, db: str, body: bytes, precision: str, accept_partial: bool, v2: bool) -> None:
        serve_writes_behind_queries()  # this connection's thread yields the cores to queries
        # The gate covers the answer too: a writer thread past the store otherwise competed for
        # the GIL with the query threads alongside the next writers in the gate.
        with self.state.write_gate:
            result = self._store(db, body, precision, accept_partial, v2)
            if accept_partial or not result.errors:  # a write refused whole is not counted
                rejected = {e.line_number for e in result.errors}
                self.state.metrics.record_write(
                    db, result.stored, len(result.errors), valid_bytes(body, rejected)
                )
            if not result.errors:
                self.send(204, b"", None)
                return
        first = result.errors[0]
        if v2:
            raise HttpError(
                400,
                {
                    "code": "invalid",
                    "message": f"write buffer error: line protocol parse failed: {first.error_message}",
                },
            )
        if accept_partial:
            raise HttpError(
                422 if result.limit_hit else 400,
                {
                    "error": "partial write of line protocol occurred",
                    "data": [e.to_json() for e in result.errors],
                },
            )
        text = (
            "parsing failed for write_lp endpoint"
            if self.state.legacy_error_texts
            else "line protocol parsing error"
        )
        raise HttpError(400, {"error": text, "data": first.to_json()})

    def _store(self, db: str, body: bytes, precision: str, accept_partial: bool, v2: bool) -> WriteResult:
        try:
            parsed = parse_body(self.text(body))
        except HttpError as exc:
            if v2:
                raise HttpError(400, {"code": "invalid", "message": str(exc.body)}) from None
            raise
        if parsed.empty():
            raise (
                HttpError(400, {"code": "invalid", "message": "write buffer error: incoming write was empty"})
                if v2
                else HttpError(400, "incoming write was empty")
            )
        try:
            return self.state.catalog.write(db, parsed, precision, accept_partial)
        except CatalogError as exc:
            raise (
                HttpError(exc.status, {"code": "invalid", "message": str(exc)})
                if v2
                else error(exc.status, str(exc))
            ) from None

    # -- HTTP queries (§ 1.6) -----------------------------------------------------------------

    def query_sql(self, body: bytes) -> None:
        self._query(body, "sql")

    def query_influxql(self, body: bytes) -> None:
        self._query(body, "influxql")

    def _query(self, body: bytes, language: str) -> None:
        # `extract_query_request` (http.rs) parses a POST body as JSON whatever its Content-Type.
        request = self.json_body(body, check_type=False) if self.command == "POST" else dict(self.params)
        params = request.get("params")
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except ValueError:
                raise HttpError(400, "invalid params: not a JSON object") from None
        try:
            fmt = formats.format_from_request(request.get("format"), self.headers.get("Accept"))
        except formats.FormatError as exc:
            raise HttpError(400, str(exc)) from None
        if not request.get("q") or (language == "sql" and not request.get("db")):
            raise HttpError(400, "missing query parameters 'db' and 'q'")
        query = QueryRequest(request.get("db"), request["q"], language, params or None, via_http=True)
        table = run_query(self.state.executor, query)
        self.send(200, formats.render(table, fmt), formats.CONTENT_TYPES[fmt])

    # -- database and table management (§ 1.8) ------------------------------------------------
    def list_databases(self, _: bytes) -> None:
        fmt = self.params.get("format")
        if not fmt:
            raise HttpError(400, "missing query parameter 'format'")
        show_deleted = self.params.get("show_deleted", "false").lower() == "true"
        rows = self.state.catalog.listing(show_deleted)
        table = pa.table(
            {"iox::database": [r["iox::database"] for r in rows], "deleted": [r["deleted"] for r in rows]}
        )
        try:
            fmt = formats.format_from_request(fmt, None)
        except formats.FormatError as exc:
            raise HttpError(400, str(exc)) from None
        self.send(200, formats.render(table, fmt), formats.CONTENT_TYPES[fmt])

    def create_database(self, body: bytes) -> None:
        payload = self.json_body(body)
        retention = _retention(payload.get("retention_period"))
        self._catalog(lambda: self.state.catalog.create(str(payload.get("db", "")), retention))
        self.send(200, b"", None)

    def update_database(self, body: bytes) -> None:
        payload = self.json_body(body)
        retention = _retention(payload.get("retention_period"))
        self._catalog(lambda: self.state.catalog.set_retention(str(payload.get("db", "")), retention))
        self.send(200, b"", None)

    def delete_database(self, _: bytes) -> None:
        if "db" not in self.params:
            raise HttpError(400, "missing query parameters 'db'")
        self._catalog(lambda: self.state.catalog.delete(self.params.get("db", "")))
        self.state.executor.caches.drop_database(self.params.get("db", ""))
        self.send(200, b"", None)

    def set_retention(self, _: bytes) -> None:
        retention = _retention(self.params.get("duration"))
        self._catalog(lambda: self.state.catalog.set_retention(self.params.get("db", ""), retention))
        self.send(204, b"", None)

    def clear_retention(self, _: bytes) -> None:
        self._catalog(lambda: self.state.catalog.set_retention(self.params.get("db", ""), None))
        self.send(204, b"", None)

    def create_table(self, body: bytes) -> None:
        payload = self.json_body(body)
        kinds = {
            "utf8": "string",
            "int64": "integer",
            "uint64": "uinteger",
            "float64": "float",
            "bool": "boolean",
        }
        try:
            fields = {f["name"]: kinds[f["type"]] for f in payload.get("fields", [])}
        except (KeyError, TypeError):
            raise HttpError(400, "invalid field definition") from None
        self._catalog(
            lambda: self.state.catalog.create_table(
                str(payload.get("db", "")),
                str(payload.get("table", "")),
                list(payload.get("tags", [])),
                fields,
            )
        )
        self.send(200, b"", None)

    def delete_table(self, _: bytes) -> None:
        catalog = self.state.catalog
        with catalog.lock:
            db = catalog.get(self.params.get("db", ""))
            if db is None or db.tables.pop(self.params.get("table", ""), None) is None:
                raise error(404, "the requested resource could not be found")
            db.version += 1
        self.send(200, b"", None)

    # -- tokens (create_admin_token, regenerate_admin_token, create_named_admin_token,
    #    delete_token in http.rs): 201 with Content-Type `json` (sic), errors as plain text.
    def create_admin_token(self, _: bytes) -> None:
        self.send(201, compact(self.state.tokens.create_admin()), "json")

    def regenerate_admin_token(self, _: bytes) -> None:
        self.send(201, compact(self.state.tokens.create_admin(regenerate=True)), "json")

    def create_named_admin_token(self, body: bytes) -> None:
        payload = self.json_body(body)
        name = payload.get("token_name")
        if not isinstance(name, str):
            raise HttpError(400, "serde json error: missing field `token_name`")
        expiry = payload.get("expiry_secs")
        self.send(201, compact(self.state.tokens.create_named_admin(name, expiry)), "json")

    def delete_token(self, _: bytes) -> None:
        name = self.params.get("token_name")
        if name is None:
            raise HttpError(400, "serde error: missing field `token_name`")
        self.state.tokens.delete(name)
        self.send(200, b"", None)

    # -- last-value and distinct-value caches (configure_*_cache_* in http.rs) -------------------
    def create_last_cache(self, body: bytes) -> None:
        self._create_cache(body, "last")

    def create_distinct_cache(self, body: bytes) -> None:
        self._create_cache(body, "distinct")

    def _create_cache(self, body: bytes, kind: str) -> None:
        payload = self.json_body(body)
        db = self.state.catalog.get(str(payload.get("db", "")))
        table = db.tables.get(str(payload.get("table", ""))) if db else None
        if table is None:
            raise HttpError(404, "the requested resource could not be found")
        registry = self.state.executor.caches
        create = registry.create_last if kind == "last" else registry.create_distinct
        try:
            created = create(db.name, dict(table.columns), payload)
        except CacheError as exc:
            raise HttpError(exc.status, str(exc)) from None
        if created is None:
            self.send(204, b"", None)
        else:
            self.send(201, compact(created), "application/json")

    def delete_last_cache(self, body: bytes) -> None:
        self._delete_cache(body, "last")

    def delete_distinct_cache(self, body: bytes) -> None:
        self._delete_cache(body, "distinct")

    def _delete_cache(self, body: bytes, kind: str) -> None:
        request = dict(self.params) if self.query_string else self.json_body(body)
        for key in ("db", "table", "name"):
            if key not in request:
                raise HttpError(400, f"serde error: missing field `{key}`")
        try:
            self.state.executor.caches.delete(kind, request["db"], request["table"], request["name"])
        except CacheError as exc:
            raise HttpError(exc.status, str(exc)) from None
        self.send(200, b"", None)

    # -- /metrics (handle_metrics): Prometheus text, ended by the OpenMetrics EOF marker ------
    def metrics(self, _: bytes) -> None:
        text = self.state.metrics.render(self.state.catalog)
        self.send(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")

    # -- v1 /query (V1HttpHandler, iox_v1_query_api) ------------------------------------------
    def query_v1(self, body: bytes) -> None:
        values = dict(self.params)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if self.command == "POST" and content_type == "application/x-www-form-urlencoded":
            form = parse_qs(self.text(body), keep_blank_values=True)
            values.update({k: v[-1] for k, v in form.items()})
        try:
            request = v1query.params(values)
        except v1query.V1Error as exc:
            raise error(exc.status, str(exc)) from None
        results = [self._v1_statement(request)]
        if request.chunked:
            self.send(200, v1query.chunks(results, request.chunk_size), "application/json")
        else:
            self.send(200, v1query.body(results, request.pretty), "application/json")

    def _v1_statement(self, request: v1query.V1Params) -> dict:
        if request.database is None and v1query.needs_database(request.query):
            return {"statement_id": 0, "error": v1query.NO_DATABASE}
        query = QueryRequest(request.database, request.query, "influxql", via_http=True, v1=True)
        try:
            table = self.state.executor.run(query)
        except DatabaseNotFound as exc:
            return {"statement_id": 0, "error": f"database not found: {exc.name}"}
        except QueryError as exc:
            return {"statement_id": 0, "error": str(exc)}
        group_tags = _group_tags(request.query)
        found = v1query.series(table, group_tags, request.epoch)
        return {"statement_id": 0, "series": found} if found else {"statement_id": 0}

    def _catalog(self, action) -> None:
        try:
            action()
        except CatalogError as exc:
            # Catalog errors are plain text (`CatalogError::into_response`) except the limits
            # (422) and database-name validation (400), which are JSON.
            plain = exc.status in (404, 409)
            raise HttpError(exc.status, str(exc) if plain else {"error": str(exc)}) from None


def run_query(executor: Executor, request: QueryRequest):
    """Executor errors as the HTTP query endpoints answer them (Flight maps its own in flight.py):
    planning 400 and running 500 with DataFusion's text, not-implemented 405 (the query handler's
    DataFusion error mapping, influxdb3_server/src/http.rs and its tests)."""
    try:
        return executor.run(request)
    except DatabaseNotFound as exc:
        raise error(404, f"query error: database not found: {exc.name}") from None
    except InfluxQLParseError as exc:
        raise HttpError(400, f"error in InfluxQL statement: parsing error: {exc}") from None
    except NotImplementedQuery as exc:
        raise HttpError(405, str(exc)) from None
    except ExecutionError as exc:
        raise HttpError(500, str(exc)) from None
    except QueryError as exc:
        raise HttpError(400, str(exc)) from None


# A request line the stdlib splits into exactly (method, path, "HTTP/1.1"), path not `//`-led
# (which it rewrites): printable ASCII, single spaces.
_PLAIN_REQUEST = re.compile(rb"([A-Z]+) (/(?:[!-.0-~][!-~]*)?) HTTP/1\.1\r\n")
# Header lines the email parser reads as `name: value` and nothing else: a name of the
# characters its header pattern accepts, no bare CR or LF, no continuation line.
_PLAIN_HEADERS = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*\r\n){0,99}\r\n")
_HEADER_LINE = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r\n")


def _plain_head(request_line: bytes, buffered: bytes) -> tuple[tuple[str, str], list, int] | None:
    """(method and path, header (name, value) pairs, bytes of the header block) when the head
    is plain and its header block is wholly in `buffered`; None for the stdlib to parse.

    The values are the email parser's (compat32 `header_source_parse`: blanks after the colon
    dropped, the line break cut); at most 99 header lines and the blank one, the 100 lines
    `http.client._read_headers` allows (one more is its "got more than 100 headers")."""
    request = _PLAIN_REQUEST.fullmatch(request_line)
    block = _PLAIN_HEADERS.match(buffered) if request else None
    if block is None:
        return None
    text = block.group().decode("latin-1")
    headers = _HEADER_LINE.findall(text)
    return (request.group(1).decode(), request.group(2).decode()), headers, block.end()


def _utf8_error(exc: UnicodeDecodeError) -> str:
    """Rust's `Utf8Error` text for the same failure."""
    if exc.reason == "unexpected end of data":
        return f"incomplete utf-8 byte sequence from index {exc.start}"
    return f"invalid utf-8 sequence of {exc.end - exc.start} bytes from index {exc.start}"


def compact(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _group_tags(query: str) -> list[str]:
    """The tag names of an InfluxQL `GROUP BY` (time() excluded), for v1 series tags."""
    match = re.search(
        r"\bGROUP\s+BY\s+(.+?)(?:\bfill\b|\bORDER\b|\bLIMIT\b|\bOFFSET\b|;|$)", query, re.I | re.S
    )
    if not match:
        return []
    tags = []
    for part in match.group(1).split(","):
        part = part.strip()
        if part and not part.lower().startswith("time("):
            tags.append(part.strip('"'))
    return tags


def _retention(value: object) -> int | None:
    """Humantime durations such as `30d`, `1h30m`, `7 days`; None clears."""
    if value in (None, ""):
        return None
    total = 0
    for amount, unit in re.findall(r"(\d+)\s*([a-z]+)", str(value).lower()):
        unit = {
            "days": "d",
            "day": "d",
            "hours": "h",
            "hour": "h",
            "weeks": "w",
            "week": "w",
            "minutes": "m",
            "min": "m",
            "mins": "m",
            "seconds": "s",
            "sec": "s",
            "secs": "s",
            "years": "y",
            "year": "y",
        }.get(unit, unit)
        if unit not in DURATION_UNITS:
            raise HttpError(400, f"invalid retention period '{value}'")
        total += int(amount) * DURATION_UNITS[unit]
    if not total:
        raise HttpError(400, f"invalid retention period '{value}'")
    return total * 10**9


def _gunzip(raw: bytes, limit: int) -> bytes:
    out = gzip.decompress(raw)
    if len(out) > limit:
        raise HttpError(413, f"max request size ({limit} bytes) exceeded")
    return out


def make_handler(state: ServerState) -> type[Handler]:
    return type("BoundHandler", (Handler,), {"state": state})


__all__ = ["Handler", "ServerState", "make_handler", "run_query", "validate_db_name"]
