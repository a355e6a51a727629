"""Line protocol parsing, as InfluxDB 3 Core accepts it (specs/influxdb3-mosquitto.md § 1.4).

`parse_lines` returns the good lines and one `LineError` per bad line (1-based line numbers), so
the caller can apply the endpoint's partial-write rule. Most lines carry no escapes and no quoted
strings; those take a split-based fast path, the rest a character scanner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Field value kinds; the names are InfluxDB's own column type names (iox::column_type::field::*).
FLOAT, INTEGER, UINTEGER, STRING, BOOLEAN = "float", "integer", "uinteger", "string", "boolean"
TRUE_WORDS = frozenset({"t", "T", "true", "True", "TRUE"})
FALSE_WORDS = frozenset({"f", "F", "false", "False", "FALSE"})
FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
INT_RE = re.compile(r"[+-]?\d+\Z")
I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


class LineProtocolError(ValueError):
    """One line could not be parsed; the message follows the real parser's wording."""


@dataclass(slots=True)
class Line:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, tuple[str, object]]
    timestamp: int | None
    number: int = 0
    text: str = ""


@dataclass(slots=True)
class LineError:
    error_message: str
    line_number: int
    original_line: str

    def to_json(self) -> dict[str, object]:
        return {
            "error_message": self.error_message,
            "line_number": self.line_number,
            "original_line": self.original_line,
        }


@dataclass
class Parsed:
    lines: list[Line] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    # Column-wise parsed lines (lpvector.LineGroup); the reference parser leaves this empty.
    groups: list = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.lines or self.errors or self.groups)


def truncate(text: str, limit: int = 20) -> str:
    """The server reports at most 20 bytes of the offending line (cut on a character boundary)."""
    raw = text.encode()[:limit]
    return raw.decode(errors="ignore")


MAX_STRING_BYTES = 64 * 1024


def split_lines(body: str) -> list[str]:
    """Lines as the real parser splits a body (`split_lines`, core/influxdb_line_protocol): a
    newline inside a double-quoted string (quotes not escaped by a backslash) stays in the line."""
    if '"' not in body:
        return body.split("\n")
    lines, start, quoted, escaped = [], 0, False, False
    for index, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted:
            lines.append(body[start:index])
            start = index + 1
    lines.append(body[start:])
    return lines


def parse_lines(body: str) -> Parsed:
    """The reference parser: line by line (lpvector.parse_body is the column-wise fast path)."""
    out = Parsed()
    for number, text in enumerate(split_lines(body), start=1):
        parse_into(out, number, text)
    return out


def parse_into(out: Parsed, number: int, text: str) -> None:
    """One raw line of a body: skipped if blank or a comment, else a Line or a LineError."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return
    try:
        line = parse_line(stripped)
        _validate(line)
    except LineProtocolError as exc:
        out.errors.append(LineError(str(exc), number, truncate(stripped)))
        return
    line.number, line.text = number, stripped
    out.lines.append(line)


def _validate(line: Line) -> None:
    """Checks the real write validator makes per line (influxdb3_write/src/write_buffer/
    validator.rs): a name used as tag and field, and string fields over 64 KiB, reject the line."""
    for key, (kind, value) in line.fields.items():
        if key in line.tags:
            raise LineProtocolError(
                f"invalid column type for column '{key}', expected iox::column_type::tag, "
                f"got iox::column_type::field::{kind}"
            )
        if kind == STRING and len(value.encode()) > MAX_STRING_BYTES:
            raise LineProtocolError(
                f"field '{key}' has a string value of {len(value.encode())} bytes, "
                f"over the limit of {MAX_STRING_BYTES} bytes"
            )


def parse_line(text: str) -> Line:
    if "\\" in text or '"' in text:
        return _Scanner(text).line()
    return _fast_line(text)


def _fast_line(text: str) -> Line:
    parts = text.split(" ")
    if len(parts) < 2 or not parts[1]:
        raise LineProtocolError("No fields were provided")
    if len(parts) > 3:
        raise LineProtocolError(
            f"Could not parse entire line. Found trailing content: '{' '.join(parts[3:])}'"
        )
    series = parts[0].split(",")
    measurement = series[0]
    if not measurement:
        raise LineProtocolError("Invalid measurement was provided")
    tags: dict[str, str] = {}
    for pair in series[1:]:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise LineProtocolError("Invalid tag set was provided")
        tags[key] = value
    fields: dict[str, tuple[str, object]] = {}
    for pair in parts[1].split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise LineProtocolError("No fields were provided" if not sep else "Invalid field value")
        _add_field(fields, key, field_value(value))
    timestamp = parse_timestamp(parts[2]) if len(parts) == 3 and parts[2] else None
    return Line(measurement, tags, fields, timestamp)


def _add_field(fields: dict[str, tuple[str, object]], key: str, value: tuple[str, object]) -> None:
    if key in fields:
        raise LineProtocolError(f"invalid line protocol - multiple instances of '{key}' field found")
    fields[key] = value


def field_value(raw: str) -> tuple[str, object]:
    last = raw[-1]
    if last == "i" and INT_RE.match(raw[:-1]):
        value = int(raw[:-1])
        if not I64_MIN <= value <= I64_MAX:
            raise LineProtocolError(f"Unable to parse integer value `{raw[:-1]}`")
        return INTEGER, value
    if last == "u" and INT_RE.match(raw[:-1]):
        value = int(raw[:-1])
        if not 0 <= value <= U64_MAX:
            raise LineProtocolError(f"Unable to parse unsigned integer value `{raw[:-1]}`")
        return UINTEGER, value
    if raw in TRUE_WORDS:
        return BOOLEAN, True
    if raw in FALSE_WORDS:
        return BOOLEAN, False
    if FLOAT_RE.match(raw):
        return FLOAT, float(raw)
    if last in "iu":
        raise LineProtocolError(f"Unable to parse integer value `{raw[:-1]}`")
    raise LineProtocolError(f"Invalid field value: `{raw}`")


def parse_timestamp(raw: str) -> int:
    if not INT_RE.match(raw):
        raise LineProtocolError(f"Unable to parse timestamp value '{raw}'")
    value = int(raw)
    if not I64_MIN <= value <= I64_MAX:
        raise LineProtocolError(f"Unable to parse timestamp value '{raw}'")
    return value


class _Scanner:
    """The general path: backslash escapes in names, quoted string fields with \\" and \\\\."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def line(self) -> Line:
        measurement = self._name(stops=", ")
        if not measurement:
            raise LineProtocolError("Invalid measurement was provided")
        tags: dict[str, str] = {}
        while self._peek() == ",":
            self.pos += 1
            key = self._name(stops=",= ")
            if not self._eat("="):
                raise LineProtocolError("Invalid tag set was provided")
            value = self._name(stops=", ")
            if not key or not value:
                raise LineProtocolError("Invalid tag set was provided")
            tags[key] = value
        if not self._eat(" ") or self._peek() in ("", " "):
            raise LineProtocolError("No fields were provided")
        fields: dict[str, tuple[str, object]] = {}
        while True:
            key = self._name(stops=",= ")
            if not key or not self._eat("="):
                raise LineProtocolError("No fields were provided" if not fields else "Invalid field set")
            _add_field(fields, key, self._value())
            if not self._eat(","):
                break
        timestamp = None
        if self._eat(" "):
            rest = self.text[self.pos :]
            if " " in rest:
                raise LineProtocolError(f"Could not parse entire line. Found trailing content: '{rest}'")
            timestamp = parse_timestamp(rest) if rest else None
            self.pos = len(self.text)
        if self.pos != len(self.text):
            raise LineProtocolError(
                f"Could not parse entire line. Found trailing content: '{self.text[self.pos :]}'"
            )
        return Line(measurement, tags, fields, timestamp)

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _eat(self, char: str) -> bool:
        if self._peek() == char:
            self.pos += 1
            return True
        return False

    def _name(self, stops: str) -> str:
        out: list[str] = []
        text, n = self.text, len(self.text)
        while self.pos < n:
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < n and text[self.pos + 1] in stops + "\\":
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char in stops:
                break
            out.append(char)
            self.pos += 1
        return "".join(out)

    def _value(self) -> tuple[str, object]:
        if self._peek() != '"':
            raw = self._name(stops=", ")
            if not raw:
                raise LineProtocolError("Invalid field value")
            return field_value(raw)
        self.pos += 1
        out: list[str] = []
        text, n = self.text, len(self.text)
        while self.pos < n:
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < n and text[self.pos + 1] in '"\\':
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return STRING, "".join(out)
            out.append(char)
            self.pos += 1
        raise LineProtocolError("Unterminated string literal")
