"""The real line-protocol grammar, rule for rule, for lines the fast paths do not take.

Follows `core/influxdb_line_protocol/src/lib.rs` (a nom parser): which inputs it accepts and the
error each rejected line gets, including nom's two failure kinds. A recoverable `_Miss` lets an
alternative or optional rule try something else; a `_Fail` (nom's `Failure`, from `cut`, from
value conversion, from the 64 KiB limit) ends the line. Written from the grammar's behaviour, not
copied.
"""

from __future__ import annotations

from dataclasses import dataclass

STRING_LIMIT = 65_536
CONTEXT_CHARS = 10
TRUE_TAGS = ("true", "True", "TRUE", "t", "T")
FALSE_TAGS = ("false", "False", "FALSE", "f", "F")
I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
ENDS_WITH_BACKSLASH = "Measurements, tag keys and values, and field keys may not end with a backslash"
TOO_LARGE = "String is greater than 64KB"


class _Miss(Exception):
    """nom `Error`: recoverable; `message` is what the line reports if nothing recovers."""

    def __init__(self, message: str, context: str | None = None) -> None:
        super().__init__(message)
        self.context = context


class _Fail(_Miss):
    """nom `Failure`: not recoverable."""


@dataclass
class Parsed:
    measurement: str
    tags: list[tuple[str, str]]
    fields: list[tuple[str, tuple[str, object]]]
    timestamp: int | None


def context(text: str) -> str:
    return text[:CONTEXT_CHARS] + "..." if len(text.encode()) > CONTEXT_CHARS else text


def parse(line: str) -> Parsed:
    """One line (leading whitespace already trimmed); raises ValueError with the real message."""
    try:
        parsed, rest = _line(line, 0)
    except _Miss as exc:
        raise ValueError(str(exc)) from None
    if rest < len(line):
        raise ValueError(f"Could not parse entire line. Found trailing content: `{context(line[rest:])}`")
    return parsed


def _line(s: str, i: int) -> tuple[Parsed, int]:
    measurement, i = _measurement(s, i)
    tags, i = _maybe_tagset(s, i)
    i = _whitespace(s, i)
    fields, i = _field_set(s, i)
    timestamp = None
    try:  # opt(preceded(whitespace, terminated(timestamp, opt(whitespace))))
        j = _whitespace(s, i)
        timestamp, j = _timestamp(s, j)
        i = _spaces(s, j)
    except _Fail:
        raise
    except _Miss:
        pass
    return Parsed(measurement, tags, fields, timestamp), i


def _spaces(s: str, i: int) -> int:
    while i < len(s) and s[i] == " ":
        i += 1
    return i


def _whitespace(s: str, i: int) -> int:
    j = _spaces(s, i)
    if j == i:
        got = "end of input" if i >= len(s) else f"`{s[i:]}`"
        raise _Miss(f"Expected at least one space character, got {got}")
    return j


def _escaped(s: str, i: int, normal, escapable: str) -> tuple[str, int]:
    """`escape_or_fallback`: runs of normal characters and backslash escapes; an unknown escape
    keeps the backslash and the next character. Nothing parsed is a `_Miss`."""
    out: list[str] = []
    j = i
    while True:
        k = j
        while k < len(s) and normal(s[k]):
            k += 1
        if k > j:
            out.append(s[j:k])
            j = k
            continue
        if j < len(s) and s[j] == "\\":
            after = j + 1
            if after < len(s) and s[after] in escapable:
                out.append(s[after])
                j = after + 1
            else:
                out.append("\\")
                j = after
                if j >= len(s):
                    break
                out.append(s[j])
                j += 1
            continue
        if j == i:
            raise _Miss("A generic parsing error occurred: TakeWhile1")
        break
    value = "".join(out)
    if value.endswith("\\"):
        raise _Fail(ENDS_WITH_BACKSLASH)
    if len(value.encode()) > STRING_LIMIT:
        raise _Fail(TOO_LARGE)
    return value, j


def _measurement(s: str, i: int) -> tuple[str, int]:
    try:
        return _escaped(s, i, lambda c: c not in " \t\n\0,\\", ", \\")
    except _Fail:
        raise
    except _Miss:
        raise _Miss("Invalid measurement was provided") from None


def _maybe_tagset(s: str, i: int) -> tuple[list[tuple[str, str]], int]:
    if i >= len(s) or s[i] != ",":
        return [], i
    rest = i + 1
    try:
        tags, j = _tag_set(s, rest)
    except _Fail as exc:
        if exc.context:
            raise _Fail(f"Tag set malformed: could not find {exc.context} in `{context(s[rest:])}`") from None
        raise
    except _Miss:
        raise _Fail("Tag set malformed") from None
    if not tags:
        raise _Miss("Tag set malformed")
    return tags, j


def _tag_set(s: str, i: int) -> tuple[list[tuple[str, str]], int]:
    """separated_list(',', cut(key) '=' cut(value)); cut turns every miss into a failure."""
    tags = [_one_tag(s, i)]
    i = tags[-1][2]
    while i < len(s) and s[i] == ",":
        tags.append(_one_tag(s, i + 1))
        i = tags[-1][2]
    return [(k, v) for k, v, _ in tags], i


def _one_tag(s: str, i: int) -> tuple[str, str, int]:
    try:
        key, i = _escaped(s, i, lambda c: c not in " \t\n=\\", "\\,= ")
    except _Fail:
        raise
    except _Miss:
        raise _Fail(f"Expected tag key, got {_got(s[i:])}") from None
    if i >= len(s) or s[i] != "=":
        raise _Fail("equals sign", context="equals sign")
    try:
        value, i = _escaped(s, i + 1, lambda c: c not in " \t\n,\\", "\\,= ")
    except _Fail:
        raise
    except _Miss:
        raise _Fail(f"Expected tag value, got {_got(s[i + 1 :])}") from None
    return key, value, i


def _got(rest: str) -> str:
    return "end of input" if not rest else f"`{context(rest)}`"


def _field_set(s: str, i: int) -> tuple[list[tuple[str, tuple[str, object]]], int]:
    """separated_list1(',', key '=' value), as the parser's own list helpers behave: the comma
    before the second field is consumed even when that field does not parse, later ones are not."""
    try:
        first, i = _one_field(s, i)
    except _Fail:
        raise
    except _Miss:
        raise _Miss("No fields were provided") from None
    fields = [first]
    if i < len(s) and s[i] == ",":
        i += 1
        try:
            field, i = _one_field(s, i)
        except _Fail:
            raise
        except _Miss:
            return fields, i
        fields.append(field)
        while i < len(s) and s[i] == ",":
            try:
                field, j = _one_field(s, i + 1)
            except _Fail:
                raise
            except _Miss:
                return fields, i
            fields.append(field)
            i = j
    return fields, i


def _one_field(s: str, i: int) -> tuple[tuple[str, tuple[str, object]], int]:
    key, i = _escaped(s, i, lambda c: c not in " \t\n=\\", "\\,= ")
    if i >= len(s) or s[i] != "=":
        raise _Miss("expected '='")
    value, i = _field_value(s, i + 1)
    return (key, value), i


def _digits(s: str, i: int) -> int:
    j = i
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    return j


def _signed(s: str, i: int) -> int:
    """integral_value_signed: -?digits; returns the end, or raises _Miss."""
    j = i + 1 if i < len(s) and s[i] == "-" else i
    k = _digits(s, j)
    if k == j:
        raise _Miss("digits")
    return k


def _field_value(s: str, i: int) -> tuple[tuple[str, object], int]:
    for rule in (_integer, _uinteger, _float, _string, _boolean):
        try:
            return rule(s, i)
        except _Fail:
            raise
        except _Miss:
            continue
    raise _Miss("no field value")


def decimal(text: str) -> int:
    """`int(text)` of an ASCII decimal (optional '-'), also past Python's 4300-digit limit: the
    value is then one no i64 or u64 holds, so the caller's range check refuses it as the real
    parser refuses an overflow (leading zeros count for nothing, as in Rust's `parse`)."""
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-").lstrip("0") or "0"
    return sign * (2**64 if len(digits) > 20 else int(digits))


def _integer(s: str, i: int) -> tuple[tuple[str, object], int]:
    end = _signed(s, i)
    if end >= len(s) or s[end] != "i":
        raise _Miss("i")
    value = decimal(s[i:end])
    if not I64_MIN <= value <= I64_MAX:
        raise _Fail(f"Unable to parse integer value `{s[i:end]}`")
    return ("integer", value), end + 1


def _uinteger(s: str, i: int) -> tuple[tuple[str, object], int]:
    end = _digits(s, i)
    if end == i or end >= len(s) or s[end] != "u":
        raise _Miss("u")
    value = decimal(s[i:end])
    if value > U64_MAX:
        raise _Fail(f"Unable to parse unsigned integer value `{s[i:end]}`")
    return ("uinteger", value), end + 1


def _exponent(s: str, i: int) -> int:
    """digits (e|E) [+-] digits, from i; returns the end or raises _Miss."""
    j = _digits(s, i)
    if j == i or j >= len(s) or s[j] not in "eE":
        raise _Miss("exponent")
    j += 1
    if j < len(s) and s[j] in "+-":
        j += 1
    k = _digits(s, j)
    if k == j:
        raise _Miss("exponent digits")
    return k


def _float(s: str, i: int) -> tuple[tuple[str, object], int]:
    end = None
    whole = _signed(s, i)  # every alternative starts with a signed integral part
    if whole < len(s) and s[whole] == ".":
        try:
            end = _exponent(s, whole + 1)  # with exponent and decimal
        except _Miss:
            end = None
    if end is None:
        start = i + 1 if s[i] == "-" else i
        try:
            end = _exponent(s, start)  # with exponent, no decimal
        except _Miss:
            end = None
    if end is None and whole < len(s) and s[whole] == ".":
        frac = _digits(s, whole + 1)
        end = frac if frac > whole + 1 else None  # with decimal
    if end is None:
        end = whole  # no decimal
    return ("float", float(s[i:end])), end


def _string(s: str, i: int) -> tuple[tuple[str, object], int]:
    if i >= len(s) or s[i] != '"':
        raise _Miss("quote")
    out: list[str] = []
    j = i + 1
    while j < len(s):
        char = s[j]
        if char == "\\":
            nxt = s[j + 1] if j + 1 < len(s) else ""
            if nxt in ('"', "\\"):
                out.append(nxt)
                j += 2
            else:
                out.append("\\")
                j += 1
            continue
        if char == '"':
            value = "".join(out)
            if len(value.encode()) > STRING_LIMIT:
                raise _Fail(TOO_LARGE)
            return ("string", value), j + 1
        out.append(char)
        j += 1
    raise _Miss("unterminated string")


def _boolean(s: str, i: int) -> tuple[tuple[str, object], int]:
    for word in TRUE_TAGS + FALSE_TAGS:  # the grammar's order: longest spelling first
        if s.startswith(word, i):
            return ("boolean", word in TRUE_TAGS), i + len(word)
    raise _Miss("boolean")


def _timestamp(s: str, i: int) -> tuple[int, int]:
    end = _signed(s, i)
    value = decimal(s[i:end])
    if not I64_MIN <= value <= I64_MAX:
        raise _Fail(f"Unable to parse timestamp value `{s[i:end]}`")
    return value, end
