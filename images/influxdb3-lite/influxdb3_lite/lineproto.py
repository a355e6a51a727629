"""Line protocol parsing, as InfluxDB 3 Core accepts it (`core/influxdb_line_protocol`).

`parse_lines` returns the good lines and one `LineError` per bad line (1-based line numbers), so
the caller can apply the endpoint's partial-write rule. Lines of plain names and values take a
split-based fast path; every other line, and every line the fast path would reject, goes through
`lpgrammar`, the real grammar rule for rule, so what is accepted and each error's text are the
real parser's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from influxdb3_lite import lpgrammar

# Field value kinds; the names are InfluxDB's own column type names (iox::column_type::field::*).
FLOAT, INTEGER, UINTEGER, STRING, BOOLEAN = "float", "integer", "uinteger", "string", "boolean"
TRUE_WORDS = frozenset({"t", "T", "true", "True", "TRUE"})
FALSE_WORDS = frozenset({"f", "F", "false", "False", "FALSE"})
# The grammar's number shapes (ASCII digits only): -?digits[.digits][(e|E)[+-]digits].
FLOAT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
INT_RE = re.compile(r"-?[0-9]+\Z")
UINT_RE = re.compile(r"[0-9]+\Z")
# A line the fast path may take: plain names/values (no controls, space, ',', '=', '"', '\\'),
# single spaces, an optional integer timestamp, nothing after it.
_P = r'[^\x00-\x20,="\\]'
SIMPLE_LINE = re.compile(rf"{_P}+(?:,{_P}+={_P}+)* {_P}+={_P}+(?:,{_P}+={_P}+)*(?: -?[0-9]+)?\Z")
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
    """Lines as the real parser splits a body (`split_lines`, a port of Go's `scanLine`): after
    the first space, a double quote opens or closes a string only inside a field value (more
    '=' than ',' seen), and a newline inside a string, or escaped by a backslash, stays in the
    line."""
    if '"' not in body and "\\" not in body:
        return body.split("\n")
    lines, start = [], 0
    quoted = fields = escaped = False
    equals = commas = 0
    for index, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == " ":
            fields = True
        elif fields and not quoted and char == "=":
            equals += 1
        elif fields and not quoted and char == ",":
            commas += 1
        elif fields and char == '"' and equals > commas:
            quoted = not quoted
        elif char == "\n" and not quoted:
            lines.append(body[start:index])
            start = index + 1
            fields, equals, commas = False, 0, 0
    lines.append(body[start:])
    return lines


def parse_lines(body: str) -> Parsed:
    """The reference parser: line by line (lpvector.parse_body is the column-wise fast path)."""
    out = Parsed()
    for number, text in enumerate(split_lines(body), start=1):
        parse_into(out, number, text)
    return out


def trim_leading(text: str) -> str:
    """`trim_leading`: spaces, tabs and newlines on the left only; a comment line is empty."""
    text = text.lstrip(" \t\n")
    return "" if text.startswith("#") else text


def parse_into(out: Parsed, number: int, text: str) -> None:
    """One raw line of a body: skipped if blank or a comment, else a Line or a LineError."""
    trimmed = trim_leading(text)
    if not trimmed:
        return
    try:
        line = parse_line(trimmed)
        _validate(line)
    except LineProtocolError as exc:
        out.errors.append(LineError(str(exc), number, truncate(trimmed)))
        return
    line.number, line.text = number, trimmed
    out.lines.append(line)


def _validate(line: Line) -> None:
    """The write validator's per-line check (influxdb3_write/src/write_buffer/validator.rs): a
    name that is a tag cannot also be a field, the column types clash."""
    for key, (kind, _) in line.fields.items():
        if key in line.tags:
            raise LineProtocolError(
                f"invalid column type for column '{key}', expected iox::column_type::tag, "
                f"got iox::column_type::field::{kind}"
            )


def parse_line(text: str) -> Line:
    if SIMPLE_LINE.match(text):
        try:
            return _fast_line(text)
        except LineProtocolError:
            pass  # the grammar decides the exact error
    try:
        parsed = lpgrammar.parse(text)
    except ValueError as exc:
        raise LineProtocolError(str(exc)) from None
    fields: dict[str, tuple[str, object]] = {}
    for key, value in parsed.fields:
        _add_field(fields, key, value)
    return Line(parsed.measurement, dict(parsed.tags), fields, parsed.timestamp)


def _fast_line(text: str) -> Line:
    """A SIMPLE_LINE: split on the separators; any value the grammar would read differently
    raises, and the caller asks the grammar."""
    parts = text.split(" ")
    series = parts[0].split(",")
    tags: dict[str, str] = {}
    for pair in series[1:]:
        key, _, value = pair.partition("=")
        tags[key] = value
    fields: dict[str, tuple[str, object]] = {}
    for pair in parts[1].split(","):
        key, _, value = pair.partition("=")
        _add_field(fields, key, field_value(value))
    timestamp = parse_timestamp(parts[2]) if len(parts) == 3 else None
    return Line(series[0], tags, fields, timestamp)


def _add_field(fields: dict[str, tuple[str, object]], key: str, value: tuple[str, object]) -> None:
    if key in fields:
        raise LineProtocolError(f"invalid line protocol - multiple instances of '{key}' field found")
    fields[key] = value


def field_value(raw: str) -> tuple[str, object]:
    """A whole token as one field value of the grammar, or LineProtocolError."""
    last = raw[-1:]
    if last == "i" and INT_RE.match(raw[:-1]):
        value = lpgrammar.decimal(raw[:-1])
        if not I64_MIN <= value <= I64_MAX:
            raise LineProtocolError(f"Unable to parse integer value `{raw[:-1]}`")
        return INTEGER, value
    if last == "u" and UINT_RE.match(raw[:-1]):
        value = lpgrammar.decimal(raw[:-1])
        if value > U64_MAX:
            raise LineProtocolError(f"Unable to parse unsigned integer value `{raw[:-1]}`")
        return UINTEGER, value
    if raw in TRUE_WORDS:
        return BOOLEAN, True
    if raw in FALSE_WORDS:
        return BOOLEAN, False
    if FLOAT_RE.match(raw):
        return FLOAT, float(raw)
    raise LineProtocolError(f"Invalid field value: `{raw}`")


def parse_timestamp(raw: str) -> int:
    if not INT_RE.match(raw):
        raise LineProtocolError(f"Unable to parse timestamp value `{raw}`")
    value = lpgrammar.decimal(raw)
    if not I64_MIN <= value <= I64_MAX:
        raise LineProtocolError(f"Unable to parse timestamp value `{raw}`")
    return value
