"""Flight SQL statement queries and prepared statements (the FlightSQL half of the real server's
Flight service, `core/service_grpc_flight/src/lib.rs` and `core/flightsql/src/cmd.rs`).

The messages are protobuf (`FlightSql.proto` of Apache Arrow) wrapped in `google.protobuf.Any`;
the few this server reads and writes are encoded here by hand (string/bytes fields only), so the
image needs no protobuf runtime. Only what statement queries need is understood: a
`CommandStatementQuery` or `CommandPreparedStatementQuery` in GetFlightInfo, and the
CreatePreparedStatement / ClosePreparedStatement actions. As the real server's, a prepared
statement's handle carries its whole state (the SQL text), so nothing is kept between calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.ipc  # noqa: F401 - pa.ipc is a submodule, imported for its own sake

PREFIX = "type.googleapis.com/arrow.flight.protocol.sql."
STATEMENT_QUERY = PREFIX + "CommandStatementQuery"
PREPARED_QUERY = PREFIX + "CommandPreparedStatementQuery"
CREATE_PREPARED = PREFIX + "ActionCreatePreparedStatementRequest"
CREATE_PREPARED_RESULT = PREFIX + "ActionCreatePreparedStatementResult"
CLOSE_PREPARED = PREFIX + "ActionClosePreparedStatementRequest"
# The real server's handle: an Any of its own `FlightSqlPreparedStatementHandle` (query = 1).
HANDLE = "type.googleapis.com/influxdata.iox.querier.v1.FlightSqlPreparedStatementHandle"


class ProtoError(ValueError):
    """Bytes that are not the protobuf message expected."""


@dataclass
class Command:
    """A decoded Flight SQL command: its type (the Any's type URL), its length-delimited fields
    by number (the last one wins) and every field in order (`entries`: varints as ints), which
    repeated and optional fields need."""

    type_url: str
    fields: dict[int, bytes]
    entries: list[tuple[int, int | bytes]] = field(default_factory=list)

    def text(self, number: int) -> str:
        return _utf8(self.fields.get(number, b""), number, self.type_url)

    def optional_text(self, number: int) -> str | None:
        """A proto3 `optional string`: None when absent, which differs from an empty string."""
        return self.text(number) if number in self.fields else None

    def texts(self, number: int) -> list[str]:
        """A `repeated string`, in order."""
        return [
            _utf8(v, number, self.type_url) for n, v in self.entries if n == number and isinstance(v, bytes)
        ]

    def flag(self, number: int) -> bool:
        values = [v for n, v in self.entries if n == number and isinstance(v, int)]
        return bool(values[-1]) if values else False

    def integers(self, number: int) -> list[int]:
        """A `repeated uint32/int32`, packed (one length-delimited run) or not (one varint each)."""
        out: list[int] = []
        for n, value in self.entries:
            if n != number:
                continue
            if isinstance(value, int):
                out.append(value)
                continue
            pos = 0
            while pos < len(value):
                item, pos = _varint(value, pos)
                out.append(item)
        return out


def _utf8(value: bytes, number: int, type_url: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtoError(f"field {number} of {type_url} is not UTF-8") from None


def decode_entries(data: bytes) -> list[tuple[int, int | bytes]]:
    """Every field in wire order: varints as ints, length-delimited fields as bytes; fixed-width
    fields (no Flight SQL command has one) are skipped."""
    entries: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            entries.append((number, value))
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtoError("truncated field")
            entries.append((number, data[pos : pos + size]))
            pos += size
        else:
            raise ProtoError(f"unsupported wire type {wire}")
    if pos != len(data):
        raise ProtoError("truncated field")
    return entries


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtoError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def decode_fields(data: bytes) -> dict[int, bytes]:
    """Length-delimited fields by number (the last occurrence wins, as protobuf merges scalars)."""
    return {number: value for number, value in decode_entries(data) if isinstance(value, bytes)}


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_fields(fields: dict[int, bytes]) -> bytes:
    return b"".join(
        _encode_varint(number << 3 | 2) + _encode_varint(len(value)) + value
        for number, value in sorted(fields.items())
    )


def unpack(data: bytes) -> Command:
    """An Any (type_url = 1, value = 2) and the message inside it."""
    outer = decode_fields(data)
    try:
        type_url = outer.get(1, b"").decode("utf-8")
    except UnicodeDecodeError:
        raise ProtoError("type URL is not UTF-8") from None
    inner = outer.get(2, b"")
    return Command(type_url, decode_fields(inner), decode_entries(inner))


def pack(type_url: str, fields: dict[int, bytes]) -> bytes:
    return encode_fields({1: type_url.encode(), 2: encode_fields(fields)})


@dataclass
class Handle:
    """A prepared statement's state, all of it in the handle: the SQL text and, once bound by
    DoPut, the parameter batch as an Arrow IPC stream (`FlightSqlPreparedStatementHandle`)."""

    query: str
    params: bytes | None = None

    def encode(self) -> bytes:
        fields = {1: self.query.encode()}
        if self.params is not None:
            fields[2] = self.params
        return pack(HANDLE, fields)

    def param_values(self) -> dict[str, object] | None:
        """Each parameter column's first value by field name (`to_df_param_values`)."""
        if self.params is None:
            return None
        batch = pa.ipc.open_stream(self.params).read_all()
        return {name: batch.column(name)[0].as_py() for name in batch.column_names} or None


def decode_handle(handle: bytes) -> Handle:
    """A prepared statement handle; as the real server, one that is not an Any is read as the
    SQL text itself (its earlier encoding)."""
    try:
        command = unpack(handle)
    except ProtoError:
        try:
            return Handle(handle.decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtoError("invalid prepared statement handle") from None
    if command.type_url != HANDLE:
        raise ProtoError(f"Invalid type_url. Expected {HANDLE}, got {command.type_url}")
    return Handle(command.text(1), command.fields.get(2))
