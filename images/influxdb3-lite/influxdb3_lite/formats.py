"""HTTP query output formats (specs § 1.6): json, jsonl, csv, pretty, parquet.

Timestamps render as arrow-rs does for Timestamp(ns) without a zone: `2065-01-07T17:28:51`, with
the fraction only when it is not zero (3, 6 or 9 digits); durations (`system.queries`) as its ISO 8601
default, chrono's `PT0.000123456S`; null values are omitted from JSON rows.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq

CONTENT_TYPES = {
    "json": "application/json",
    "jsonl": "application/jsonl",
    "csv": "text/csv",
    "pretty": "text/plain; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
FORMAT_ALIASES = {"json_lines": "jsonl"}


class FormatError(ValueError):
    pass


def format_from_request(fmt: str | None, accept: str | None) -> str:
    """The header is parsed first, so a bad Accept fails even when `format` is given."""
    from_header = _from_accept(accept)
    if fmt:
        fmt = FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in CONTENT_TYPES:
            raise FormatError(f"invalid format '{fmt}'")
        return fmt
    return from_header


def _from_accept(accept: str | None) -> str:
    if not accept or accept in ("application/json", "*/*") or "text/html" in accept or "*/*" in accept:
        return "json"
    mapping = {"text/csv": "csv", "text/plain": "pretty", "application/vnd.apache.parquet": "parquet"}
    if accept in mapping:
        return mapping[accept]
    raise FormatError(f"invalid mime type ({accept})")


def render(table: pa.Table, fmt: str) -> bytes:
    return {"json": _json, "jsonl": _jsonl, "csv": _csv, "pretty": _pretty, "parquet": _parquet}[fmt](table)


def format_timestamp(ns: int) -> str:
    seconds, fraction = divmod(ns, 10**9)

    base = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if not fraction:
        return base
    digits = f"{fraction:09d}"
    for width in (3, 6, 9):
        if int(digits[width:] or 0) == 0:
            return f"{base}.{digits[:width]}"
    return f"{base}.{digits}"


_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_SECONDS_PER_DAY = 86_400


def format_duration(ns: int) -> str:
    """A duration as arrow-rs displays it by default (DurationFormat::ISO8601, i.e. chrono's
    TimeDelta Display): `P{days}D` when there are days, then `T{seconds}S` with a fraction of 3, 6
    or 9 digits when it is not zero; a negative duration is the positive one after a `-`."""
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    seconds, nanos = divmod(ns, 10**9)
    days, seconds = divmod(seconds, _SECONDS_PER_DAY)
    text = f"{sign}P" + (f"{days}D" if days else "")
    if seconds or nanos or not days:
        if not nanos:
            fraction = ""
        elif nanos % 10**6 == 0:
            fraction = f".{nanos // 10**6:03d}"
        elif nanos % 10**3 == 0:
            fraction = f".{nanos // 10**3:06d}"
        else:
            fraction = f".{nanos:09d}"
        text += f"T{seconds}{fraction}S"
    return text


def _cell(value: object, dtype: pa.DataType) -> object:
    if value is None:
        return None
    if pa.types.is_timestamp(dtype):
        return format_timestamp(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _values(column: pa.Array | pa.ChunkedArray) -> list[object]:
    """Python values ready for JSON/CSV: timestamps formatted (read as integers so sub-microsecond
    digits survive), structs as objects without their null fields, as arrow-json writes them."""
    dtype = column.type
    if pa.types.is_timestamp(dtype):
        return [None if v is None else format_timestamp(v) for v in column.cast(pa.int64()).to_pylist()]
    if pa.types.is_duration(dtype):  # as integers: pyarrow refuses timedelta for sub-microsecond values
        scale = _NS_PER_UNIT[dtype.unit]
        return [
            None if v is None else format_duration(v * scale) for v in column.cast(pa.int64()).to_pylist()
        ]
    if pa.types.is_struct(dtype):
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        children = {array.type.field(i).name: _values(array.field(i)) for i in range(array.type.num_fields)}
        valid = array.is_valid().to_pylist()
        return [
            {k: v[i] for k, v in children.items() if v[i] is not None} if ok else None
            for i, ok in enumerate(valid)
        ]
    return [_cell(v, dtype) for v in column.to_pylist()]


def _rows(table: pa.Table) -> list[dict[str, object]]:
    columns = [
        (name, _values(column)) for name, column in zip(table.column_names, table.columns, strict=True)
    ]
    rows = []
    for index in range(table.num_rows):
        row = {}
        for name, values in columns:
            cell = values[index]
            if cell is not None:
                row[name] = cell
        rows.append(row)
    return rows


def _json(table: pa.Table) -> bytes:
    return json.dumps(_rows(table), separators=(",", ":")).encode()


def _jsonl(table: pa.Table) -> bytes:
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in _rows(table)).encode()


def _text_rows(table: pa.Table) -> list[list[str]]:
    out = []
    for row in _rows(table):
        out.append(["" if row.get(n) is None else _text(row[n]) for n in table.column_names])
    return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv(table: pa.Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    writer.writerows(_text_rows(table))
    return buffer.getvalue().encode()


def _pretty(table: pa.Table) -> bytes:
    header = table.column_names
    rows = _text_rows(table)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=False)) + "|"

    body = [rule, line(header), rule, *[line(r) for r in rows], rule] if header else []
    return ("\n".join(body) + "\n").encode() if body else b""


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
