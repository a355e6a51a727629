"""Evaluate a parsed Flux pipeline over in-memory points, with Flux's table semantics.

A stream is a list of :class:`Table`; a table is its group key (column/value pairs) and its rows
(plain dicts). The rules followed, from the Flux documentation of each function:

* ``from`` gives one table per series and field: key ``_measurement``, the tags present, ``_field``;
  rows ``_time`` ascending;
* ``range`` keeps ``_start <= _time < _stop`` and adds ``_start``/``_stop`` to the rows and the key;
* ``filter`` drops the tables it empties (``onEmpty: "drop"``); a comparison with a missing column
  is null, and null is not true;
* ``aggregateWindow`` cuts windows aligned to the epoch, each clamped to the range, and labels each
  by its (clamped) stop (``timeSrc: "_stop"``); with ``createEmpty: true`` an empty window gives a
  null row (0 for ``count``) for aggregates and nothing for selectors, which give no row on no data;
* ``first``/``last``/``min``/``max`` keep one whole row per table; ``count``/``sum``/``mean``/
  ``median`` give one row of the key columns and ``_value``;
* ``group`` regroups every row by the columns named (``group()``: one table);
* ``pivot`` regroups by the key without the column key and value columns and spreads the values
  over columns named by the column key, one row per row key;
* ``sort``/``limit``/``difference`` act on each table on its own; ``fill(value:)`` replaces nulls.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.migrators.fluxref.syntax import Node, parse, time_ns

Row = dict[str, Any]


@dataclass
class Table:
    key: tuple[tuple[str, Any], ...]
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class Duration:
    ns: int


@dataclass(frozen=True)
class Builtin:
    name: str


@dataclass(frozen=True)
class Closure:
    params: tuple[str, ...]
    body: Node
    scope: dict


@dataclass
class Context:
    points: list[Row]
    schema: dict[str, list[str]]
    now: int
    start: int | None = None
    stop: int | None = None


class FluxRuntimeError(ValueError):
    """The program is valid Flux but not something this reference evaluates."""


# --- expressions ----------------------------------------------------------------------------------


def value_of(node: Node, scope: dict, ctx: Context) -> Any:
    kind = node[0]
    if kind in ("int", "float", "str", "bool", "time"):
        return node[1]
    if kind == "dur":
        return Duration(node[1])
    if kind == "regex":
        return re.compile(node[1])
    if kind == "ident":
        if node[1] in scope:
            return scope[node[1]]
        return Builtin(node[1])
    if kind == "member":
        record = value_of(node[1], scope, ctx)
        return record.get(node[2]) if isinstance(record, dict) else None
    if kind == "list":
        return [value_of(item, scope, ctx) for item in node[1]]
    if kind == "record":
        base = dict(value_of(node[1], scope, ctx)) if node[1] else {}
        base.update({name: value_of(v, scope, ctx) for name, v in node[2]})
        return base
    if kind == "fn":
        return Closure(node[1], node[2], scope)
    if kind == "unary":
        return _unary(node[1], value_of(node[2], scope, ctx))
    if kind == "binary":
        return _binary(node[1], node[2], node[3], scope, ctx)
    if kind == "call" and node[1] == ("ident", "now") and not node[2]:
        return ctx.now
    if kind == "call" and node[1] == ("ident", "contains"):
        args = {name: value_of(arg, scope, ctx) for name, arg in node[2]}
        return args["value"] in args["set"]  # a missing column (null) is in no set of values
    if kind == "call" and node[1] == ("ident", "time") and [name for name, _ in node[2]] == ["v"]:
        return time_ns(value_of(node[2][0][1], scope, ctx))  # time(v: "RFC 3339 string")
    if kind == "call" and node[1] == ("ident", "duration") and [name for name, _ in node[2]] == ["v"]:
        return _duration_of_text(value_of(node[2][0][1], scope, ctx))  # duration(v: "-7d")
    raise FluxRuntimeError(f"cannot evaluate {kind} here")


_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_UNIT_NS |= {"d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


def _duration_of_text(text: str) -> Duration:
    """Flux's duration(v:) of a string: units added up, an optional leading minus (no calendar units)."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
    parts = re.findall(r"(\d+)(ns|us|µs|ms|s|m|h|d|w)", body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise FluxRuntimeError(f"duration(v: {text!r}) is not a duration this reference reads")
    return Duration(sign * sum(int(n) * _UNIT_NS[u] for n, u in parts))


def _unary(op: str, operand: Any) -> Any:
    if op == "exists":
        return operand is not None
    if operand is None:
        return None
    if op == "not":
        return not operand
    return Duration(-operand.ns) if isinstance(operand, Duration) else -operand


def _binary(op: str, left_node: Node, right_node: Node, scope: dict, ctx: Context) -> Any:
    left = value_of(left_node, scope, ctx)
    if op in ("and", "or"):
        # Flux short-circuits; null counts as false in a filter
        if op == "and" and not left:
            return False
        if op == "or" and left:
            return True
        return bool(value_of(right_node, scope, ctx))
    right = value_of(right_node, scope, ctx)
    if left is None or right is None:
        return None
    if op == "=~":
        return right.search(left) is not None
    if op == "!~":
        return right.search(left) is None
    return _ARITH_COMPARE[op](left, right)


_ARITH_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a // b if isinstance(a, int) and isinstance(b, int) else a / b,
    "%": lambda a, b: a % b,
}


def call(fn: Closure, *args: Any, ctx: Context) -> Any:
    return value_of(fn.body, {**fn.scope, **dict(zip(fn.params, args, strict=True))}, ctx)


# --- the pipeline ---------------------------------------------------------------------------------


def run(flux: str, ctx: Context, params: dict[str, Any] | None = None) -> list[Table]:
    scope = {"params": dict(params or {})}
    tables = _stream(parse(flux), scope, ctx)
    nonempty = [t for t in tables if t.rows]
    return sorted(nonempty, key=lambda t: [(c, "" if v is None else str(v)) for c, v in t.key])


def _stream(node: Node, scope: dict, ctx: Context) -> list[Table]:
    if node[0] == "pipe":
        tables = _stream(node[1], scope, ctx)
        return _apply(node[2], tables, scope, ctx)
    if node[0] == "call" and node[1] == ("ident", "from"):
        return _from(ctx)
    if node[0] == "call" and node[1][:2] == ("member", ("ident", "schema")) and node[1][2] in _SCHEMA:
        args = {name: value_of(arg, scope, ctx) for name, arg in node[2]}
        return _SCHEMA[node[1][2]](args, ctx)
    raise FluxRuntimeError("a pipeline must start with from() or a schema function")


# --- the schema package: distinct values over the points of a time range ---------------------------
# (Flux docs of schema.tagValues/measurementTagValues/measurements/fieldKeys: one table, one `_value` column;
# `start` defaults to -30d and `stop` to now(); InfluxDB reads them from its index, sorted.)


def _schema_rows(args: dict, ctx: Context) -> list[Row]:
    start = _bound(args.get("start", Duration(-30 * 86_400 * 10**9)), ctx)
    stop = _bound(args.get("stop", ctx.now), ctx)
    rows = []
    for table in _from(ctx):
        rows += [{**r, "_start": start, "_stop": stop} for r in table.rows if start <= r["_time"] < stop]
    return rows


def _distinct_table(values: list) -> list[Table]:
    found = sorted({v for v in values if v is not None})
    return [Table((), [{"_value": v} for v in found])]


def _tag_values(args: dict, ctx: Context) -> list[Table]:
    predicate = args.get("predicate")
    rows = _schema_rows(args, ctx)
    if "measurement" in args:
        rows = [r for r in rows if r["_measurement"] == args["measurement"]]
    if predicate is not None:
        rows = [r for r in rows if call(predicate, r, ctx=ctx) is True]
    return _distinct_table([r.get(args["tag"]) for r in rows])


def _measurements(args: dict, ctx: Context) -> list[Table]:
    return _distinct_table([r["_measurement"] for r in _schema_rows(args, ctx)])


def _field_keys(args: dict, ctx: Context) -> list[Table]:
    rows = _schema_rows(args, ctx)
    if "measurement" in args:
        rows = [r for r in rows if r["_measurement"] == args["measurement"]]
    if args.get("predicate") is not None:
        rows = [r for r in rows if call(args["predicate"], r, ctx=ctx) is True]
    return _distinct_table([r["_field"] for r in rows])


_SCHEMA = {
    "fieldKeys": _field_keys,
    "measurementFieldKeys": _field_keys,
    "tagValues": _tag_values,
    "measurementTagValues": _tag_values,
    "measurements": _measurements,
}


def _apply(call_node: Node, tables: list[Table], scope: dict, ctx: Context) -> list[Table]:
    if call_node[1][0] != "ident" or call_node[1][1] not in _STAGES:
        raise FluxRuntimeError(f"stage {call_node[1]} is outside the subset")
    args = {name: value_of(arg, scope, ctx) for name, arg in call_node[2]}
    return _STAGES[call_node[1][1]](tables, args, ctx)


def _from(ctx: Context) -> list[Table]:
    by_key: dict[tuple, Table] = {}
    for point in sorted(ctx.points, key=lambda p: p["_time"]):
        tags = ctx.schema.get(point["_measurement"], [])
        fixed = {
            "_measurement": point["_measurement"],
            **{t: point[t] for t in tags if point.get(t) is not None},
        }
        for name, value in point.items():
            if name in fixed or name in tags or name == "_time" or value is None:
                continue
            key = tuple(sorted({**fixed, "_field": name}.items()))
            row = {**fixed, "_field": name, "_value": value, "_time": point["_time"]}
            by_key.setdefault(key, Table(key)).rows.append(row)
    return list(by_key.values())


def _bound(value: Any, ctx: Context) -> int:
    return ctx.now + value.ns if isinstance(value, Duration) else value


def _range(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    start = _bound(args["start"], ctx)
    stop = _bound(args.get("stop", ctx.now), ctx)
    ctx.start, ctx.stop = start, stop
    out = []
    for t in tables:
        rows = [{**r, "_start": start, "_stop": stop} for r in t.rows if start <= r["_time"] < stop]
        out.append(Table(_with_key(t.key, _start=start, _stop=stop), rows))
    return out


def _with_key(key: tuple, **extra: Any) -> tuple:
    return tuple(sorted({**dict(key), **extra}.items()))


def _filter(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    fn = args["fn"]
    kept = [Table(t.key, [r for r in t.rows if call(fn, r, ctx=ctx) is True]) for t in tables]
    return [t for t in kept if t.rows]


def _map(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    return [Table(t.key, [call(args["fn"], r, ctx=ctx) for r in t.rows]) for t in tables]


def _per_table(fn: Callable[[list[Row], dict], list[Row]]):
    def stage(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
        return [Table(t.key, fn(t.rows, args)) for t in tables]

    return stage


def _aggregate_value(name: str, values: list) -> Any:
    values = [v for v in values if v is not None]
    if name == "count":
        return len(values)
    if not values:
        return None
    if name == "sum":
        return sum(values)
    if name == "mean":
        return statistics.fmean(values)
    if name == "median":
        return statistics.median(values)
    raise FluxRuntimeError(f"unknown aggregate {name}")


def _select(name: str, rows: list[Row]) -> list[Row]:
    rows = [r for r in rows if r.get("_value") is not None]
    if not rows:
        return []
    if name == "first":
        return [rows[0]]
    if name == "last":
        return [rows[-1]]
    best = rows[0]
    for r in rows[1:]:  # the first of equal values wins
        if (r["_value"] < best["_value"]) if name == "min" else (r["_value"] > best["_value"]):
            best = r
    return [best]


_SELECTORS = {"first", "last", "min", "max"}
_AGGREGATES = {"count", "sum", "mean", "median"}


def _reduce_table(name: str, t: Table) -> list[Row]:
    if name in _SELECTORS:
        return _select(name, t.rows)
    return [{**dict(t.key), "_value": _aggregate_value(name, [r.get("_value") for r in t.rows])}]


def _reducer(name: str):
    def stage(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
        return [Table(t.key, _reduce_table(name, t)) for t in tables]

    return stage


def _windows(start: int, stop: int, every: int) -> list[tuple[int, int]]:
    edge = start - start % every  # epoch-aligned, as Flux's default window location
    out = []
    while edge < stop:
        out.append((max(edge, start), min(edge + every, stop)))
        edge += every
    return out


def _aggregate_window(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    every = args["every"].ns
    name = args["fn"].name
    create_empty = args.get("createEmpty", True)
    if "offset" in args or ctx.start is None:
        raise FluxRuntimeError("aggregateWindow needs a range before it and no offset")
    out = []
    for t in tables:
        rows = []
        for lo, hi in _windows(ctx.start, ctx.stop, every):
            inside = Table(t.key, [r for r in t.rows if lo <= r["_time"] < hi])
            if not inside.rows and not create_empty:
                continue
            # an empty window still reaches the function: aggregates give null (count 0), selectors no row
            for r in _reduce_table(name, inside):
                rows.append({**r, **dict(t.key), "_time": hi})
        out.append(Table(t.key, rows))
    return out


def _group(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    columns = args.get("columns", [])
    if args.get("mode", "by") != "by":
        raise FluxRuntimeError("group mode except is outside the subset")
    by_key: dict[tuple, Table] = {}
    for t in tables:
        for r in t.rows:
            key = tuple(sorted((c, r.get(c)) for c in columns if c in r))
            by_key.setdefault(key, Table(key)).rows.append(r)
    return list(by_key.values())


def _pivot(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    row_key, column_key, value_col = args["rowKey"], args["columnKey"], args["valueColumn"]
    dropped = set(column_key) | {value_col}
    merged: dict[tuple, dict[tuple, Row]] = {}
    for t in tables:
        key = tuple(kv for kv in t.key if kv[0] not in dropped)
        for r in t.rows:
            at = tuple(r.get(c) for c in row_key)
            row = merged.setdefault(key, {}).setdefault(
                at, {**dict(key), **dict(zip(row_key, at, strict=True))}
            )
            row["_".join(str(r[c]) for c in column_key)] = r.get(value_col)
    return [Table(key, [rows[at] for at in sorted(rows)]) for key, rows in merged.items()]


def _sort_rows(rows: list[Row], args: dict) -> list[Row]:
    columns = args.get("columns", ["_value"])
    # nulls first ascending, as Flux orders them
    return sorted(
        rows,
        key=lambda r: [(r.get(c) is not None, r.get(c)) for c in columns],
        reverse=bool(args.get("desc", False)),
    )


def _limit_rows(rows: list[Row], args: dict) -> list[Row]:
    offset = args.get("offset", 0)
    return rows[offset : offset + args["n"]]


def _difference_rows(rows: list[Row], args: dict) -> list[Row]:
    out = []
    for before, after in zip(rows, rows[1:], strict=False):
        change = after["_value"] - before["_value"]
        if args.get("nonNegative", False) and change < 0:
            change = None
        out.append({**after, "_value": change})
    return out


def _keep(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    cols = set(args["columns"])
    return [
        Table(
            tuple(kv for kv in t.key if kv[0] in cols),
            [{k: v for k, v in r.items() if k in cols} for r in t.rows],
        )
        for t in tables
    ]


def _drop(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    cols = set(args["columns"])
    return [
        Table(
            tuple(kv for kv in t.key if kv[0] not in cols),
            [{k: v for k, v in r.items() if k not in cols} for r in t.rows],
        )
        for t in tables
    ]


def _fill(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    """fill(column: "_value", value: v): a null (or missing) cell of the column becomes v."""
    if "usePrevious" in args or "value" not in args:
        raise FluxRuntimeError("fill(usePrevious:) is outside the subset")
    column = args.get("column", "_value")
    return [
        Table(t.key, [{**r, column: args["value"] if r.get(column) is None else r[column]} for r in t.rows])
        for t in tables
    ]


def _yield(tables: list[Table], args: dict, ctx: Context) -> list[Table]:
    return tables


_STAGES: dict[str, Callable[[list[Table], dict, Context], list[Table]]] = {
    "range": _range,
    "filter": _filter,
    "map": _map,
    "aggregateWindow": _aggregate_window,
    "group": _group,
    "pivot": _pivot,
    "sort": _per_table(_sort_rows),
    "limit": _per_table(_limit_rows),
    "difference": _per_table(_difference_rows),
    "keep": _keep,
    "drop": _drop,
    "yield": _yield,
    "fill": _fill,
    **{name: _reducer(name) for name in _SELECTORS | _AGGREGATES},
}
