"""Which stored rows a SQL query can read, by time, decided before any of them is handed to DataFusion.

DataFusion's in-memory tables scan every batch registered: a query of the last minute of a table
of a million points paid for the million (under 20 writers, most of a loaded query's time). The
real server prunes Parquet files and buffer chunks by their time ranges (`time` is the primary
key's last column); here the query is planned once on empty tables of the same schemas, the time
bound of each table scan is read off the optimised logical plan, and only the chunks (and, where a
chunk's times ascend, the tail of a chunk) that can hold rows inside it are registered for the run.

The run plans the same SQL again on the pruned tables, so results, column names and errors are
DataFusion's own; pruning only ever leaves out rows that no scan of the table can read:

- a bound is taken only from a Filter whose input is the table scan itself (so `time` is the
  table's column, not something a projection renamed), from conjuncts `time > t`, `time >= t` or
  `time = t` with a literal timestamp, and from a scan without a fetch (a LIMIT pushed into the
  scan picks rows before the filter);
- a table is pruned only when every scan of it has a bound (the lowest one counts) and every scan
  in the plan was seen (subqueries inside expressions are not plan inputs: a plan showing more
  `TableScan`s than the walk found is not pruned);
- `now()` is folded into the literal at each planning, and the run plans later: a bound is used
  only when every `now()` (and its kin) in the SQL stands alone or as `now() ± interval '...'`
  right after a comparison, so the run's bound can only be later, i.e. reads no fewer rows.

A query seen before on the same schemas plans nothing extra: its bounds were learnt from two
plannings the first time (`LearnedBounds`), constant ones as they are, ones following `now()` as
their distance to the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from influxdb3_lite.store import ChunkStats

NOW_FUNCTIONS = re.compile(r"\b(now|current_timestamp|current_date|current_time|today)\b", re.IGNORECASE)
# What may stand right before a `now()`: a comparison or the words of BETWEEN ... AND ....
_BEFORE_NOW = re.compile(r"(>=|<=|<>|!=|>|<|=|\bbetween|\band)\s*$", re.IGNORECASE)
_UNITS = r"(?:nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?)"
# What may follow it: the call's parentheses, an interval added or taken away, then the end of
# the comparison (a keyword, a closing parenthesis, the end).
_AFTER_NOW = re.compile(
    rf"\s*(\(\s*\))?(\s*[-+]\s*interval\s*'[^']*'(\s+{_UNITS})?)?"
    r"\s*($|\)|;|\b(and|or|group|order|limit|offset|having|union)\b)",
    re.IGNORECASE,
)
_LOWER_OPS = {">": False, ">=": True, "=": True}  # operator -> whether the bound is inclusive
_MIRRORED = {"<": ">", "<=": ">=", "=": "="}  # `t < time` is `time > t`


@dataclass(frozen=True)
class LearnedBounds:
    """The bounds of one SQL text on one set of table schemas, kept so that the next run of
    the same query (a dashboard's or a service's, every few seconds) needs no pruning plan.

    A bound that two plannings found equal is kept as it is: with `now()` only in the forms
    `now_is_monotone` admits, a later bound is never earlier, so the kept one reads no fewer
    rows. One that moved is `now()` plus a constant (only `now()`/`current_timestamp` and
    intervals of fixed length are learnt this way, see `learnable`): kept as its distance to a
    clock reading taken after that planning, it gives at time t a bound no later than the run's."""

    fixed: dict[str, TimeBound]
    following_now: dict[str, tuple[int, bool]]  # table -> (clock reading - bound, inclusive)

    @classmethod
    def learn(
        cls, first: dict[str, TimeBound], second: dict[str, TimeBound], read_after_second: int
    ) -> LearnedBounds | None:
        """From two plannings of the same query, the second's clock reading taken after it;
        None when they disagree in a way no bound explains."""
        if first.keys() != second.keys():
            return None
        fixed, following = {}, {}
        for table, bound in second.items():
            before = first[table]
            if bound == before:
                fixed[table] = bound
            elif bound.lower > before.lower and bound.inclusive == before.inclusive:
                following[table] = (read_after_second - bound.lower, bound.inclusive)
            else:
                return None
        return cls(fixed, following)

    def at(self, clock_ns: int) -> dict[str, TimeBound]:
        """The bounds for a run planned after `clock_ns` was read."""
        bounds = dict(self.fixed)
        for table, (lead, inclusive) in self.following_now.items():
            bounds[table] = TimeBound(clock_ns - lead, inclusive)
        return bounds


_FIXED_LENGTH_NOW = re.compile(r"\b(now|current_timestamp)\b", re.IGNORECASE)
_CALENDAR_UNITS = re.compile(r"mon|year|yr|\dy\b", re.IGNORECASE)


def learnable(sql: str) -> bool:
    """Whether a bound that moves between two plannings moves as the clock does: `now()` and
    `current_timestamp` only (current_date and kin move in steps), no month or year intervals
    (their length varies). Anything else is planned at every run."""
    kinds = {m.group(1).lower() for m in NOW_FUNCTIONS.finditer(sql)}
    return kinds <= {"now", "current_timestamp"} and not (kinds and _CALENDAR_UNITS.search(sql))


@dataclass(frozen=True)
class TimeBound:
    """The lowest time a query reads from a table: rows before it cannot reach the result."""

    lower: int
    inclusive: bool

    def admits(self, time_ns: int) -> bool:
        return time_ns >= self.lower if self.inclusive else time_ns > self.lower


def now_is_monotone(sql: str) -> bool:
    """Whether every `now()`-like call in the SQL is compared as `now()` or `now() ± interval`,
    so a bound folded from it later is never earlier."""
    for found in NOW_FUNCTIONS.finditer(sql):
        if not _BEFORE_NOW.search(sql[: found.start()]) or not _AFTER_NOW.match(sql, found.end()):
            return False
    return True


def lower_bounds(plan, display: str) -> dict[str, TimeBound]:
    """Tables (by name) every scan of which is bounded below in time, from an optimised logical
    plan (datafusion.plan.LogicalPlan) and its `display_indent()` text."""
    scans: list[tuple[str | None, TimeBound | None]] = []
    _walk(plan, None, scans)
    if len(scans) != display.count("TableScan:"):
        return {}  # a scan the walk cannot see (a subquery in an expression): prune nothing
    bounds: dict[str, TimeBound | None] = {}
    for table, bound in scans:
        if table is None:
            continue
        if table in bounds:
            bounds[table] = _lowest(bounds[table], bound)
        else:
            bounds[table] = bound
    return {table: bound for table, bound in bounds.items() if bound is not None}


def _walk(plan, above: object | None, scans: list[tuple[str | None, TimeBound | None]]) -> None:
    node = plan.to_variant()
    kind = type(node).__name__
    if kind == "TableScan":
        scans.append((_table(node), _scan_bound(node, above)))
        return
    for child in plan.inputs():
        _walk(child, node if kind == "Filter" else None, scans)


def _table(scan) -> str | None:
    """The stored table a scan reads (`public.iox.<name>`), None for any other schema."""
    catalog, schema, name = scan.fqn()
    if catalog not in (None, "public") or schema not in (None, "iox"):
        return None
    return name


def _scan_bound(scan, above) -> TimeBound | None:
    if above is None or scan.fetch() is not None:
        return None
    found = [b for b in map(_term_bound, _conjuncts(above.predicate())) if b is not None]
    return max(found, key=lambda b: (b.lower, not b.inclusive)) if found else None


def _conjuncts(expr) -> list:
    node = expr.to_variant()
    if type(node).__name__ == "BinaryExpr" and node.op().upper() == "AND":
        return _conjuncts(node.left()) + _conjuncts(node.right())
    return [expr]


def _term_bound(expr) -> TimeBound | None:
    node = expr.to_variant()
    if type(node).__name__ != "BinaryExpr":
        return None
    op, left, right = node.op(), node.left(), node.right()
    if _is_time(right) and op in _MIRRORED:
        op, left, right = _MIRRORED[op], right, left
    if op not in _LOWER_OPS or not _is_time(left):
        return None
    value = _timestamp_ns(right)
    return None if value is None else TimeBound(value, _LOWER_OPS[op])


def _is_time(expr) -> bool:
    node = expr.to_variant()
    return type(node).__name__ == "Column" and node.name() == "time"


def _timestamp_ns(expr) -> int | None:
    """A literal timestamp of the `time` column's type, in ns; None for anything else."""
    if type(expr.to_variant()).__name__ != "Literal":
        return None
    value = expr.python_value()
    if not isinstance(value, pa.TimestampScalar) or value.type != pa.timestamp("ns") or not value.is_valid:
        return None
    return value.value


def _lowest(first: TimeBound | None, second: TimeBound | None) -> TimeBound | None:
    if first is None or second is None:
        return None
    return min(first, second, key=lambda b: (b.lower, not b.inclusive))


def prune(
    chunks: pa.Table | list[pa.RecordBatch], stats: list[ChunkStats], bound: TimeBound
) -> list[pa.RecordBatch]:
    """The snapshot's chunks that hold a row inside the bound; of a chunk whose times ascend,
    only the rows from the first one inside (a zero-copy slice)."""
    kept = []
    batches = chunks.to_batches() if isinstance(chunks, pa.Table) else chunks
    for chunk, chunk_stats in zip(batches, stats, strict=True):
        if not bound.admits(chunk_stats.latest):
            continue
        if chunk_stats.ascending and not bound.admits(chunk_stats.earliest):
            chunk = chunk.slice(_first_admitted(chunk, bound))
        kept.append(chunk)
    return kept


def _first_admitted(chunk: pa.RecordBatch, bound: TimeBound) -> int:
    """Binary search over ascending times: the index of the first row inside the bound."""
    times = chunk.column(chunk.schema.get_field_index("time"))
    low, high = 0, len(times)
    while low < high:
        middle = (low + high) // 2
        if bound.admits(times[middle].value):
            high = middle
        else:
            low = middle + 1
    return low
