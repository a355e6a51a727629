"""IOx SQL functions that DataFusion does not ship, as InfluxDB 3 Core answers them.

Real source (influxdata/influxdb): `core/query_functions/src/gapfill.rs` (date_bin_gapfill,
date_bin_wallclock_gapfill, locf, interpolate: virtual functions the analyzer rule
`core/iox_query/src/logical_optimizer/handle_gapfill.rs` turns into a GapFill node),
`core/query_functions/src/selectors.rs` and `selectors/internal.rs` (selector_first/last/min/max
return a struct {value, time}; null values are skipped; min/max ties take the earliest time),
`core/query_functions/src/tz.rs` and `date_bin_wallclock.rs`.

The stand-in rewrites the SQL text before DataFusion plans it: selectors become `named_struct`s of
built-in aggregates, `tz()` becomes casts, and a gap-filling query runs as the same query over
`date_bin` whose result is then filled here (one row per bucket and series, `locf` carrying the
last value forward, `interpolate` linear, other aggregates null, `count` 0), as the GapFill node
does. Unaliased columns keep the names the real server gives them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from influxdb3_lite import sqltext

SELECTORS = ("selector_first", "selector_last", "selector_min", "selector_max")
GAPFILL = ("date_bin_gapfill", "date_bin_wallclock_gapfill")
FILLS = ("locf", "interpolate")
PLANNING = "Error during planning: "
GAPFILL_RULE = "Optimizer rule 'handle_gap_fill' failed\ncaused by\n" + PLANNING


class IoxSqlError(Exception):
    """A planning error worded as the real server words it."""


class IoxNotImplemented(IoxSqlError):
    """A shape of these functions the stand-in does not fill: refused, never answered wrongly."""


Runner = Callable[[str], pa.Table]


@dataclass
class Prepared:
    """The SQL DataFusion runs, and how to post-process its result."""

    sql: str
    gapfill: GapFillPlan | None = None
    renames: dict[int, str] = field(default_factory=dict)
    wallclock_zones: list[str] = field(default_factory=list)


def mentions(sql: str) -> bool:
    lowered = sql.lower().replace(" (", "(")  # once, not once per name: every query asks
    return any(
        name + "(" in lowered for name in (*SELECTORS, *GAPFILL, *FILLS, *CACHES, "tz", "date_bin_wallclock")
    )


CACHES = ("last_cache", "distinct_cache")
CacheSql = Callable[[str, str, str | None], str | None]


def prepare(sql: str, table_names: list[str], cache_sql: CacheSql | None = None) -> Prepared:
    """The query with selectors, `tz`, `date_bin_wallclock` and the cache table functions
    rewritten; gap filling planned."""
    sql = sqltext.rewrite(sql, CACHES, lambda c: _cache(c, cache_sql))
    sql = _alias_selectors(sql, table_names)
    sql = sqltext.rewrite(sql, SELECTORS, lambda c: _selector(c, table_names))
    sql = sqltext.rewrite(sql, ("tz",), _tz)
    prepared = Prepared(sql)
    if any(True for _ in sqltext.calls(sql, GAPFILL)):
        prepared.gapfill = plan_gapfill(sql)
        prepared.sql = prepared.gapfill.inner_sql
        prepared.renames = prepared.gapfill.renames
    elif call := next(sqltext.calls(sql, FILLS), None):
        raise IoxSqlError(f"{PLANNING}{call.name} may only be used in the SELECT list of a gap-filling query")
    # After gap-fill planning, which turns date_bin_wallclock_gapfill into date_bin_wallclock
    # (its buckets are then filled at a fixed stride: exact except across a DST change).
    prepared.sql = sqltext.rewrite(
        prepared.sql, ("date_bin_wallclock",), lambda c: _wallclock(c, prepared.wallclock_zones)
    )
    return prepared


def _cache(call: sqltext.Call, cache_sql: CacheSql | None) -> str:
    args = [_string_literal(a) for a in call.args]
    if not 1 <= len(args) <= 2 or any(a is None for a in args):
        raise IoxSqlError(f"{PLANNING}{call.name} expects a table name and an optional cache name")
    kind = call.name.removesuffix("_cache")
    found = cache_sql(kind, args[0] or "", args[1] if len(args) == 2 else None) if cache_sql else None
    if found is None:
        raise IoxSqlError(f"{PLANNING}could not find {kind} cache for the given arguments")
    return found + f" AS {call.name}"


def _alias_selectors(sql: str, tables: list[str]) -> str:
    """Unaliased `selector_x(a, b)[...]` items get the column name the real server gives them."""
    parts = sqltext.clauses(sql)
    if parts is None or not any(True for _ in sqltext.calls(parts["SELECT"], SELECTORS)):
        return sql
    head = re.match(r"\s*SELECT\s+", sql, re.IGNORECASE)
    if head is None or not sql[head.end() :].startswith(parts["SELECT"]):
        return sql
    items = []
    for item in sqltext.split_top(parts["SELECT"]):
        expr, alias = sqltext.split_alias(item)
        name = None if alias else selector_name(expr, tables)
        items.append(f'{item} AS "{name}"' if name else item)
    return sql[: head.end()] + ", ".join(items) + sql[head.end() + len(parts["SELECT"]) :]


# -- selectors --------------------------------------------------------------------------------
def _selector(call: sqltext.Call, tables: list[str]) -> str:
    if len(call.args) < 2:
        raise IoxSqlError(f"{PLANNING}{call.name} requires exactly 2 arguments, got {len(call.args)}")
    value, time = call.args[0], call.args[1]
    keep = f"FILTER (WHERE ({value}) IS NOT NULL)"
    kind = call.name.removeprefix("selector_")
    if kind in ("first", "last"):
        pick = "first_value" if kind == "first" else "last_value"
        chosen = f"{pick}({value} ORDER BY {time}) {keep}"
        stamp = f"{'min' if kind == 'first' else 'max'}({time}) {keep}"
    else:
        chosen = f"{kind}({value})"
        order = "ASC" if kind == "min" else "DESC"
        stamp = f"first_value({time} ORDER BY {value} {order}, {time} ASC) {keep}"
    return f"named_struct('value', {chosen}, 'time', {stamp})"


def selector_name(expr: str, tables: list[str]) -> str | None:
    """The real server's column name for an unaliased `selector_x(a, b)[field]` item."""
    match = re.fullmatch(
        r"\s*(selector_(?:first|last|min|max))\s*\(\s*(\"?[A-Za-z_][A-Za-z0-9_]*\"?)\s*,\s*"
        r"(\"?[A-Za-z_][A-Za-z0-9_]*\"?)\s*\)\s*(?:\[\s*'(\w+)'\s*\])?\s*",
        expr,
        re.IGNORECASE,
    )
    if not match or len(tables) != 1:
        return None
    table = tables[0]
    args = ",".join(f"{table}.{a.strip(chr(34))}" for a in (match.group(2), match.group(3)))
    name = f"{match.group(1).lower()}({args})"
    return f"{name}[{match.group(4)}]" if match.group(4) else name


# -- tz and date_bin_wallclock ----------------------------------------------------------------
def _tz(call: sqltext.Call) -> str:
    if not call.args or len(call.args) > 2:
        raise IoxSqlError(f"{PLANNING}tz expects 1 or 2 arguments, got {len(call.args)}")
    zone = _string_literal(call.args[1]) if len(call.args) == 2 else "UTC"
    if zone is None:
        raise IoxNotImplemented("This feature is not implemented: tz() with a non-literal time zone")
    _check_zone(zone)
    utc = f"arrow_cast({call.args[0]}, 'Timestamp(Nanosecond, Some(\"UTC\"))')"
    return f"arrow_cast({utc}, 'Timestamp(Nanosecond, Some(\"{zone}\"))')"


def _wallclock(call: sqltext.Call, zones: list[str]) -> str:
    """Bins on the local wall clock of the argument's zone (a `tz(time, 'Zone')` call)."""
    if len(call.args) not in (2, 3):
        raise IoxSqlError(f"{PLANNING}date_bin_wallclock expects 2 or 3 arguments")
    zone = _zone_of(call.args[1])
    if zone in (None, "UTC"):
        return f"date_bin({', '.join(call.args)})"
    zones.append(zone)
    origin = call.args[2] if len(call.args) == 3 else "arrow_cast(0, 'Timestamp(Nanosecond, None)')"
    # Wall clock = the instant shifted by the zone's offset at that instant; binned as naive time,
    # then read back as local time of the zone (ambiguous hours take the earlier instant).
    local = f"__wallclock_local_{len(zones) - 1}({call.args[1]})"
    binned = f"date_bin({call.args[0]}, {local}, {origin})"
    return f"__wallclock_back_{len(zones) - 1}({binned})"


def wallclock_udfs(zones: list[str]) -> list:
    """Scalar UDFs for each zone `_wallclock` used: to local wall time, and back."""
    from datafusion import udf

    out = []
    for index, zone in enumerate(zones):
        tzinfo = ZoneInfo(zone)
        aware = pa.timestamp("ns", tz=zone)

        def to_local(values: pa.Array, tzinfo=tzinfo) -> pa.Array:
            return pa.array(
                [None if v is None else _shift(v, tzinfo) for v in values.cast(pa.int64()).to_pylist()],
                pa.timestamp("ns"),
            )

        def back(values: pa.Array, zone=zone, tzinfo=tzinfo) -> pa.Array:
            stamps = values.cast(pa.int64()).to_pylist()
            return pa.array(
                [None if v is None else _unshift(v, tzinfo) for v in stamps], pa.timestamp("ns", tz=zone)
            )

        out.append(udf(to_local, [aware], pa.timestamp("ns"), "immutable", f"__wallclock_local_{index}"))
        out.append(udf(back, [pa.timestamp("ns")], aware, "immutable", f"__wallclock_back_{index}"))
    return out


def _shift(ns: int, tzinfo: ZoneInfo) -> int:
    instant = dt.datetime.fromtimestamp(ns // 10**9, dt.UTC)
    offset = instant.astimezone(tzinfo).utcoffset() or dt.timedelta()
    return ns + int(offset.total_seconds()) * 10**9


def _unshift(ns: int, tzinfo: ZoneInfo) -> int:
    wall = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)
    offset = wall.replace(tzinfo=tzinfo, fold=0).utcoffset() or dt.timedelta()
    return ns - int(offset.total_seconds()) * 10**9


def _zone_of(expr: str) -> str | None:
    call = next(sqltext.calls(expr, ("arrow_cast",)), None)
    if call is None:
        return None
    match = re.search(r'Some\("([^"]+)"\)', call.args[-1]) if call.args else None
    return match.group(1) if match else None


def _string_literal(text: str) -> str | None:
    match = re.fullmatch(r"\s*'((?:[^']|'')*)'\s*", text)
    return match.group(1).replace("''", "'") if match else None


def _check_zone(zone: str) -> None:
    if zone == "UTC" or re.fullmatch(r"[+-]\d{2}:\d{2}", zone):
        return
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise IoxSqlError(f'Execution error: Invalid timezone "{zone}": failed to parse timezone') from None


# -- gap filling ------------------------------------------------------------------------------
@dataclass
class GapFillPlan:
    inner_sql: str
    time_index: int
    series: list[int]
    strategies: dict[int, str]  # column index -> "null" | "locf" | "interpolate"
    stride_sql: str
    origin_sql: str | None
    lower: tuple[str, bool] | None  # (expression, inclusive)
    upper: tuple[str, bool] | None
    order_by: str | None
    limit: str | None
    renames: dict[int, str]
    offset: str | None = None


@dataclass
class _Items:
    """The SELECT list of a gap-filling query, sorted out for the GapFill pass."""

    rewritten: list[str] = field(default_factory=list)
    renames: dict[int, str] = field(default_factory=dict)
    strategies: dict[int, str] = field(default_factory=dict)
    series: list[int] = field(default_factory=list)
    time_index: int = -1
    stride: str = ""
    origin: str | None = None


def plan_gapfill(sql: str) -> GapFillPlan:
    parts = sqltext.clauses(sql)
    if parts is None or "GROUP BY" not in parts:
        raise IoxSqlError(f"{PLANNING}date_bin_gapfill may only be used as a GROUP BY expression")
    items = _sort_items(sqltext.split_top(parts["SELECT"]), sqltext.split_top(parts["GROUP BY"]))
    lower, upper = time_bounds(parts.get("WHERE", ""))
    _check_bounds(lower, upper)
    group_sql = sqltext.rewrite(
        parts["GROUP BY"], GAPFILL, lambda c: f"{c.name.removesuffix('_gapfill')}({', '.join(c.args)})"
    )
    inner = f"SELECT {', '.join(items.rewritten)} FROM {parts['FROM']}"
    if parts.get("WHERE"):
        inner += f" WHERE {parts['WHERE']}"
    inner += f" GROUP BY {group_sql}"
    if parts.get("HAVING"):
        inner += f" HAVING {parts['HAVING']}"
    return GapFillPlan(
        inner,
        items.time_index,
        items.series,
        items.strategies,
        items.stride,
        items.origin,
        lower,
        upper,
        parts.get("ORDER BY"),
        parts.get("LIMIT"),
        items.renames,
        parts.get("OFFSET"),
    )


def _sort_items(items: list[str], group_by: list[str]) -> _Items:
    """Which item is the time bucket, which are series keys, which are filled and how; the
    virtual functions replaced by what DataFusion runs (`date_bin`, identity wrappers)."""
    group = [g.lower() for g in group_by]
    out = _Items()
    for index, item in enumerate(items):
        expr, alias = sqltext.split_alias(item)
        named = f' AS "{alias}"' if alias else ""
        gap, fill = next(sqltext.calls(expr, GAPFILL), None), next(sqltext.calls(expr, FILLS), None)
        if gap is not None and _whole(gap, expr):
            if out.time_index >= 0:
                raise IoxSqlError(f"{GAPFILL_RULE}DATE_BIN_GAPFILL specified more than once")
            out.time_index, out.stride = index, gap.args[0]
            out.origin = gap.args[2] if len(gap.args) > 2 else None
            out.rewritten.append(f"{gap.name.removesuffix('_gapfill')}({', '.join(gap.args)}){named}")
            if not alias:
                out.renames[index] = gap.name
        elif fill is not None and _whole(fill, expr):
            # Identity wrappers DataFusion names predictably, renamed back after the fill.
            wrapper = "nvl" if fill.name == "locf" else "coalesce"
            out.strategies[index] = fill.name
            out.rewritten.append(f"{wrapper}({fill.args[0]}, NULL){named}")
            if not alias:
                out.renames[index] = fill.name
        elif fill is not None:
            raise IoxNotImplemented(
                f"This feature is not implemented: {fill.name}() inside another expression"
            )
        else:
            keyed = {expr.strip().lower(), (alias or "").lower(), str(index + 1)} & set(group)
            if keyed:
                out.series.append(index)
            else:
                out.strategies[index] = "null"
            out.rewritten.append(item)
    if out.time_index < 0:
        raise IoxSqlError(
            f"{GAPFILL_RULE}DATE_BIN_GAPFILL must be a top-level expression in the GROUP BY clause "
            "when gap filling. It cannot be part of another expression or cast"
        )
    return out


def _whole(call: sqltext.Call, expr: str) -> bool:
    """The call is the whole item expression (not part of another expression)."""
    return call.start == _lead(expr) and call.end == len(expr.rstrip())


def _check_bounds(lower: tuple[str, bool] | None, upper: tuple[str, bool] | None) -> None:
    if lower is None and upper is None:
        raise IoxSqlError(f"{GAPFILL_RULE}gap-filling query is missing both upper and lower time bounds")
    if lower is None:
        raise IoxSqlError(f"{GAPFILL_RULE}gap-filling query is missing lower time bound")
    if upper is None:
        raise IoxSqlError(f"{GAPFILL_RULE}gap-filling query is missing upper time bound")


def gapfill_subquery(sql: str) -> tuple[int, int, str] | None:
    """The innermost parenthesised `SELECT`/`WITH` that gap-fills: (start of '(', end after ')',
    its text); None when gap filling, if any, is only at the top level."""
    if "gapfill" not in sql.lower():
        return None  # every query passes here: most name no gap-filling function at all
    depths = sqltext.depth_map(sql)
    best: tuple[int, int, str] | None = None
    for index, char in enumerate(sql):
        if char != "(" or depths[index] < 0:
            continue
        close = next(
            (j for j in range(index + 1, len(sql)) if sql[j] == ")" and depths[j] == depths[index]), None
        )
        if close is None:
            continue
        inner = sql[index + 1 : close]
        starts = re.match(r"\s*(SELECT|WITH)\b", inner, re.IGNORECASE)
        if starts and any(True for _ in sqltext.calls(inner, GAPFILL)):
            if best is None or close + 1 - index < best[1] - best[0]:
                best = (index, close + 1, inner)
    return best


def _lead(expr: str) -> int:
    return len(expr) - len(expr.lstrip())


TIME_REF = r'(?:(?:"?[A-Za-z_][A-Za-z0-9_]*"?)\.)?"?time"?'


def time_bounds(where: str) -> tuple[tuple[str, bool] | None, tuple[str, bool] | None]:
    """The lower and upper bounds on `time` among WHERE's top-level conjuncts."""
    lower = upper = None
    for term in sqltext.and_terms(where):
        between = re.fullmatch(
            rf"\s*{TIME_REF}\s+BETWEEN\s+(.+?)\s+AND\s+(.+)", term, re.IGNORECASE | re.DOTALL
        )
        if between:
            lower, upper = (between.group(1), True), (between.group(2), True)
            continue
        match = re.fullmatch(rf"\s*{TIME_REF}\s*(>=|<=|>|<)\s*(.+)", term, re.DOTALL)
        flipped = re.fullmatch(rf"\s*(.+?)\s*(>=|<=|>|<)\s*{TIME_REF}\s*", term, re.DOTALL)
        if match:
            op, value = match.group(1), match.group(2)
        elif flipped:
            value, op = flipped.group(1), {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[flipped.group(2)]
        else:
            continue
        if op in (">", ">="):
            lower = (value, op == ">=")
        else:
            upper = (value, op == "<=")
    return lower, upper


def scalar_ns(run: Runner, expr: str) -> int:
    table = run(f"SELECT CAST(CAST(({expr}) AS TIMESTAMP) AS BIGINT) AS v")
    value = table.column(0)[0].as_py()
    if value is None:
        raise IoxSqlError(f"{GAPFILL_RULE}time bound for gap fill query must not be null")
    return int(value)


def stride_ns(run: Runner, expr: str) -> int:
    value = run(f"SELECT arrow_cast(({expr}), 'Interval(MonthDayNano)') AS v").column(0)[0].as_py()
    if value.months:
        raise IoxNotImplemented("This feature is not implemented: gap filling with a stride in months")
    return value.days * 86400 * 10**9 + value.nanoseconds


def fill(plan: GapFillPlan, result: pa.Table, run: Runner) -> pa.Table:
    """One row per bucket between the bounds for every series in `result`, filled per strategy."""
    stride = stride_ns(run, plan.stride_sql)
    origin = scalar_ns(run, plan.origin_sql) if plan.origin_sql else 0
    assert plan.lower is not None and plan.upper is not None
    low = scalar_ns(run, plan.lower[0]) + (0 if plan.lower[1] else 1)
    high = scalar_ns(run, plan.upper[0]) - (0 if plan.upper[1] else 1)

    def bucket(t: int) -> int:
        return origin + (t - origin) // stride * stride

    buckets = list(range(bucket(low), bucket(high) + 1, stride)) if high >= low else []
    names = result.column_names
    time_name = names[plan.time_index]
    times = result.column(plan.time_index).cast(pa.int64()).to_pylist()
    keys = [tuple(result.column(i)[r].as_py() for i in plan.series) for r in range(result.num_rows)]
    by_series: dict[tuple, dict[int, int]] = {}
    for row, (key, t) in enumerate(zip(keys, times, strict=False)):
        by_series.setdefault(key, {})[t] = row
    if not plan.series and not by_series:
        by_series[()] = {}
    ordered = sorted(by_series, key=lambda k: tuple((v is None, v) for v in k))
    columns: dict[int, list] = {i: [] for i in range(len(names))}
    for key in ordered:
        rows = by_series[key]
        picks = [rows.get(b) for b in buckets]
        for i in range(len(names)):
            if i == plan.time_index:
                columns[i] += buckets
            elif i in plan.series:
                columns[i] += [key[plan.series.index(i)]] * len(buckets)
            else:
                values = [None if r is None else result.column(i)[r].as_py() for r in picks]
                nullable = result.schema.field(i).nullable
                columns[i] += _filled(values, buckets, plan.strategies.get(i, "null"), nullable, picks)
    arrays = []
    for i, name in enumerate(names):
        kind = result.schema.field(i).type
        arrays.append(
            pa.array(columns[i], pa.int64()).cast(kind) if name == time_name else pa.array(columns[i], kind)
        )
    return pa.Table.from_arrays(arrays, schema=result.schema)


def _filled(values: list, buckets: list[int], strategy: str, nullable: bool, picks: list) -> list:
    if strategy == "locf":
        out, last = [], None
        for value in values:
            last = value if value is not None else last
            out.append(last)
        return out
    if strategy == "interpolate":
        return _interpolate(values, buckets)
    if not nullable:  # a non-nullable aggregate (count) gets its default, 0, in empty buckets
        return [0 if r is None else v for v, r in zip(values, picks, strict=False)]
    return values


def _interpolate(values: list, buckets: list[int]) -> list:
    known = [i for i, v in enumerate(values) if v is not None]
    out = list(values)
    for left, right in zip(known, known[1:], strict=False):
        a, b = values[left], values[right]
        for i in range(left + 1, right):
            before, after = buckets[i] - buckets[left], buckets[right] - buckets[i]
            value = (a * after + b * before) / (buckets[right] - buckets[left])
            out[i] = int(value) if isinstance(a, int) and not isinstance(a, bool) else value
    return out


def apply_renames(table: pa.Table, renames: dict[int, str], items: list[str] | None = None) -> pa.Table:
    """Rename unaliased gap-fill columns: `date_bin(..)` -> `date_bin_gapfill(..)`, `nvl(x,NULL)`
    -> `locf(x)`, `coalesce(x,NULL)` -> `interpolate(x)`."""
    if not renames:
        return table
    names = list(table.column_names)
    for index, fn in renames.items():
        current = names[index]
        if fn in GAPFILL:
            names[index] = fn + current[current.index("(") :]
        else:
            inner = current[current.index("(") + 1 :]
            names[index] = f"{fn}({inner.removesuffix(',NULL)')})"
    return table.rename_columns(names)


def order_and_limit(
    table: pa.Table, plan: GapFillPlan, run_on: Callable[[pa.Table, str], pa.Table]
) -> pa.Table:
    """The query's own ORDER BY / LIMIT / OFFSET, over the filled rows."""
    if not plan.order_by and not plan.limit and not plan.offset:
        return table
    sql = "SELECT * FROM __gapfilled"
    if plan.order_by:
        sql += f" ORDER BY {plan.order_by}"
    if plan.limit:
        sql += f" LIMIT {plan.limit}"
    if plan.offset:
        sql += f" OFFSET {plan.offset}"
    return run_on(table, sql)


__all__ = ["IoxNotImplemented", "IoxSqlError", "Prepared", "fill", "mentions", "prepare"]
