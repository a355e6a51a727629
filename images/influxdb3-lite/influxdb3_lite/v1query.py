"""The v1 `/query` endpoint's response shape (InfluxQL over HTTP, as InfluxDB 1.x answers it).

Real source (influxdata/influxdb): the router sends GET and POST `/query` (`API_V1_QUERY`,
influxdb3_server/src/http.rs) to `V1HttpHandler` (`iox_v1_query_api`): parameters `q`, `db`,
`epoch`, `chunked`, `chunk_size`, `pretty`, also as a form body; the body is
`{"results":[{"statement_id":0,"series":[{"name","tags","columns","values"}]}]}`, one series per
measurement and tag set, times RFC 3339 unless `epoch` asks for integers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pyarrow as pa

from influxdb3_lite import influxql

EPOCH_NS = {
    "ns": 1,
    "n": 1,
    "u": 10**3,
    "µ": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
MEASUREMENT = "iox::measurement"


class V1Error(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class V1Params:
    query: str
    database: str | None
    epoch: str | None
    chunked: bool
    pretty: bool
    # Rows per chunk when `chunked`: `chunk_size`, else DEFAULT_CHUNK_SIZE; 0 splits by series only
    # (`NonZero::new(chunk_size)` is None, core/iox_v1_query_api/src/response/chunked.rs).
    chunk_size: int = 0


DEFAULT_CHUNK_SIZE = 10_000  # `DEFAULT_CHUNK_SIZE`, core/iox_v1_query_api/src/lib.rs


# `Error::InfluxqlNoDatabase` (core/iox_v1_query_api/src/error.rs), answered as the statement's
# error when neither `db` nor the statement names a database (handler.rs, `resolve_db`).
NO_DATABASE = "must specify a 'db' parameter, or provide the database in the InfluxQL query"


def needs_database(query: str) -> bool:
    """Whether a statement parsed without a `db` parameter has no database to run on: every
    statement but SHOW DATABASES and SHOW RETENTION POLICIES ON <db> (the handler resolves the
    database per statement, after parsing). A statement that does not parse is no such case: the
    run words its parse error, as the handler answers those first."""
    try:
        statement = influxql.parse(query)
    except (influxql.InfluxQLError, influxql.Unsupported):
        return False
    if isinstance(statement, influxql.ShowDatabases):
        return False
    return not (isinstance(statement, influxql.ShowRetentionPolicies) and statement.database)


def params(values: dict[str, str]) -> V1Params:
    _check_typed(values)
    query = values.get("q")
    if not query:
        raise V1Error(400, "missing query parameter 'q'")
    epoch = values.get("epoch") or None
    if epoch is not None and epoch not in EPOCH_NS:
        raise V1Error(400, f"invalid epoch: {epoch}")
    chunked = values.get("chunked") == "true"
    size = values.get("chunk_size")
    chunk_size = int(size) if size is not None else DEFAULT_CHUNK_SIZE
    pretty = values.get("pretty", "") == "true"
    return V1Params(query, values.get("db") or None, epoch, chunked, pretty, chunk_size)


USIZE_MAX = 2**64 - 1
URL_ERROR = "error decoding params from url: "  # `Error::SerdeUrlDecoding` (error.rs)


def _check_typed(values: dict[str, str]) -> None:
    """`QueryParams` as serde_urlencoded reads it (core/iox_v1_query_api/src/lib.rs): `chunked`
    and `pretty` are `bool` (exactly `true`/`false`), `chunk_size` a `usize` (Rust's integer
    parse: an optional `+`, digits, at most 2^64-1); the first bad value, in the order given,
    is a 400 with the parse error's text (HttpError::Invalid, `{"error":...}`)."""
    for name, value in values.items():
        if name in ("chunked", "pretty") and value not in ("true", "false"):
            raise V1Error(400, URL_ERROR + "provided string was not `true` or `false`")
        if name == "chunk_size":
            problem = _usize_problem(value)
            if problem:
                raise V1Error(400, URL_ERROR + problem)


def _usize_problem(text: str) -> str | None:
    """`ParseIntError`'s text for a `usize` that does not parse, None when it does."""
    digits = text[1:] if text.startswith("+") else text
    if not text:
        return "cannot parse integer from empty string"
    if not digits or not (digits.isascii() and digits.isdigit()):
        return "invalid digit found in string"
    return "number too large to fit in target type" if int(digits) > USIZE_MAX else None


def series(table: pa.Table, group_tags: list[str], epoch: str | None) -> list[dict]:
    """Rows grouped per measurement (and GROUP BY tag values), in first-seen order."""
    if MEASUREMENT not in table.column_names:
        return []
    group_tags = [t for t in group_tags if t in table.column_names]
    columns = [c for c in table.column_names if c != MEASUREMENT and c not in group_tags]
    rows = table.to_pylist() if not any(pa.types.is_timestamp(f.type) for f in table.schema) else _rows(table)
    out: dict[tuple, dict] = {}
    for row in rows:
        tags = tuple(row.get(t) or "" for t in group_tags)
        key = (row[MEASUREMENT], tags)
        if key not in out:  # key order as InfluxDB 1.x writes a series: name, tags, columns, values
            tagged = {"tags": dict(zip(group_tags, tags, strict=False))} if group_tags else {}
            out[key] = {"name": row[MEASUREMENT], **tagged, "columns": columns, "values": []}
        entry = out[key]
        entry["values"].append([_value(row.get(c), c, epoch) for c in columns])
    return list(out.values())


def _rows(table: pa.Table) -> list[dict]:
    # Timestamps as integers: sub-microsecond digits survive and epoch scaling is exact.
    data = {
        name: (col.cast(pa.int64()) if pa.types.is_timestamp(col.type) else col).to_pylist()
        for name, col in zip(table.column_names, table.columns, strict=False)
    }
    stamps = {
        n for n, f in zip(table.column_names, table.schema, strict=False) if pa.types.is_timestamp(f.type)
    }
    return [
        {n: (_Stamp(v) if n in stamps and v is not None else v) for n, v in zip(data, vals, strict=False)}
        for vals in zip(*data.values(), strict=False)
    ]


class _Stamp(int):
    pass


def _value(value: object, column: str, epoch: str | None) -> object:
    if isinstance(value, _Stamp):
        if epoch:
            return int(value) // EPOCH_NS[epoch]
        return _rfc3339(int(value))
    return value


def _rfc3339(ns: int) -> str:
    seconds, fraction = divmod(ns, 10**9)
    base = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{fraction:09d}".rstrip("0") + "Z" if fraction else base + "Z"


def body(results: list[dict], pretty: bool) -> bytes:
    payload = {"results": results}
    return (json.dumps(payload, indent=4) if pretty else json.dumps(payload, separators=(",", ":"))).encode()


def chunks(results: list[dict], chunk_size: int = 0) -> bytes:
    """`chunked=true`: one JSON document per chunk, newline-separated. A chunk is one series, or
    `chunk_size` rows of it; every chunk but a statement's last says `"partial":true`, and so
    does a series continued in the next chunk (ChunkedResultStream, SeriesChunkMergeStream in
    core/iox_v1_query_api/src/response/; snapshot `chunked__tests__many_statements`)."""
    lines = []
    for result in results:
        pieces = [piece for one in result.get("series") or [] for piece in _split(one, chunk_size)]
        if "error" in result:  # an error is the statement's one result
            lines.append(json.dumps({"results": [result]}, separators=(",", ":")))
            continue
        # No rows: the series stream yields no chunk and ChunkedResultStream ends without a
        # result, so the statement sends nothing (chunked.rs; stream.rs `test_no_batch`).
        for index, piece in enumerate(pieces):
            part = {"statement_id": result["statement_id"], "series": [piece]}
            if index < len(pieces) - 1:
                part["partial"] = True
            lines.append(json.dumps({"results": [part]}, separators=(",", ":")))
    return "".join(line + "\n" for line in lines).encode()  # no result at all: an empty body


def _split(series: dict, size: int) -> list[dict]:
    """A series as chunks of at most `size` rows (all of it when `size` is 0)."""
    values = series["values"]
    if not size or len(values) <= size:
        return [series]
    parts = [values[start : start + size] for start in range(0, len(values), size)]
    out = []
    for index, rows in enumerate(parts):
        piece = {**series, "values": rows}
        if index < len(parts) - 1:
            piece["partial"] = True
        out.append(piece)
    return out
