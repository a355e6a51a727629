"""A small reference evaluator of the Flux subset, per Flux's documented semantics, for the execution tests.

Data: points ``{"_measurement", tags…, "_time" (ns), fields…}``. A result is a list of tables (group
key, rows), tables sorted by group key as Flux returns them. Windows are labelled by their stop,
clamped to the range stop (aggregateWindow's default ``timeSrc: "_stop"``); selectors drop empty
windows; ``limit``/``first``/``last``/``sort``/``difference`` act per table.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

from migrators.upgrades.influxdb3.flux import (
    Binary,
    Call,
    Function,
    Ident,
    ListExpr,
    Lit,
    Member,
    Not,
    WithRecord,
    parse,
)
from migrators.upgrades.influxdb3.flux_sql import UNITS

NS = {
    "ns": 1,
    "us": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}
Row = dict[str, Any]


def duration_ns(text: str) -> int:
    return sum(int(n) * NS[u] for n, u in re.findall(r"(\d+)(ns|us|ms|s|m|h|d|w)", text))


def time_ns(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


def evaluate(
    flux: str, points: list[Row], tags: list[str], params: dict[str, Any] | None = None
) -> list[tuple[tuple, list[Row]]]:
    stages = parse(flux).stages
    rows: list[Row] = []
    for p in points:
        for key, value in p.items():
            if key in tags or key in ("_measurement", "_time") or value is None:
                continue
            rows.append(
                {
                    "_measurement": p["_measurement"],
                    **{t: p.get(t) for t in tags if p.get(t) is not None},
                    "_field": key,
                    "_value": value,
                    "_time": p["_time"],
                }
            )
    key_cols = ["_measurement", "_field", *tags]
    tables = _group(rows, key_cols)
    start = stop = None
    for stage in stages[1:]:
        a = stage.args
        if stage.name == "range":
            start, stop = time_ns(a["start"].value), time_ns(a["stop"].value)
            tables = _map_tables(tables, lambda rs: [r for r in rs if start <= r["_time"] < stop])
        elif stage.name == "filter":
            fn = a["fn"]
            tables = _map_tables(
                tables, lambda rs: [r for r in rs if _eval(fn.body, {fn.params[0]: r}, params)]
            )
        elif stage.name == "map":
            fn = a["fn"]
            body = dict(fn.body.fields)["_value"]
            tables = _map_tables(
                tables, lambda rs: [{**r, "_value": _eval(body, {fn.params[0]: r}, params)} for r in rs]
            )
        elif stage.name == "aggregateWindow":
            every = duration_ns(a["every"].value)
            create = a.get("createEmpty", Lit("bool", "true")).value == "true"
            tables = _map_tables(tables, lambda rs: _windows(rs, every, a["fn"].name, create, start, stop))
        elif stage.name in ("last", "first"):
            pick = -1 if stage.name == "last" else 0
            tables = _map_tables(tables, lambda rs: [rs[pick]] if rs else [])
        elif stage.name in ("count", "sum", "mean", "median"):
            fn = stage.name
            tables = [
                (k, [{**dict(zip(key_cols, k)), "_value": _agg(fn, [r["_value"] for r in rs])}])
                for k, rs in tables
                if rs
            ]
        elif stage.name == "group":
            key_cols = [c.value for c in a.get("columns", ListExpr(())).items]
            tables = _group([r for _, rs in tables for r in rs], key_cols)
        elif stage.name == "sort":
            cols = [c.value for c in a["columns"].items]
            desc = a.get("desc", Lit("bool", "false")).value == "true"
            tables = _map_tables(
                tables, lambda rs: sorted(rs, key=lambda r: tuple(r[c] for c in cols), reverse=desc)
            )
        elif stage.name == "limit":
            n, off = int(a["n"].value), int(a.get("offset", Lit("number", "0")).value)
            tables = _map_tables(tables, lambda rs: rs[off : off + n])
        elif stage.name == "difference":
            tables = _map_tables(
                tables, lambda rs: [{**b, "_value": b["_value"] - p["_value"]} for p, b in zip(rs, rs[1:])]
            )
        elif stage.name == "pivot":
            key_cols = [c for c in key_cols if c != "_field"]
            tables = _pivot(tables, key_cols)
        elif stage.name == "keep":
            cols = {c.value for c in a["columns"].items} | {"_field"}
            tables = _map_tables(tables, lambda rs: [{k: v for k, v in r.items() if k in cols} for r in rs])
        elif stage.name == "yield":
            pass
        else:
            raise NotImplementedError(stage.name)
    return [
        (k, rs)
        for k, rs in sorted(tables, key=lambda t: tuple("" if v is None else str(v) for v in t[0]))
        if rs
    ]


def _group(rows: list[Row], cols: list[str]) -> list[tuple[tuple, list[Row]]]:
    out: dict[tuple, list[Row]] = {}
    for r in sorted(rows, key=lambda r: r["_time"]):
        out.setdefault(tuple(r.get(c) for c in cols), []).append(r)
    return list(out.items())


def _map_tables(tables, fn):
    return [(k, fn(rs)) for k, rs in tables]


def _agg(fn: str, values: list) -> Any:
    if fn == "count":
        return len(values)
    if not values:
        return None
    return {
        "sum": sum,
        "mean": statistics.fmean,
        "median": statistics.median,
        "min": min,
        "max": max,
        "first": lambda v: v[0],
        "last": lambda v: v[-1],
    }[fn](values)


def _windows(rows: list[Row], every: int, fn: str, create: bool, start: int, stop: int) -> list[Row]:
    if not rows:
        return []
    base = {k: v for k, v in rows[0].items() if k not in ("_value", "_time")}
    out = []
    w = start - start % every
    while w < stop:
        inside = [r["_value"] for r in rows if w <= r["_time"] < w + every]
        if inside or (create and fn not in ("first", "last", "min", "max")):
            out.append({**base, "_time": min(w + every, stop), "_value": _agg(fn, inside)})
        w += every
    return out


def _pivot(tables, key_cols):
    merged: dict[tuple, dict[int, Row]] = {}
    for _, rs in tables:
        for r in rs:
            key = tuple(r.get(c) for c in key_cols)
            row = merged.setdefault(key, {}).setdefault(
                r["_time"], {**{c: r.get(c) for c in key_cols}, "_time": r["_time"]}
            )
            row[r["_field"]] = r["_value"]
    return [(k, [rows[t] for t in sorted(rows)]) for k, rows in merged.items()]


def _eval(expr, env: dict[str, Row], params: dict | None) -> Any:
    if isinstance(expr, Lit):
        if expr.kind == "string":
            return expr.value
        if expr.kind == "number":
            value = float(expr.value) if "." in expr.value else int(expr.value)
            return -value if expr.negative else value
        if expr.kind == "bool":
            return expr.value == "true"
        if expr.kind == "regex":
            return re.compile(expr.value)
    if isinstance(expr, Member):
        if expr.obj == "params":
            return (params or {})[expr.prop]
        return env[expr.obj].get(expr.prop)
    if isinstance(expr, Not):
        return not _eval(expr.operand, env, params)
    if isinstance(expr, Binary):
        left = _eval(expr.left, env, params)
        if expr.op == "and":
            return bool(left) and bool(_eval(expr.right, env, params))
        if expr.op == "or":
            return bool(left) or bool(_eval(expr.right, env, params))
        right = _eval(expr.right, env, params)
        if expr.op in ("=~", "!~"):
            found = left is not None and right.search(left) is not None
            return found if expr.op == "=~" else not found
        if left is None or right is None:
            return False if expr.op in ("==", "<", "<=", ">", ">=") else (expr.op == "!=")
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
            "+": left + right if expr.op == "+" else None,
            "-": left - right if expr.op == "-" else None,
            "*": left * right if expr.op == "*" else None,
            "/": left / right if expr.op == "/" and right else None,
        }[expr.op]
    raise NotImplementedError(type(expr).__name__)


__all__ = ["evaluate", "duration_ns", "time_ns", "UNITS", "Call", "Function", "Ident", "WithRecord"]
