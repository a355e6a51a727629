"""Translate a parsed Flux :class:`.flux.Pipeline` into InfluxDB 3 SQL (docs/rules.md#ix-12).

The SQL is plain DataFusion (``date_bin``, ``row_number``, ``lag``, ``last_value``,
``generate_series``) so that it runs unchanged on InfluxDB 3 and on the sandbox's stand-in, and it
reproduces Flux's semantics where they differ from SQL's:

* a window is labelled by its **stop**, clamped to the range stop (Flux truncates the last window);
* ``limit``/``first``/``last``/``difference``/``sort`` act **per series** (per group after ``group``);
* a field filter only yields points where that field exists (``IS NOT NULL``);
* ``createEmpty: true`` fills empty windows of every series that has data (NULL, 0 for ``count``);
  selectors never fill;
* ``group() |> count()`` on no data gives no row (``HAVING``), as Flux gives no table.

f-string holes: range bounds and tag values become ``$name`` parameters; measurement, field and
tag-key holes stay identifier holes (``"\\x00n\\x00"``) for the caller to splice, quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from migrators.upgrades.influxdb3 import runtime
from migrators.upgrades.influxdb3.flux import (
    Binary,
    Call,
    Expr,
    Function,
    Ident,
    ListExpr,
    Lit,
    Member,
    Not,
    Pipeline,
    Stage,
    Unsupported,
    WithRecord,
    parse,
)

UNITS = {
    "ns": "nanoseconds",
    "us": "microseconds",
    "µs": "microseconds",
    "ms": "milliseconds",
    "s": "seconds",
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
    "mo": "months",
    "y": "years",
}
AGGREGATES = {
    "mean": "avg",
    "sum": "sum",
    "count": "count",
    "median": "median",
    "min": "min",
    "max": "max",
    "first": "first_value",
    "last": "last_value",
    "stddev": "stddev",
    "spread": None,
}
SELECTORS = {"first", "last", "min", "max"}
COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "=~": "~", "!~": "!~"}
_PER_SERIES = {"aggregateWindow", "last", "first", "limit", "difference", "count", "sum", "mean", "median"}
_PLAIN_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = {
    "select",
    "from",
    "where",
    "group",
    "order",
    "by",
    "limit",
    "table",
    "user",
    "and",
    "or",
    "not",
    "as",
    "on",
    "join",
    "union",
    "all",
    "having",
    "with",
    "case",
    "when",
    "end",
    "null",
    "interval",
}


@dataclass(frozen=True)
class Name:
    """A measurement, field or tag name: a literal, or an f-string hole (an identifier the caller splices)."""

    text: str = ""
    hole: int | None = None

    def sql(self) -> str:
        if self.hole is not None:
            return f'"\x00{self.hole}\x00"'
        return quote_ident(self.text)


@dataclass
class Translation:
    """The SQL and what the caller needs to rewrite the call and the result handling (IX-11, IX-13)."""

    sql: str
    database: Name | None
    measurement: Name
    fields: list[Name]
    tags: list[str]
    params: dict[str, int] = field(default_factory=dict)  # $name -> hole index
    flux_params: list[str] = field(default_factory=list)  # params.x references
    has_time: bool = True
    pivoted: bool = False
    assumed_tags: bool = False  # series key not known from the schema
    notes: list[str] = field(default_factory=list)
    # long format (schema functions; several fields without pivot): the columns holding Flux's
    # `_value` and `_field` in every row; None when each field has its own column (wide rows)
    value_column: str | None = None
    field_column: str | None = None
    runtime: bool = False  # the SQL has a part filled at run time (runtime.py): send _influxdb3_expand()


def quote_ident(name: str) -> str:
    if _PLAIN_IDENT.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duration_sql(text: str) -> str:
    parts = re.findall(r"(\d+)(ns|us|µs|ms|mo|s|m|h|d|w|y)", text)
    return "INTERVAL '" + " ".join(f"{n} {UNITS[u]}" for n, u in parts) + "'"


# --- the query model built stage by stage -----------------------------------------------------------


@dataclass
class _Query:
    database: Name | None = None
    start: str | None = None
    stop: str | None = None
    measurement: Name | None = None
    fields: list[Name] | None = None
    tag_preds: list[str] = field(default_factory=list)
    # (filter on _value, number of map() bodies before it): a filter sees only the maps written before it
    value_preds: list[tuple[Expr, int]] = field(default_factory=list)
    value_maps: list[Expr] = field(default_factory=list)  # map() bodies before any reduction
    post_maps: list[Expr] = field(default_factory=list)  # map() bodies after a reduction
    referenced_tags: list[str] = field(default_factory=list)
    group: list[str] | None = None  # None: series key; []: one table
    window: tuple[str, str, bool] | None = None  # every, fn, createEmpty
    selector: str | None = None  # last | first
    aggregate: str | None = None
    difference: bool = False
    pivot: bool = False
    sort: tuple[list[str], bool] | None = None
    limit: tuple[int, int] | None = None
    keep: list[str] | None = None
    drop: list[str] | None = None
    stage_names: list[str] = field(default_factory=list)
    exists_tags: list[str] = field(default_factory=list)  # `exists r.x`: x must be a known tag
    group_by_field: bool = False  # group(columns:) names _field: each field keeps its own table
    post_group: list[str] | None = None  # group(columns:) after an aggregate: the result's tables
    # after a reduction or pivot, on the result rows in order: ("filter", fn body) | ("map", column, expr)
    post_ops: list[tuple] = field(default_factory=list)
    fields_assumed: bool = False  # no _field filter: the fields come from the service's writes
    fields_runtime: bool = False  # no _field filter: the fields come from the server when the query runs
    group_by_measurement: bool = False  # group(columns:) names _measurement


_IMPORTS = {"influxdata/influxdb/schema", "array"}  # packages whose use the translator checks itself
DEFAULT_SCHEMA_START = "-30d"  # schema.tagValues()/measurements(): Flux's default `start`


class Translator:
    """One translation. `schema` maps measurement -> tag keys, when the project's writers tell;
    `fields` maps measurement -> field keys, only where every write of it names its fields."""

    def __init__(
        self,
        hole_names: dict[int, str] | None = None,
        schema: dict[str, list[str]] | None = None,
        fields: dict[str, list[str]] | None = None,
        runtime: bool = False,
    ):
        self.hole_names = hole_names or {}
        self.runtime = runtime  # the caller can send runtime._influxdb3_expand(): unknown names may wait
        self.schema = schema or {}
        # a schema value may carry its fields too (flux_writes.MeasurementKeys: a list of tags)
        learned = {m: list(v.fields) for m, v in self.schema.items() if getattr(v, "fields", None)}
        self.known_fields = {**learned, **(fields or {})}
        self.params: dict[str, int] = {}
        self.flux_params: list[str] = []
        self.notes: list[str] = []  # what a reader of the SQL must know (assumptions the Flux did not make)
        self.q = _Query()

    # -- entry
    def translate(self, pipeline: Pipeline) -> Translation:
        for package in pipeline.imports:
            if package not in _IMPORTS:
                raise Unsupported(f'Flux import "{package}" has no SQL translation')
        stages = list(pipeline.stages)
        if stages and stages[-1].name == "yield":
            stages.pop()
        if len(stages) == 1 and stages[0].name.startswith("schema."):
            if "influxdata/influxdb/schema" not in pipeline.imports:
                raise Unsupported(f"{stages[0].name}() without its import")
            return flux_schema_query(self, stages[0])
        if any(s.name.startswith("schema.") for s in stages):
            raise Unsupported("a schema function inside a pipeline")
        if not stages or stages[0].name != "from":
            raise Unsupported("the pipeline does not start with from()")
        for stage in stages:
            handler = getattr(self, "stage_" + stage.name.replace(".", "_"), None)
            if handler is None:
                raise Unsupported(f"Flux stage {stage.name}() has no SQL translation")
            handler(stage)
            self.q.stage_names.append(stage.name)
        return self.build()

    # -- stages
    def stage_from(self, stage: Stage) -> None:
        bucket = stage.args.get("bucket")
        if set(stage.args) != {"bucket"} or not isinstance(bucket, Lit) or bucket.kind != "string":
            raise Unsupported("from() without a bucket string")
        self.q.database = Name(bucket.value if bucket.hole is None else "", bucket.hole)

    def stage_range(self, stage: Stage) -> None:
        if self.q.stage_names != ["from"]:
            raise Unsupported("range() not directly after from()")
        if "start" not in stage.args or set(stage.args) - {"start", "stop"}:
            raise Unsupported("range() arguments")
        self.q.start = self.time_bound(stage.args["start"], "start")
        self.q.stop = self.time_bound(stage.args["stop"], "stop") if "stop" in stage.args else None

    def stage_filter(self, stage: Stage) -> None:
        fn = stage.args.get("fn")
        if set(stage.args) != {"fn"} or not isinstance(fn, Function) or len(fn.params) != 1:
            raise Unsupported("filter() arguments")
        if self.q.keep is not None or self.q.drop is not None:
            raise Unsupported("filter() after keep()/drop()")
        if self.after_rows():  # a filter on the rows a reduction, pivot, sort or limit gave
            self.q.post_ops.append(("filter", _rename_record(fn.body, fn.params[0])))
            return
        for conjunct in _conjuncts(fn.body):
            self.filter_term(conjunct, fn.params[0])

    def stage_map(self, stage: Stage) -> None:
        fn = stage.args.get("fn")
        if (
            self.q.pivot
            and set(stage.args) == {"fn"}
            and isinstance(fn, Function)
            and isinstance(fn.body, WithRecord)
            and fn.body.base == fn.params[0]
        ):  # after pivot a row is a Flux record: new columns computed from its fields and tags
            for name, expr in fn.body.fields:
                self.q.post_ops.append(("map", name, _rename_record(expr, fn.params[0])))
            return
        if (
            set(stage.args) != {"fn"}
            or not isinstance(fn, Function)
            or not isinstance(fn.body, WithRecord)
            or [k for k, _ in fn.body.fields] != ["_value"]
        ):
            raise Unsupported("map() other than ({r with _value: …})")
        body = fn.body.fields[0][1]
        self.value_sql(body, "x", fn.params[0])  # validates the expression
        target = self.q.post_maps if self.reduced() else self.q.value_maps
        target.append(_rename_record(body, fn.params[0]))

    def stage_aggregateWindow(self, stage: Stage) -> None:
        self.require_no_reduction("aggregateWindow()")
        args = stage.args
        if set(args) - {"every", "fn", "createEmpty"}:
            raise Unsupported(
                "aggregateWindow() with " + ", ".join(sorted(set(args) - {"every", "fn", "createEmpty"}))
            )
        every, fn = args.get("every"), args.get("fn")
        if not (
            isinstance(every, Lit) and every.kind == "duration" and every.hole is None and not every.negative
        ):
            raise Unsupported("aggregateWindow(every:) is not a constant duration")
        if re.search(r"\d+(mo|y)", every.value):
            raise Unsupported("calendar windows (mo, y)")
        if not isinstance(fn, Ident) or fn.name not in AGGREGATES or AGGREGATES[fn.name] is None:
            raise Unsupported(
                "aggregateWindow(fn:) other than mean/sum/count/median/min/max/first/last/stddev"
            )
        create = args.get("createEmpty", Lit("bool", "true"))
        if not (isinstance(create, Lit) and create.kind == "bool"):
            raise Unsupported("aggregateWindow(createEmpty:) is not a constant")
        self.q.window = (every.value, fn.name, create.value == "true")

    def stage_last(self, stage: Stage) -> None:
        self.selector(stage, "last")

    def stage_first(self, stage: Stage) -> None:
        self.selector(stage, "first")

    def stage_max(self, stage: Stage) -> None:
        self.selector(stage, "max")

    def stage_min(self, stage: Stage) -> None:
        self.selector(stage, "min")

    def selector(self, stage: Stage, name: str) -> None:
        if self.reduced() or self.q.pivot or self.q.limit:
            raise Unsupported(f"{name}() after an aggregate, selector, pivot or limit")
        if (
            set(stage.args) - {"column"}
            or _str(stage.args.get("column", Lit("string", "_value"))) != "_value"
        ):
            raise Unsupported(f"{name}(column:) other than _value")
        # max/min pick by value (ties: the earliest); first/last by row order, undefined after group()
        if (
            self.q.group is not None
            and not self.q.sort
            and name in ("first", "last")
            and not self.group_keeps_series()
        ):
            raise Unsupported(f"{name}() after group() without sort(): row order is undefined")
        self.q.selector = name

    def stage_group(self, stage: Stage) -> None:
        q = self.q
        if q.aggregate and not (q.window or q.selector or q.difference or q.pivot or q.limit or q.sort):
            # regrouping the aggregate's rows (one per table): sort()/limit() then act on the new tables
            columns = [_str(c) for c in _list(stage.args.get("columns", ListExpr(())))]
            keys = q.group if q.group is not None else None
            if set(stage.args) - {"columns"} or keys is None or not set(columns) <= set(keys) or q.post_group:
                raise Unsupported("group() after an aggregate other than by columns of its own group key")
            q.post_group = columns
            return
        self.require_no_reduction("group()")
        if set(stage.args) - {"columns", "mode"} or _str(stage.args.get("mode", Lit("string", "by"))) != "by":
            raise Unsupported("group(mode: except)")
        columns = [_str(c) for c in _list(stage.args.get("columns", ListExpr(())))]
        self.q.group_by_field = "_field" in columns
        self.q.group_by_measurement = "_measurement" in columns
        self.q.group = [c for c in columns if c not in ("_measurement", "_field", "_start", "_stop")]
        if "_time" in self.q.group or "_value" in self.q.group:
            raise Unsupported("group() by _time or _value")
        self.note_tags(self.q.group)

    def stage_count(self, stage: Stage) -> None:
        self.aggregate(stage, "count")

    def stage_sum(self, stage: Stage) -> None:
        self.aggregate(stage, "sum")

    def stage_mean(self, stage: Stage) -> None:
        self.aggregate(stage, "mean")

    def stage_median(self, stage: Stage) -> None:
        self.aggregate(stage, "median")

    def aggregate(self, stage: Stage, name: str) -> None:
        self.require_no_reduction(f"{name}()")
        if (
            set(stage.args) - {"column"}
            or _str(stage.args.get("column", Lit("string", "_value"))) != "_value"
        ):
            raise Unsupported(f"{name}(column:) other than _value")
        self.q.aggregate = name

    def stage_fill(self, stage: Stage) -> None:
        """fill(value: v) after aggregateWindow(createEmpty: true): the empty windows' nulls become v
        (Flux rows before a window always hold a value, so only those nulls exist)."""
        value = stage.args.get("value")
        column = _str(stage.args.get("column", Lit("string", "_value")))
        if set(stage.args) - {"value", "column"} or column != "_value" or not isinstance(value, Lit):
            raise Unsupported("fill() other than fill(value: <literal>) (usePrevious has no translation)")
        if not self.q.window or self.q.pivot or self.q.selector or self.q.aggregate:
            raise Unsupported("fill() other than right after aggregateWindow()")
        self.q.post_ops.append(("fill", value))

    def stage_difference(self, stage: Stage) -> None:
        self.require_no_reduction("difference()")
        if stage.args:
            raise Unsupported("difference() with arguments")
        if self.q.group is not None:
            raise Unsupported("difference() after group()")
        self.q.difference = True

    def stage_pivot(self, stage: Stage) -> None:
        row = [_str(x) for x in _list(stage.args.get("rowKey", ListExpr(())))]
        col = [_str(x) for x in _list(stage.args.get("columnKey", ListExpr(())))]
        if (
            row != ["_time"]
            or col != ["_field"]
            or _str(stage.args.get("valueColumn", Lit("string", ""))) != "_value"
        ):
            raise Unsupported(
                'pivot() other than rowKey:["_time"], columnKey:["_field"], valueColumn:"_value"'
            )
        if self.q.aggregate or self.q.limit or self.q.sort:
            raise Unsupported("pivot() after an aggregate, sort or limit")
        self.q.pivot = True

    def stage_sort(self, stage: Stage) -> None:
        if set(stage.args) - {"columns", "desc"}:
            raise Unsupported("sort() arguments")
        columns = [_str(c) for c in _list(stage.args.get("columns", ListExpr((Lit("string", "_value"),))))]
        desc = stage.args.get("desc", Lit("bool", "false"))
        if not (isinstance(desc, Lit) and desc.kind == "bool"):
            raise Unsupported("sort(desc:) is not a constant")
        if self.q.limit:
            raise Unsupported("sort() after limit()")
        self.note_tags([c for c in columns if not c.startswith("_")])
        self.q.sort = (columns, desc.value == "true")

    def stage_limit(self, stage: Stage) -> None:
        n, offset = stage.args.get("n"), stage.args.get("offset", Lit("number", "0"))
        if isinstance(n, Lit) and n.kind == "hole" and not n.negative and not n.suffix:
            n = Lit("number", self.param(n.hole))  # limit(n: {count}): a parameter of the row bound
        if (
            set(stage.args) - {"n", "offset"}
            or not all(
                isinstance(x, Lit)
                and x.kind == "number"
                and x.hole is None
                and (x.value.isdigit() or x.value.startswith("$"))
                for x in (n, offset)
            )
            or not offset.value.isdigit()
        ):
            raise Unsupported("limit() with a non-constant n/offset")
        if self.q.group is not None and not self.q.sort:
            raise Unsupported("limit() after group() without sort(): row order is undefined")
        if self.q.limit:
            raise Unsupported("two limit() stages")
        self.q.limit = (n.value, int(offset.value))

    def stage_keep(self, stage: Stage) -> None:
        self.q.keep = [_str(c) for c in _list(stage.args.get("columns", ListExpr(())))]
        if set(stage.args) != {"columns"}:
            raise Unsupported("keep(fn:)")
        if self.q.fields is not None:  # a kept name that is no field (nor a map() column) is a tag
            names = {f.text for f in self.q.fields} | {op[1] for op in self.q.post_ops if op[0] == "map"}
            self.note_tags([c for c in self.q.keep if not c.startswith("_") and c not in names])

    def stage_drop(self, stage: Stage) -> None:
        if set(stage.args) != {"columns"}:
            raise Unsupported("drop(fn:)")
        # SQL rows have no _start/_stop/_measurement columns: dropping them changes nothing
        dropped = [_str(c) for c in _list(stage.args.get("columns", ListExpr(())))]
        dropped = [c for c in dropped if c not in ("_start", "_stop", "_measurement")]
        self.q.drop = dropped or None

    # -- helpers for stages
    def after_rows(self) -> bool:
        q = self.q
        return (
            self.reduced() or q.pivot or bool(q.limit or q.sort or q.keep is not None or q.drop is not None)
        )

    def group_keeps_series(self) -> bool:
        """group() by every tag of the measurement (and _field): each new table is one series
        whole, in its time order, so first()/last() stay defined (Flux sorts a series by _time)."""
        m = self.q.measurement
        known = self.schema.get(m.text) if m is not None and m.hole is None else None
        if known is None or not set(known) <= set(self.q.group or []):
            return False
        return self.q.group_by_field or (self.q.fields is not None and len(self.q.fields) == 1)

    def reduced(self) -> bool:
        q = self.q
        return bool(q.window or q.selector or q.aggregate or q.difference)

    def require_no_reduction(self, what: str) -> None:
        if self.reduced() or self.q.pivot or self.q.limit or self.q.sort:
            raise Unsupported(f"{what} after an aggregate, selector, pivot, sort or limit")

    def note_tags(self, tags: list[str]) -> None:
        for tag in tags:
            if tag not in self.q.referenced_tags:
                self.q.referenced_tags.append(tag)

    def param(self, hole: int) -> str:
        name = self.hole_names.get(hole, f"p{hole}")
        self.params[name] = hole
        return "$" + name

    def time_bound(self, expr: Expr, which: str) -> str:
        if isinstance(expr, Lit) and expr.kind == "duration":
            if expr.hole is not None:
                unit = UNITS[expr.value[2:]]
                interval = f"CAST(concat({self.param(expr.hole)}, ' {unit}') AS INTERVAL)"
            else:
                interval = duration_sql(expr.value)
            return f"now() {'-' if expr.negative else '+'} {interval}"
        if isinstance(expr, Lit) and expr.kind == "time":
            return f"TIMESTAMP {sql_string(expr.value)}"
        if isinstance(expr, Lit) and expr.kind == "hole" and expr.negative:  # `-{period}`, period "30d"
            self.notes.append(
                f"{self.hole_names.get(expr.hole, 'the hole')} in range() must be a one-unit Flux duration "
                'such as "30d" or "15m" (SQL reads it as an interval; "1h30m" or months fail)'
            )
            return f"now() - CAST({self.param(expr.hole)} AS INTERVAL)"
        if (
            isinstance(expr, Lit) and expr.kind == "hole" and expr.suffix not in ("", "Z")
        ):  # `{day}T00:00:00Z`
            return f"CAST(concat({self.param(expr.hole)}, {sql_string(expr.suffix)}) AS TIMESTAMP)"
        if isinstance(expr, Lit) and expr.kind in ("hole", "string") and expr.hole is not None:
            if expr.kind == "hole" and not expr.suffix:  # `range(start: {x})`: a time or a duration in Flux
                self.notes.append(
                    f"{self.hole_names.get(expr.hole, 'the hole')} in range({which}:) is read as an RFC 3339 "
                    "time; a duration such as \"-7d\" fails in SQL: write now() - INTERVAL '7 days' instead"
                )
            return f"CAST({self.param(expr.hole)} AS TIMESTAMP)"
        if isinstance(expr, Call) and expr.name == "now" and not expr.args:
            return "now()"
        if isinstance(expr, Call) and expr.name == "duration" and set(expr.args) == {"v"}:
            return self.duration_bound(expr.args["v"], which)
        if isinstance(expr, Call) and expr.name == "time" and set(expr.args) == {"v"}:
            value = expr.args["v"]  # time(v: "2024-01-01T00:00:00Z") or time(v: "{ts}")
            if isinstance(value, Lit) and value.kind in ("string", "hole") and value.hole is not None:
                return f"CAST({self.param(value.hole)} AS TIMESTAMP)"
            if isinstance(value, Lit) and value.kind == "string":
                return f"TIMESTAMP {sql_string(value.value)}"
        if isinstance(expr, Member) and expr.obj == "v":
            raise Unsupported(
                f"range({which}: v.{expr.prop}): a dashboard variable of the Data Explorer, unknown outside "
                "it; pass the time range as a parameter"
            )
        raise Unsupported(f"range({which}:) is not a duration, a time or an f-string hole")

    def duration_bound(self, value: Expr, which: str) -> str:
        """`range(start: duration(v: params.window))`: a duration text ("-7d") relative to now, as Flux
        reads a duration bound; SQL parses it as an interval (one unit; "1h30m" fails, loudly)."""
        param = isinstance(value, Member) and value.obj == "params" and value.hole is None
        hole = isinstance(value, Lit) and value.kind in ("string", "hole") and value.hole is not None
        if not (param or hole) or getattr(value, "negative", False):
            raise Unsupported(f"range({which}: duration(v:)) of something other than params.x or a hole")
        name = f"params.{value.prop}" if param else self.hole_names.get(value.hole, "the hole")
        self.notes.append(
            f'{name} in range({which}: duration(v:)) must be a one-unit Flux duration such as "-30d" '
            '(SQL reads it as an interval; "-1h30m" or months fail)'
        )
        return f"now() + CAST({self.literal_sql(value)} AS INTERVAL)"

    def filter_term(self, term: Expr, r: str) -> None:
        kind = _term_kind(term, r)
        if kind == "measurement":
            name = _name_of(term.right)
            if self.q.measurement is not None and self.q.measurement != name:
                raise Unsupported("two different measurements (a join)")
            self.q.measurement = name
        elif kind == "field":
            names = [_name_of(t.right) for t in _disjuncts(term)]
            if self.q.fields is not None:
                if any(n.hole is not None for n in names + self.q.fields):
                    if names != self.q.fields:
                        raise Unsupported("field filters with holes that do not match")
                names = [n for n in self.q.fields if n in names]
            self.q.fields = names
        elif kind == "value":
            self.q.value_preds.append((_rename_record(term, r), len(self.q.value_maps)))
        else:
            self.q.tag_preds.append(self.predicate_sql(term, r))

    def predicate_sql(self, expr: Expr, r: str) -> str:
        if isinstance(expr, Binary) and expr.op in ("and", "or"):
            return (
                f"({self.predicate_sql(expr.left, r)} {expr.op.upper()} {self.predicate_sql(expr.right, r)})"
            )
        if isinstance(expr, Not):
            return f"NOT ({self.predicate_sql(expr.operand, r)})"
        if isinstance(expr, Binary) and expr.op in COMPARE:
            left, right = expr.left, expr.right
            if not isinstance(left, Member) and isinstance(right, Member):
                left, right = right, left  # "x" == r.host
            if (
                not (isinstance(left, Member) and left.obj == r)
                or left.prop.startswith("_")
                and left.hole is None
            ):
                raise Unsupported("a filter mixing tags with _measurement/_field/_value, or not on r")
            column = Name(left.prop, left.hole)
            self.note_tags([left.prop if left.hole is None else f"\x00{left.hole}\x00"])
            if expr.op in ("=~", "!~"):
                if not (isinstance(right, Lit) and right.kind == "regex"):
                    raise Unsupported("=~ with something other than a regex literal")
                return f"{column.sql()} {COMPARE[expr.op]} {sql_string(_regex(right.value))}"
            return f"{column.sql()} {COMPARE[expr.op]} {self.literal_sql(right)}"
        if isinstance(expr, Call) and expr.name == "contains":
            return self.contains_sql(expr, r)
        if isinstance(expr, Call) and expr.name == "exists":
            member = expr.args.get("v")
            if not (isinstance(member, Member) and member.obj == r and not member.prop.startswith("_")):
                raise Unsupported("exists on something other than a tag or field of r")
            if member.hole is not None:
                raise Unsupported("exists on an f-string hole")
            # on a field, `exists` looks at the field's own rows in Flux, at the same-time row in SQL
            self.q.exists_tags.append(member.prop)
            return f"{quote_ident(member.prop)} IS NOT NULL"
        raise Unsupported("a filter expression outside the subset")

    def contains_sql(self, expr: Call, r: str) -> str:
        """contains(value: r.tag, set: ["a", "b"]) -> tag IN ('a', 'b'); a null tag is in no set."""
        value, items = expr.args.get("value"), expr.args.get("set")
        if set(expr.args) != {"value", "set"} or not (
            isinstance(value, Member)
            and value.obj == r
            and value.hole is None
            and not value.prop.startswith("_")
        ):
            raise Unsupported("contains() other than contains(value: r.<tag>, set: [...])")
        if not isinstance(items, ListExpr):
            raise Unsupported(
                "contains(set:) is not a list literal (a set built in Python is not known here)"
            )
        self.note_tags([value.prop])
        if not items.items:
            return "FALSE"
        return f"{quote_ident(value.prop)} IN ({', '.join(self.literal_sql(i) for i in items.items)})"

    def literal_sql(self, expr: Expr) -> str:
        if isinstance(expr, Lit):
            if expr.hole is not None:
                return ("-" if expr.negative else "") + self.param(expr.hole)
            if expr.kind == "string":
                return sql_string(expr.value)
            if expr.kind == "number":
                return ("-" if expr.negative else "") + expr.value
            if expr.kind == "bool":
                return expr.value
            if expr.kind == "time":
                return f"TIMESTAMP {sql_string(expr.value)}"
        if isinstance(expr, Member) and expr.obj == "params" and expr.hole is None:
            if expr.prop not in self.flux_params:
                self.flux_params.append(expr.prop)
            return "$" + expr.prop
        raise Unsupported("a comparison with something other than a literal, a hole or params.x")

    def value_sql(self, expr: Expr, column: str, r: str = "r") -> str:
        """An expression over r._value (map bodies, value filters), with `column` for _value."""
        if isinstance(expr, Member) and expr.obj == r and expr.prop == "_value":
            return column
        if isinstance(expr, Binary) and expr.op in ("+", "-", "*", "/", "%"):
            return (
                f"({self.value_sql(expr.left, column, r)} {expr.op} {self.value_sql(expr.right, column, r)})"
            )
        if isinstance(expr, Binary) and expr.op in COMPARE and expr.op not in ("=~", "!~"):
            left, right = self.value_sql(expr.left, column, r), self.value_sql(expr.right, column, r)
            return f"{left} {COMPARE[expr.op]} {right}"
        if isinstance(expr, Binary) and expr.op in ("and", "or"):
            left, right = self.value_sql(expr.left, column, r), self.value_sql(expr.right, column, r)
            return f"({left} {expr.op.upper()} {right})"
        return self.literal_sql(expr)

    # -- building the SQL
    def build(self) -> Translation:
        q = self.q
        if q.start is None:
            raise Unsupported("no range(): InfluxDB 3 needs a time bound and Flux requires one")
        if q.measurement is None and self.runtime and _counts_per_measurement(q):
            return _count_per_measurement(self)
        if q.measurement is None:
            raise Unsupported("no _measurement filter (a query over several tables)")
        fields = q.fields
        needs_fields = self.reduced() or q.pivot or q.value_preds or q.value_maps or q.limit or q.post_ops
        if fields is None and (needs_fields or q.keep is not None or q.drop is not None):
            fields = self.writer_fields()
        if q.fields_runtime:
            self.check_runtime_fields(bool(needs_fields))
        several = bool(fields and (len(fields) > 1 or q.fields_runtime))
        long = several and not q.pivot and bool(needs_fields)
        merged = long and q.group is not None and not q.group_by_field
        if merged and self.counts_merged_fields():
            long = False  # count() of the merged table: the fields' counts added up
        elif merged:
            raise Unsupported(
                "group() without _field over several fields merges their tables (values of different "
                "fields in one aggregate): filter one field, or group by _field too"
            )
        if fields and len(fields) > 1 and q.pivot and q.value_preds:
            raise Unsupported("a _value filter before pivot() over several fields")
        tags, assumed = self.series_tags()
        unknown = [t for t in q.exists_tags if assumed or t not in tags]
        at_run_time = self.runtime and q.measurement.hole is None and q.group is None
        if unknown and not at_run_time:
            raise Unsupported(f"exists r.{unknown[0]}: not known to be a tag of the measurement")
        per_series = q.group is None and (self.reduced() or q.limit)
        # the series key is assumed (no writer names the tags), or `exists` names a tag no writer sends:
        # the server tells the tags when the query runs
        # keep()/drop() naming a tag: one placeholder stands for every tag, so no single one can be kept
        # or dropped; the series stays the tags the query names (with a note), as without run time
        named = [c for c in (q.keep or []) + (q.drop or []) if not c.startswith("_")]
        if unknown and named:
            raise Unsupported(f"keep()/drop() of {named[0]} while the tags are known only at run time")
        # a plain selection of named fields too: Flux rows carry every tag of their series, which the
        # caller may read (`df["room"]`, `r.values.get("room")`); SQL naming only the tags the query
        # filters on drops them (`SELECT *`, for no field filter, has them already)
        plain = q.group is None and q.keep is None and fields is not None
        tags_runtime = at_run_time and (assumed and (per_series or plain) and not named or bool(unknown))
        for tag in unknown:  # true only where the column is a tag: a field is no column of Flux's rows
            test = f"{quote_ident(tag)} IS NOT NULL"
            q.tag_preds = [p.replace(test, runtime.if_tag(tag, test, "FALSE")) for p in q.tag_preds]
        if tags_runtime:  # the series key is every tag the server has for the measurement
            tags, assumed = [runtime.TAGS], False
        if assumed and not tags and q.group is None and (self.reduced() or q.limit):
            raise Unsupported(
                "the series key (tags) of the measurement is not known, and "
                + "/".join(s for s in q.stage_names if s in _PER_SERIES)
                + "() works per series: list the measurement's tags in the GROUP BY/PARTITION BY"
            )
        builder = _SqlBuilder(self, q, fields, tags)
        builder.merged = merged
        sql = builder.long_sql() if long else builder.sql()
        if tags_runtime:
            sql = runtime.with_tags(q.measurement.text, sql)
            self.notes.append(
                f"the series key of {q.measurement.text} (its tags) is read from information_schema when "
                "the query runs"
            )
        notes = list(self.notes)
        if q.fields_runtime:
            notes.append(
                f"no _field filter: the fields of {q.measurement.text} are read from information_schema "
                "when the query runs (one SELECT per field, UNION ALL)"
            )
        if q.fields_assumed:
            notes.append(
                f"no _field filter: the fields of {q.measurement.text} are taken from the service's "
                f"writes ({', '.join(f.text for f in fields)}); add any field other writers send"
            )
        if assumed and q.group is None and (self.reduced() or q.limit):
            notes.append(
                "series assumed to be identified by tag(s) "
                + (", ".join(tags) or "(none)")
                + f" of {q.measurement.text or 'the measurement'}; list every tag of the"
                " measurement in PARTITION BY/GROUP BY if it has more"
            )
        return Translation(
            sql=sql,
            database=q.database,
            measurement=q.measurement,
            fields=fields or [],
            tags=tags,
            params=dict(self.params),
            flux_params=list(self.flux_params),
            has_time=not (q.aggregate and not q.window) and not _drops_time(q),
            pivoted=q.pivot,
            assumed_tags=assumed,
            notes=notes,
            value_column="_value" if long or merged else None,
            field_column="_field" if long else None,
            runtime=q.fields_runtime or tags_runtime,
        )

    def check_runtime_fields(self, needs_fields: bool) -> None:
        """Fields read at run time make long rows (`_field`, `_value`), one SELECT per field; a pivot
        (a column per field), merged tables or wide rows would need the names in the SQL's shape."""
        q = self.q
        merged = q.group is not None and not q.group_by_field
        if q.pivot or not needs_fields or (merged and not self.counts_merged_fields()):
            raise Unsupported(
                f"no _field filter, and the service's writes do not name every field of "
                f"{q.measurement.text}: the fields to return are not known (filter r._field)"
            )

    def counts_merged_fields(self) -> bool:
        """group() |> count() over several fields: one table whose rows are every field's points."""
        q = self.q
        return (
            q.aggregate == "count"
            and not (q.window or q.selector or q.difference or q.limit or q.sort)
            and not (q.value_preds or q.value_maps or q.post_maps)
        )

    def writer_fields(self) -> list[Name]:
        """The fields of a query with no _field filter, when the service's writes name all of them."""
        m = self.q.measurement
        known = self.known_fields.get(m.text) if m.hole is None else None
        if not known and self.runtime and m.hole is None:
            self.q.fields_runtime = True  # one SELECT per field, repeated when the query runs
            return [Name(runtime.FIELD)]
        if not known:
            raise Unsupported(
                f"no _field filter, and the service's writes do not name every field of "
                f"{m.text or 'the measurement'}: the fields to return are not known (filter r._field)"
            )
        self.q.fields_assumed = True
        return [Name(f) for f in known]

    def series_tags(self) -> tuple[list[str], bool]:
        known = self.schema.get(self.q.measurement.text) if self.q.measurement.hole is None else None
        if known is not None:
            return list(known) + [t for t in self.q.referenced_tags if t not in known], False
        return list(self.q.referenced_tags), True


def _drops_time(q: _Query) -> bool:
    return q.keep is not None and "_time" not in q.keep or q.drop is not None and "_time" in q.drop


class _SqlBuilder:
    """SQL text from the query model; one method per result shape."""

    def __init__(self, t: Translator, q: _Query, fields: list[Name] | None, tags: list[str]):
        self.t, self.q, self.tags = t, q, tags
        self.fields = fields
        self.partition = tags if q.group is None else q.group
        # the tables of the result: a group() after an aggregate regroups its rows
        self.out_partition = self.partition if q.post_group is None else q.post_group
        self.long = False  # rows carry _field/_value (long_sql)
        self.merged = False  # group() without _field merged the fields: one `_value` (count only)
        self.extra: list[str] = []  # columns map() added after pivot()

    # pieces
    def where(self) -> str:
        q = self.q
        terms = [f"time >= {q.start}", f"time < {q.stop or 'now()'}"] + q.tag_preds
        if self.fields:
            column = self.fields[0].sql()
            for pred, maps_before in q.value_preds:
                terms.append(self.t.value_sql(pred, self.mapped(column, maps_before), "r"))
            if len(self.fields) == 1:
                terms.append(f"{column} IS NOT NULL")
            else:
                terms.append("(" + " OR ".join(f"{f.sql()} IS NOT NULL" for f in self.fields) + ")")
        return " AND ".join(terms)

    def mapped(self, column: str, count: int | None = None) -> str:
        for body in self.q.value_maps[:count]:
            column = self.t.value_sql(body, column, "r")
        return column

    def post_mapped(self, column: str) -> str:
        for body in self.q.post_maps:
            column = self.t.value_sql(body, column, "r")
        return column

    def source(self) -> str:
        return self.q.measurement.sql()

    def tag_list(self, prefix: str = "") -> list[str]:
        return [prefix + quote_ident(t) for t in self.tags]

    def order(self, time_first_desc: bool = False) -> str:
        keys = [quote_ident(t) for t in self.out_partition] + (["_field"] if self.long else [])
        sort = self.q.sort
        if sort:
            cols, desc = sort
            keys += [self.sort_key(c) + (" DESC" if desc else "") for c in cols]
            if "_time" not in cols and self.has_time():
                keys.append("time")
        elif self.has_time():
            keys.append("time")
        seen, unique = set(), []
        for key in keys:
            if key.split(" ")[0] not in seen:
                seen.add(key.split(" ")[0])
                unique.append(key)
        return ", ".join(unique)

    def sort_key(self, column: str) -> str:
        if column == "_time":
            return "time"
        if column == "_value" and self.long:
            return "_value"
        if column == "_value":
            if not self.fields or len(self.fields) != 1:
                raise Unsupported("sort by _value with several fields")
            return self.fields[0].sql()
        return quote_ident(column)

    def has_time(self) -> bool:
        return not (self.q.aggregate and not self.q.window)

    def field_cols(self, value: callable) -> list[str]:
        if self.fields is None:
            return []
        return [_alias(self.post_mapped(value(f)), f.sql()) for f in self.fields]

    # shapes
    def sql(self) -> str:
        return self.project(self.core())

    def long_sql(self) -> str:
        """Several fields without pivot: Flux keeps one table per field, so each field is its own
        query and the rows carry `_field` and `_value` (long format), in one UNION ALL."""
        parts = []
        for f in self.fields:
            one = _SqlBuilder(self.t, self.q, [f], self.tags)
            keys = [c for c in one.output_columns(long=False) if c != f.sql()]
            cols = [*keys, f"{sql_string(f.text)} AS _field", f"{f.sql()} AS _value"]
            parts.append(f"SELECT {', '.join(cols)} FROM ({one.core()})")
        if self.q.fields_runtime:
            parts = [runtime.each_field(self.q.measurement.text, parts[0])]
        self.long = True
        return self.project(" UNION ALL ".join(parts), union=True)

    def core(self) -> str:
        q = self.q
        if q.window:
            inner = self.window_sql()
        elif q.selector:
            inner = self.selector_sql()
        elif q.aggregate:
            inner = self.aggregate_sql()
        elif q.difference:
            inner = self.difference_sql()
        else:
            inner = self.rows_sql()
        if q.limit:
            inner = self.limit_sql(inner)
        return inner

    def rows_sql(self) -> str:
        if self.fields is None:
            if self.q.tag_preds == [] and not self.q.referenced_tags:
                pass
            return f"SELECT * FROM {self.source()} WHERE {self.where()}"
        cols = ["time", *self.tag_list(), *self.field_cols(lambda f: self.mapped(f.sql()))]
        return f"SELECT {', '.join(cols)} FROM {self.source()} WHERE {self.where()}"

    def window_sql(self) -> str:
        every, fn, create = self.q.window
        interval = duration_sql(every)
        stop = self.q.stop or "now()"
        agg = AGGREGATES[fn]
        several = len(self.fields) > 1

        def call(f: Name) -> str:
            column = self.mapped(f.sql())
            if fn in ("first", "last"):
                text = f"{agg}({column} ORDER BY time)"
            else:
                text = f"{agg}({column})"
            if several:
                text += f" FILTER (WHERE {f.sql()} IS NOT NULL)"
            return text

        group = ", ".join([f"date_bin({interval}, time)", *self.group_cols()])
        if create and fn not in SELECTORS:
            return self.gapfill_sql(interval, stop, call)
        cols = [
            f"least(date_bin({interval}, time) + {interval}, {stop}) AS time",
            *self.group_cols(),
            *[f"{self.post_mapped(call(f))} AS {f.sql()}" for f in self.fields],
        ]
        return f"SELECT {', '.join(cols)} FROM {self.source()} WHERE {self.where()} GROUP BY {group}"

    def group_cols(self) -> list[str]:
        return [quote_ident(t) for t in self.partition]

    def gapfill_sql(self, interval: str, stop: str, call) -> str:
        keys = self.group_cols()
        fill = "0" if self.q.window[1] == "count" else None
        binned = ", ".join(
            [f"date_bin({interval}, time) AS _bin", *keys, *[f"{call(f)} AS {f.sql()}" for f in self.fields]]
        )
        group = ", ".join([f"date_bin({interval}, time)", *keys])
        series = ", ".join(keys) if keys else "1 AS _series"
        join = " AND ".join(["_w._bin = _g._bin", *[f"(_w.{k} IS NOT DISTINCT FROM _s.{k})" for k in keys]])
        values = [
            f"{self.post_mapped(f'coalesce(_w.{f.sql()}, {fill})' if fill else f'_w.{f.sql()}')} AS {f.sql()}"
            for f in self.fields
        ]
        cols = [f"least(_g._bin + {interval}, {stop}) AS time", *[f"_s.{k} AS {k}" for k in keys], *values]
        return (
            f"WITH _w AS (SELECT {binned} FROM {self.source()} WHERE {self.where()} GROUP BY {group}), "
            f"_s AS (SELECT DISTINCT {series} FROM _w), "
            f"_g AS (SELECT unnest(generate_series(date_bin({interval}, {self.q.start}), "
            f"{stop} - INTERVAL '1 nanosecond', {interval})) AS _bin) "
            f"SELECT {', '.join(cols)} FROM _g CROSS JOIN _s LEFT JOIN _w ON {join}"
        )

    def rank(self, order: str, partition_by: list[str] | None = None) -> str:
        partition = ", ".join(
            quote_ident(t) for t in (self.partition if partition_by is None else partition_by)
        )
        over = f"PARTITION BY {partition} ORDER BY {order}" if partition else f"ORDER BY {order}"
        return f"row_number() OVER ({over}) AS _rn"

    def selector_sql(self) -> str:
        direction = "DESC" if self.q.selector == "last" else "ASC"
        order = f"time {direction}"
        if self.q.selector in ("max", "min"):
            if len(self.fields) != 1:
                raise Unsupported(f"{self.q.selector}() over several fields")
            by_value = "DESC" if self.q.selector == "max" else "ASC"
            order = f"{self.mapped(self.fields[0].sql())} {by_value}, time ASC"
        elif self.q.sort:  # after group(): the selector takes the first/last row in the sorted order
            cols, desc = self.q.sort
            flip = (self.q.selector == "last") != desc
            order = ", ".join(f"{self.sort_key(c)} {'DESC' if flip else 'ASC'}" for c in cols)
        if len(self.fields) == 1:
            f = self.fields[0]
            cols = ["time", *self.tag_list(), _alias(self.mapped(f.sql()), f.sql())]
            inner = f"SELECT {', '.join(cols)}, {self.rank(order)} FROM {self.source()} WHERE {self.where()}"
            out = ["time", *self.tag_list(), _alias(self.post_mapped(f.sql()), f.sql())]
            return f"SELECT {', '.join(out)} FROM ({inner}) WHERE _rn = 1"
        # several fields, then pivot: each field keeps only its own selected row (its latest/earliest
        # non-null one per series); a row survives when it holds the selected value of some field
        values = []
        for f in self.fields:
            rank = self.rank(f"{f.sql()} IS NULL, {order}").replace(" AS _rn", "")
            values.append(
                f"CASE WHEN {rank} = 1 AND {f.sql()} IS NOT NULL THEN {self.mapped(f.sql())} END AS {f.sql()}"
            )
        columns = ", ".join(["time", *self.tag_list(), *values])
        inner = f"SELECT {columns} FROM {self.source()} WHERE {self.where()}"
        out = ["time", *self.tag_list(), *[_alias(self.post_mapped(f.sql()), f.sql()) for f in self.fields]]
        keep = " OR ".join(f"{f.sql()} IS NOT NULL" for f in self.fields)
        return f"SELECT {', '.join(out)} FROM ({inner}) WHERE {keep}"

    def where_for(self, f: Name) -> str:
        saved = self.fields
        self.fields = [f]
        try:
            return self.where()
        finally:
            self.fields = saved

    def aggregate_sql(self) -> str:
        agg = AGGREGATES[self.q.aggregate]
        keys = self.group_cols()
        cols = [*keys, *self.field_cols(lambda f: f"{agg}({self.mapped(f.sql())})")]
        if self.merged:  # count() of a table holding every field's points
            cols = [*keys, " + ".join(f"count({f.sql()})" for f in self.fields) + " AS _value"]
        sql = f"SELECT {', '.join(cols)} FROM {self.source()} WHERE {self.where()}"
        if self.merged and self.q.fields_runtime:  # a row per point of each field, counted together
            part = f"SELECT {', '.join(keys) or '1 AS _one'} FROM {self.source()} WHERE {self.where()}"
            each = runtime.each_field(self.q.measurement.text, part)
            sql = f"SELECT {', '.join([*keys, 'count(*) AS _value'])} FROM ({each})"
        if keys:
            return sql + f" GROUP BY {', '.join(keys)}"
        return sql + " HAVING count(*) > 0"  # Flux yields no table at all for no data

    def difference_sql(self) -> str:
        f = self.fields[0]
        column = self.mapped(f.sql())
        partition = ", ".join(self.tag_list())
        over = f"PARTITION BY {partition} ORDER BY time" if partition else "ORDER BY time"
        cols = [
            "time",
            *self.tag_list(),
            f"{column} - lag({column}) OVER ({over}) AS {f.sql()}",
            self.rank("time"),
        ]
        inner = f"SELECT {', '.join(cols)} FROM {self.source()} WHERE {self.where()}"
        out = ["time", *self.tag_list(), _alias(self.post_mapped(f.sql()), f.sql())]
        return f"SELECT {', '.join(out)} FROM ({inner}) WHERE _rn > 1"

    def limit_sql(self, inner: str) -> str:
        n, offset = self.q.limit
        sort = self.q.sort
        if sort:
            cols, desc = sort
            order = ", ".join(f"{self.sort_key(c)} {'DESC' if desc else 'ASC'}" for c in cols)
            if "_time" not in cols and self.has_time():
                order += ", time ASC"
        elif self.has_time():
            order = "time ASC"
        else:
            raise Unsupported("limit() after an aggregate")
        if self.q.window or self.q.selector or self.q.difference or self.q.aggregate:
            ranked = f"SELECT *, {self.rank(order, self.out_partition)} FROM ({inner})"
        else:
            ranked = inner.replace(" FROM ", f", {self.rank(order)} FROM ", 1)
        upper = f"{offset} + {n}" if offset and not n.isdigit() else str(offset + int(n)) if offset else n
        bounds = f"_rn > {offset} AND _rn <= {upper}" if offset else f"_rn <= {n}"
        return f"SELECT * EXCLUDE (_rn) FROM ({ranked}) WHERE {bounds}"

    def project(self, inner: str, union: bool = False) -> str:
        q = self.q
        if union or q.post_ops:
            inner = self.post_ops(inner)
        order = self.order()
        if q.keep is None and q.drop is None:
            return f"{inner} ORDER BY {order}" if order else inner
        columns = self.output_columns()
        if q.keep is not None:
            chosen = [c for c in columns if self.flux_name(c) in q.keep]
        else:
            chosen = [c for c in columns if self.flux_name(c) not in q.drop]
        kept_order = ", ".join(k for k in order.split(", ") if k.split(" ")[0] in chosen) if order else ""
        text = f"SELECT {', '.join(chosen)} FROM ({inner})"
        return f"{text} ORDER BY {kept_order}" if kept_order else text

    def post_ops(self, inner: str) -> str:
        """Filters and new columns on the result rows, in pipeline order, each a query around the last."""
        text = f"SELECT * FROM ({inner})"
        for op in self.q.post_ops:
            if op[0] == "fill":
                value = "_value" if self.long else self.value_column()
                filled = [
                    f"coalesce({c}, {self.t.literal_sql(op[1])}) AS {c}" if c == value else c
                    for c in self.output_columns()
                ]
                text = f"SELECT {', '.join(filled)} FROM ({text})"
            elif op[0] == "filter":
                text = f"SELECT * FROM ({text}) WHERE {self.row_sql(op[1], predicate=True)}"
            else:
                _, name, expr = op
                if quote_ident(name) in self.output_columns() or name.startswith("_"):
                    raise Unsupported(f"map() replacing the column {name} after pivot()")
                text = f"SELECT *, {self.row_sql(expr)} AS {quote_ident(name)} FROM ({text})"
                self.extra.append(quote_ident(name))
        return text

    def row_sql(self, expr: Expr, predicate: bool = False) -> str:
        """An expression over one result row (after a reduction or pivot): r.x is the column x."""
        if isinstance(expr, Member) and expr.obj == "r" and expr.hole is None:
            return self.row_column(expr.prop)
        if isinstance(expr, Binary) and expr.op in ("and", "or"):
            return f"({self.row_sql(expr.left, True)} {expr.op.upper()} {self.row_sql(expr.right, True)})"
        if isinstance(expr, Not):
            return f"NOT ({self.row_sql(expr.operand, True)})"
        if isinstance(expr, Call) and expr.name == "exists":
            member = expr.args.get("v")
            if not isinstance(member, Member) or member.obj != "r":
                raise Unsupported("exists on something other than a column of r")
            return f"{self.row_column(member.prop)} IS NOT NULL"
        if isinstance(expr, Binary) and expr.op in COMPARE and expr.op not in ("=~", "!~"):
            return f"{self.row_sql(expr.left)} {COMPARE[expr.op]} {self.row_sql(expr.right)}"
        if isinstance(expr, Binary) and expr.op in ("=~", "!~"):
            if not (isinstance(expr.right, Lit) and expr.right.kind == "regex"):
                raise Unsupported("=~ with something other than a regex literal")
            return f"{self.row_sql(expr.left)} {COMPARE[expr.op]} {sql_string(_regex(expr.right.value))}"
        if isinstance(expr, Binary) and expr.op in ("+", "-", "*", "/", "%"):
            return f"({self.row_sql(expr.left)} {expr.op} {self.row_sql(expr.right)})"
        if predicate and isinstance(expr, Lit) and expr.kind == "bool":
            return expr.value
        return self.t.literal_sql(expr)

    def row_column(self, prop: str) -> str:
        columns = self.output_columns()
        if prop == "_value":
            column = "_value" if self.long or self.merged else self.value_column()
        elif prop == "_time":
            column = "time"
        elif prop == "_field" and self.long:
            column = "_field"
        else:
            column = quote_ident(prop)
        if column not in columns:
            raise Unsupported(f"r.{prop} is not a column of the rows at this point of the pipeline")
        return column

    def value_column(self) -> str:
        if self.q.pivot or not self.fields or len(self.fields) != 1:
            raise Unsupported("r._value after pivot() or over several fields")
        return self.fields[0].sql()

    def output_columns(self, long: bool | None = None) -> list[str]:
        long = self.long if long is None else long
        if self.fields is None:
            raise Unsupported("keep()/drop() without a _field filter")
        cols = ["time"] if self.has_time() else []
        keys = self.partition if (self.q.aggregate or self.q.window) else self.tags
        values = ["_field", "_value"] if long else [f.sql() for f in self.fields]
        if self.merged:
            values = ["_value"]
        return cols + [quote_ident(t) for t in keys] + values + list(self.extra)

    def flux_name(self, column: str) -> str:
        if column == "time":
            return "_time"
        if len(self.fields) == 1 and column == self.fields[0].sql() and not self.q.pivot:
            return "_value"
        return column.strip('"')


# --- expression helpers -----------------------------------------------------------------------------


def _alias(expr: str, name: str) -> str:
    return expr if expr == name else f"{expr} AS {name}"


def _conjuncts(expr: Expr) -> list[Expr]:
    if isinstance(expr, Binary) and expr.op == "and":
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def _disjuncts(expr: Expr) -> list[Expr]:
    if isinstance(expr, Binary) and expr.op == "or":
        return _disjuncts(expr.left) + _disjuncts(expr.right)
    return [expr]


def _is_eq(expr: Expr, r: str, prop: str) -> bool:
    return (
        isinstance(expr, Binary)
        and expr.op == "=="
        and isinstance(expr.left, Member)
        and expr.left.obj == r
        and expr.left.prop == prop
        and expr.left.hole is None
        and isinstance(expr.right, Lit)
        and expr.right.kind == "string"
    )


def _mentions(expr: Expr, r: str, prop: str) -> bool:
    if isinstance(expr, Member):
        return expr.obj == r and expr.prop == prop and expr.hole is None
    if isinstance(expr, Binary):
        return _mentions(expr.left, r, prop) or _mentions(expr.right, r, prop)
    if isinstance(expr, Not):
        return _mentions(expr.operand, r, prop)
    return False


def _term_kind(term: Expr, r: str) -> str:
    if _is_eq(term, r, "_measurement"):
        return "measurement"
    if all(_is_eq(t, r, "_field") for t in _disjuncts(term)):
        return "field"
    if _mentions(term, r, "_measurement") or _mentions(term, r, "_field"):
        raise Unsupported("a _measurement/_field condition other than == (or an or of ==)")
    if _mentions(term, r, "_value"):
        if any(isinstance(m, Member) and m.obj == r and m.prop != "_value" for m in _members(term)):
            raise Unsupported("a filter mixing _value and tags")
        return "value"
    return "tag"


def _members(expr: Expr) -> list[Member]:
    if isinstance(expr, Member):
        return [expr]
    if isinstance(expr, Binary):
        return _members(expr.left) + _members(expr.right)
    if isinstance(expr, Not):
        return _members(expr.operand)
    return []


def _rename_record(expr: Expr, r: str) -> Expr:
    """Normalise the function parameter name to `r`."""
    if isinstance(expr, Member) and expr.obj == r:
        return Member("r", expr.prop, expr.hole)
    if isinstance(expr, Binary):
        return Binary(expr.op, _rename_record(expr.left, r), _rename_record(expr.right, r))
    if isinstance(expr, Not):
        return Not(_rename_record(expr.operand, r))
    return expr


def _name_of(expr: Expr) -> Name:
    return Name(expr.value if expr.hole is None else "", expr.hole)


def _str(expr: Expr | None) -> str:
    if isinstance(expr, Lit) and expr.kind == "string" and expr.hole is None:
        return expr.value
    raise Unsupported("expected a constant string")


def _list(expr: Expr | None) -> tuple[Expr, ...]:
    if isinstance(expr, ListExpr):
        return expr.items
    raise Unsupported("expected a list")


def _regex(pattern: str) -> str:
    # Flux (Go RE2) and DataFusion (Rust regex) share the syntax of the subset; only `\/` differs
    return pattern.replace("\\/", "/")


def translate(
    flux: str,
    hole_names: dict[int, str] | None = None,
    schema: dict[str, list[str]] | None = None,
    fields: dict[str, list[str]] | None = None,
    runtime: bool = False,
) -> Translation:
    """Flux text (holes as ``\\x00n\\x00``) to SQL; raises Unsupported outside the subset.
    `fields`: measurement -> every field the service's writes send (used when no _field filter).
    `runtime`: the caller sends the SQL through runtime's _influxdb3_expand(), so fields and measurements
    the service does not name may be read from the server when the query runs."""
    return Translator(hole_names, schema, fields, runtime).translate(parse(flux))


# --- schema functions (import "influxdata/influxdb/schema") -------------------------------------------


def flux_schema_query(t: Translator, stage: Stage) -> Translation:
    """`schema.tagValues()`/`measurementTagValues()`/`measurements()`: one table, one `_value` column,
    the distinct values sorted (InfluxDB 2 reads them from its index, in order)."""
    name = stage.name.removeprefix("schema.")
    allowed = {
        "tagValues": {"bucket", "tag", "predicate", "start", "stop"},
        "measurementTagValues": {"bucket", "measurement", "tag", "start", "stop"},
        "measurements": {"bucket", "start", "stop"},
        "measurementFieldKeys": {"bucket", "measurement", "start", "stop"},
        "fieldKeys": {"bucket", "predicate", "start", "stop"},
    }
    if name not in allowed:
        raise Unsupported(f"schema.{name}() has no SQL translation")
    if "bucket" not in stage.args or set(stage.args) - allowed[name]:
        raise Unsupported(f"schema.{name}() arguments")
    t.stage_from(Stage("from", {"bucket": stage.args["bucket"]}))
    if name == "measurements":
        return _measurements(t)
    if name in ("measurementFieldKeys", "fieldKeys"):
        return _field_keys(t, stage)
    start = stage.args.get("start", Lit("duration", DEFAULT_SCHEMA_START[1:], negative=True))
    t.q.start = t.time_bound(start, "start")
    t.q.stop = t.time_bound(stage.args["stop"], "stop") if "stop" in stage.args else None
    tag = _str(stage.args.get("tag"))
    if tag.startswith("_"):
        raise Unsupported(f"schema.{name}(tag: {tag!r}): not a tag")
    if name == "measurementTagValues":
        t.q.measurement = (
            _name_of(stage.args["measurement"]) if isinstance(stage.args["measurement"], Lit) else None
        )
        if t.q.measurement is None:
            raise Unsupported("schema.measurementTagValues(measurement:) is not a string")
    predicate = stage.args.get("predicate")
    if predicate is not None:
        if not isinstance(predicate, Function) or len(predicate.params) != 1:
            raise Unsupported("schema.tagValues(predicate:) is not a function")
        for conjunct in _conjuncts(predicate.body):
            t.filter_term(conjunct, predicate.params[0])
        if t.q.value_preds:
            raise Unsupported("schema.tagValues(predicate:) on _value")
    return _tag_values(t, tag)


def _tag_values(t: Translator, tag: str) -> Translation:
    q = t.q
    notes = []
    if q.measurement is not None:
        measurements = [q.measurement]
    else:  # over the whole bucket: the measurements the service writes with this tag
        measurements = [Name(m) for m, tags in sorted(t.schema.items()) if tag in tags]
        if not measurements and t.runtime:
            return _tag_values_runtime(t, tag)
        if not measurements:
            raise Unsupported(
                f"schema.tagValues(tag: {tag!r}) over the whole bucket: no measurement the service "
                'writes carries that tag; add predicate: (r) => r._measurement == "..."'
            )
        notes.append(
            f"tag values of {tag} read from the measurement(s) the service writes with that tag "
            f"({', '.join(m.text for m in measurements)}); add others that carry it"
        )
    column = quote_ident(tag)
    parts = []
    for m in measurements:
        terms = [f"time >= {q.start}", f"time < {q.stop or 'now()'}", f"{column} IS NOT NULL", *q.tag_preds]
        if q.fields:
            terms.append("(" + " OR ".join(f"{f.sql()} IS NOT NULL" for f in q.fields) + ")")
        parts.append(f"SELECT {column} AS _value FROM {m.sql()} WHERE {' AND '.join(terms)}")
    sql = f"SELECT DISTINCT _value FROM ({' UNION ALL '.join(parts)}) ORDER BY _value"
    return _schema_translation(t, sql, measurements[0] if len(measurements) == 1 else Name(""), notes)


def _tag_values_runtime(t: Translator, tag: str) -> Translation:
    """Every measurement of the bucket holding the tag, read from information_schema when it runs."""
    q = t.q
    column = quote_ident(tag)
    terms = [f"time >= {q.start}", f"time < {q.stop or 'now()'}", f"{column} IS NOT NULL"]
    if q.fields or q.tag_preds:  # a column another table may lack: SQL fails where Flux finds nothing
        raise Unsupported(f"schema.tagValues(tag: {tag!r}) over the whole bucket with a predicate")
    part = f"SELECT {column} AS _value FROM {runtime.TABLE} WHERE {' AND '.join(terms)}"
    sql = f"SELECT DISTINCT _value FROM ({runtime.each_table(tag, part)}) ORDER BY _value"
    note = f"tag values of {tag} read from every measurement holding it (information_schema, at run time)"
    result = _schema_translation(t, sql, Name(""), [note])
    result.runtime = True
    return result


def _measurements(t: Translator) -> Translation:
    sql = (
        "SELECT table_name AS _value FROM information_schema.tables "
        "WHERE table_schema = 'iox' ORDER BY _value"
    )
    note = (
        "schema.measurements() listed only measurements with points in its range (default the last 30 "
        "days); information_schema lists every table of the database"
    )
    return _schema_translation(t, sql, Name(""), [note])


def _field_keys(t: Translator, stage: Stage) -> Translation:
    """The field columns of one table: information_schema knows them (tags are dictionaries)."""
    measurement = stage.args.get("measurement")
    predicate = stage.args.get("predicate")
    if isinstance(predicate, Function) and len(predicate.params) == 1:
        terms = _conjuncts(predicate.body)
        if len(terms) == 1 and _is_eq(terms[0], predicate.params[0], "_measurement"):
            measurement = terms[0].right
    if not (isinstance(measurement, Lit) and measurement.kind == "string" and measurement.hole is None):
        raise Unsupported(
            "schema.fieldKeys() without one literal measurement "
            '(predicate: (r) => r._measurement == "...") has no SQL translation'
        )
    sql = (
        "SELECT column_name AS _value FROM information_schema.columns WHERE table_schema = 'iox' "
        f"AND table_name = {sql_string(measurement.value)} AND column_name <> 'time' "
        "AND data_type NOT LIKE 'Dictionary%' ORDER BY _value"
    )
    note = (
        f"{stage.name}() listed only fields with points in its range (default the last 30 days); "
        "information_schema lists every field column of the table"
    )
    return _schema_translation(t, sql, Name(measurement.value), [note])


def _counts_per_measurement(q: _Query) -> bool:
    """`filter(fn: (r) => r.tag == v) |> group(columns: ["_measurement"]) |> count()` over a bucket:
    a row per measurement holding the tag (a sort of one-row tables changes nothing)."""
    return (
        q.group_by_measurement
        and q.group == []
        and not q.group_by_field
        and q.aggregate == "count"
        and q.fields is None
        and len(q.referenced_tags) == 1
        and bool(q.tag_preds)
        and not (q.window or q.selector or q.difference or q.pivot or q.limit or q.post_group)
        and not (q.value_preds or q.value_maps or q.post_maps or q.post_ops or q.exists_tags)
        and q.keep is None
        and q.drop is None
    )


def _count_per_measurement(t: Translator) -> Translation:
    """Every table holding the filtered tag (information_schema, at run time), each counting the points
    of all its fields, as Flux's count() of the table group() made of the measurement's series."""
    q = t.q
    tag = q.referenced_tags[0]
    equal = re.compile(re.escape(quote_ident(tag)) + r" = (\$\w+|'(?:[^']|'')*'|-?\d+(\.\d+)?)")
    if not all(equal.fullmatch(p) for p in q.tag_preds):  # a missing column is null: only `==` is false
        raise Unsupported("no _measurement filter, and the tag filter is not an equality")
    terms = [f"time >= {q.start}", f"time < {q.stop or 'now()'}", *q.tag_preds]
    part = (
        f"SELECT '{runtime.TABLE}' AS _measurement, {runtime.COUNT_FIELDS} AS _value FROM {runtime.TABLE} "
        f"WHERE {' AND '.join(terms)} HAVING count(*) > 0"
    )
    sql = f"SELECT _measurement, _value FROM ({runtime.each_table(tag, part)}) ORDER BY _measurement"
    note = f"the measurements holding {tag}, and their fields, are read from information_schema at run time"
    result = _schema_translation(t, sql, Name(""), [*t.notes, note])
    result.runtime = True
    return result


def _schema_translation(t: Translator, sql: str, measurement: Name, notes: list[str]) -> Translation:
    return Translation(
        sql=sql,
        database=t.q.database,
        measurement=measurement,
        fields=[],
        tags=[],
        params=dict(t.params),
        flux_params=list(t.flux_params),
        has_time=False,
        notes=notes,
        value_column="_value",
    )
