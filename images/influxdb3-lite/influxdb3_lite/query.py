"""Query execution on Apache DataFusion, which InfluxDB 3 itself runs on.

Each query gets a SessionContext with the database's tables registered under `public.iox`, so SQL
semantics and planning errors (`table 'public.iox.x' not found`) are DataFusion's own. InfluxQL is
translated to SQL first (influxql.py).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import DataFrame, SessionConfig, SessionContext, SQLOptions, col

from influxdb3_lite import influxql, iox_sql, pruning
from influxdb3_lite.caches import CacheRegistry, distinct_cache_sql, last_cache_sql
from influxdb3_lite.flightsql_meta import INFORMATION_SCHEMA_VIEWS, CatalogTable
from influxdb3_lite.store import ARROW_TYPES, Catalog, Database, Table
from influxdb3_lite.system import system_tables

READ_ONLY = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)


class DatabaseNotFound(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"database not found: {name}")
        self.name = name


class QueryError(Exception):
    """Planning failed; the message is DataFusion's (or the InfluxQL translator's)."""


class ExecutionError(QueryError):
    """The plan failed while running (the real HTTP API answers 500, not 400)."""


class NotImplementedQuery(QueryError):
    """Valid input that this server (like the real one, or only the stand-in) does not run.

    The message starts with DataFusion's `This feature is not implemented: `, as the real server's."""


class InfluxQLParseError(QueryError):
    """The InfluxQL statement does not parse; each protocol words it its own way."""


@dataclass
class QueryRequest:
    database: str | None
    query: str
    language: str = "sql"
    params: dict[str, object] | None = None
    # SHOW DATABASES / SHOW RETENTION POLICIES are answered by the HTTP handler
    # (`query_influxql_inner`, http.rs); the planner behind Flight does not implement them.
    via_http: bool = False
    # The v1 `/query` endpoint (V1HttpHandler), whose SHOW RETENTION POLICIES has a shape of its own.
    v1: bool = False


@dataclass
class QueryLogEntry:
    """One row of `system.queries` (`influxdb3_server/src/system_tables/queries.rs`)."""

    id: str
    phase: str
    issue_time: int
    query_type: str
    query_text: str
    params: str
    success: bool
    running: bool
    cancelled: bool = False
    plan_duration: int | None = None
    execute_duration: int | None = None


@dataclass
class _Cached:
    key: tuple
    ctx: SessionContext
    tables: tuple  # the keyed objects, kept alive so their ids cannot be reused meanwhile
    # Of a planning session: the time bounds learnt per (query text, parameters) on its schemas.
    learned: dict[tuple[str, str], pruning.LearnedBounds] = field(default_factory=dict)


class Executor:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.query_log: list[QueryLogEntry] = []
        self._cache: dict[str, _Cached] = {}
        self._planning: dict[str, _Cached] = {}  # per database: empty tables to plan on
        self._cache_lock = threading.Lock()
        self.caches = CacheRegistry()

    def run(self, request: QueryRequest) -> pa.Table:
        entry = QueryLogEntry(
            str(uuid.uuid4()),
            "plan",
            time.time_ns(),
            request.language,
            request.query,
            json.dumps(request.params or {}),
            False,
            True,
        )
        self.query_log = (self.query_log + [entry])[-1000:]
        began = time.perf_counter_ns()
        try:
            table = self._run(request)
            entry.success = True
            return _hydrate_dictionaries(table)
        finally:
            entry.running, entry.phase = False, "success" if entry.success else "fail"
            entry.execute_duration = time.perf_counter_ns() - began

    def _run(self, request: QueryRequest) -> pa.Table:
        if request.language == "influxql":
            try:
                return self._influxql(request)
            except influxql.MultipleStatements as exc:
                raise QueryError(str(exc)) from None
            except influxql.InfluxQLError as exc:
                raise InfluxQLParseError(str(exc)) from None
            except influxql.Unsupported as exc:
                raise NotImplementedQuery(f"This feature is not implemented: {exc}") from None
        db = self._database(request.database)
        return self._sql(db, request.query, request.params)

    def _database(self, name: str | None) -> Database:
        db = self.catalog.get(name or "")
        if db is None:
            raise DatabaseNotFound(name or "")
        return db

    def _context(self, db: Database, with_system: bool = False) -> SessionContext:
        """A session with the database's tables; reused while no table changed (snapshots are
        cached per table version, the session per database version)."""
        # Object identities too: a database or table deleted and created again under the same
        # name starts again at version 1 and must not find the old session. The versions are
        # read before the snapshots are taken, so a snapshot holds at least its key's rows. No
        # catalog lock: copying the table dict and reading ints are atomic under the GIL.
        current = sorted(list(db.tables.items()))
        key = (id(db), tuple((n, id(t), t.version, len(t.columns)) for n, t in current))
        cached = self._cache.get(db.name)
        if cached is not None and cached.key == key and not db.retention_ns and not with_system:
            return cached.ctx
        # Snapshots are built outside the catalog lock: writers go on meanwhile.
        tables = {name: t.snapshot() for name, t in current}
        ctx = _new_context()
        for name, table in tables.items():
            table = _retained(table, db.retention_ns)
            ctx.register_record_batches(name, [table.to_batches() or [_empty_batch(table.schema)]])
        if with_system:
            ctx.sql("CREATE SCHEMA public.system").collect()
            for name, table in system_tables(self, db).items():
                ctx.register_record_batches(f"system.{name}", [table.to_batches() or [_empty_batch(table)]])
        elif not db.retention_ns:
            with self._cache_lock:
                self._cache[db.name] = _Cached(key, ctx, (db, *(t for _, t in current)))
        return ctx

    def _planning_context(self, db: Database, current: list[tuple[str, Table]]) -> SessionContext:
        return self._planning_entry(db, current).ctx

    def _planning_entry(self, db: Database, current: list[tuple[str, Table]]) -> _Cached:
        """A session with empty tables of the database's schemas, to plan a query before any
        data is handed over; reused until a table or a column is added (writes of rows do not
        change it, so under load it is planned on again and again)."""
        key = _schema_key(db, current)
        cached = self._planning.get(db.name)
        if cached is not None and cached.key == key:
            return cached
        ctx = _new_context()
        for name, table in current:
            ctx.register_record_batches(name, [[_empty_batch(table.schema())]])
        entry = _Cached(key, ctx, (db, *(t for _, t in current)))
        with self._cache_lock:
            self._planning[db.name] = entry
        return entry

    def _pruned_context(
        self, db: Database, sql: str, params: dict[str, object] | None
    ) -> SessionContext | None:
        """A session holding, of each table the query bounds below in time, only the chunks
        that reach the bound (pruning.py); None when no table is bounded (the cached session
        of the whole tables serves it) or the query does not plan (its run words the error)."""
        if not pruning.now_is_monotone(sql):
            return None
        clock = time.time_ns()  # before any planning of the run: its now() is later
        current = sorted(list(db.tables.items()))
        entry = self._planning_entry(db, current)
        key = (sql, repr(sorted((params or {}).items())))
        learned = entry.learned.get(key)
        if learned is not None:
            bounds = learned.at(clock)
        else:
            try:
                bounds = self._learn(entry, sql, params, key)
            except Exception:  # noqa: BLE001 - DataFusion's errors are plain Exceptions
                return None  # the run on the whole tables words the error
        if not bounds:
            return None
        ctx = _new_context()
        for name, table in current:
            snapshot = table.snapshot_chunks()
            bound = bounds.get(name)
            chunks = (
                snapshot.chunks if bound is None else pruning.prune(snapshot.chunks, snapshot.stats, bound)
            )
            if db.retention_ns:
                chunks = _retained(
                    pa.Table.from_batches(chunks, snapshot.schema), db.retention_ns
                ).to_batches()
            chunks = [c for c in chunks if c.num_rows]
            ctx.register_record_batches(name, [chunks or [_empty_batch(snapshot.schema)]])
        return ctx

    def _learn(
        self, entry: _Cached, sql: str, params: dict[str, object] | None, key: tuple[str, str]
    ) -> dict[str, pruning.TimeBound]:
        """The query's bounds from a pruning plan; a learnable query is planned twice, so its
        next runs on the same schemas read their bounds from what was learnt
        (pruning.LearnedBounds)."""
        first = _plan_bounds(entry.ctx, sql, params)
        if not pruning.learnable(sql):
            return first
        second = _plan_bounds(entry.ctx, sql, params)
        learned = pruning.LearnedBounds.learn(first, second, time.time_ns())
        if learned is not None:
            with self._cache_lock:
                if len(entry.learned) >= LEARNED_QUERIES:
                    entry.learned.pop(next(iter(entry.learned)))  # the oldest learnt
                entry.learned[key] = learned
        return second

    def _sql(self, db: Database, sql: str, params: dict[str, object] | None) -> pa.Table:
        with_system = bool(re.search(r"\b(system|show|information_schema)\b", sql, re.IGNORECASE))
        nested = iox_sql.gapfill_subquery(sql) is not None
        # A private session when the query adds to it (system tables, per-query UDFs, filled
        # subqueries); otherwise the cached one of this database version.
        private = with_system or nested or "date_bin_wallclock" in sql.lower()
        pruned = None if private or iox_sql.mentions(sql) else self._pruned_context(db, sql, params)
        ctx = pruned or self._context(db, private)
        count = 0
        while (found := iox_sql.gapfill_subquery(sql)) is not None:
            # The real analyzer fills any Aggregate; here each gap-filling subquery (innermost
            # first) runs on its own and the query reads its filled rows.
            start, end, inner = found
            name = f"__gapfilled_{count}"
            filled = self._sql_on(ctx, db, inner, params)
            ctx.register_record_batches(name, [filled.to_batches() or [_empty_batch(filled)]])
            sql = f"{sql[:start]}(SELECT * FROM {name}){sql[end:]}"
            count += 1
        # Only the final answer is hydrated: a filled subquery keeps its types for the outer query.
        return self._sql_on(ctx, db, sql, params, hydrate=True)

    def _sql_on(
        self,
        ctx: SessionContext,
        db: Database,
        sql: str,
        params: dict[str, object] | None,
        hydrate: bool = False,
    ) -> pa.Table:
        try:
            prepared = (
                iox_sql.prepare(sql, sorted(db.tables), lambda *a: self._cache_sql(db, *a))
                if iox_sql.mentions(sql)
                else None
            )
        except iox_sql.IoxNotImplemented as exc:
            raise NotImplementedQuery(str(exc)) from None
        except iox_sql.IoxSqlError as exc:
            raise QueryError(str(exc)) from None
        if prepared is None:
            return self._run_sql(ctx, sql, params, hydrate)
        for function in iox_sql.wallclock_udfs(prepared.wallclock_zones):
            ctx.register_udf(function)  # ctx is private whenever date_bin_wallclock is used
        table = self._run_sql(ctx, prepared.sql, params)
        plan = prepared.gapfill
        if plan is not None:
            try:
                table = iox_sql.fill(plan, table, lambda q: self._run_sql(ctx, q, params))
            except iox_sql.IoxNotImplemented as exc:
                raise NotImplementedQuery(str(exc)) from None
            except iox_sql.IoxSqlError as exc:
                raise QueryError(str(exc)) from None
            table = iox_sql.apply_renames(table, prepared.renames)
            table = iox_sql.order_and_limit(table, plan, _run_on)
        return table

    def catalog_tables(self, name: str) -> list[CatalogTable]:
        """Every table a Flight SQL client can browse in this database (GetTables): the
        information_schema views, the database's tables as stored, the system tables."""
        db = self._database(name)
        views = [CatalogTable("information_schema", v, "VIEW", s) for v, s in _information_schema().items()]
        with self.catalog.lock:
            stored = [(n, t.schema()) for n, t in db.tables.items()]
        iox = [CatalogTable("iox", n, "BASE", schema) for n, schema in stored]
        system = [CatalogTable("system", n, "BASE", t.schema) for n, t in system_tables(self, db).items()]
        return views + iox + system

    def prepared_schemas(self, name: str, sql: str) -> tuple[pa.Schema, pa.Schema]:
        """The dataset and parameter schemas of a statement with `$` placeholders, from its
        logical plan as the real server takes them (planner.rs
        `get_encoded_schemas_for_prepared_statement`): dictionaries hydrated, each parameter
        typed by what it is compared with (DataFusion's placeholder inference)."""
        db = self._database(name)
        text = sql
        if iox_sql.mentions(sql):
            try:
                text = iox_sql.prepare(sql, sorted(db.tables), lambda *a: self._cache_sql(db, *a)).sql
            except iox_sql.IoxSqlError as exc:
                raise QueryError(str(exc)) from None
        ctx = self._context(db, bool(re.search(r"\b(system|information_schema)\b", sql, re.IGNORECASE)))
        try:
            frame = ctx.sql(text)
            schema, plan = frame.schema(), frame.logical_plan().display_indent()
        except Exception as exc:  # DataFusion's planning error, as the real one answers it
            raise _classify(str(exc), planning=True) from None
        with self.catalog.lock:
            columns = {c: k for t in db.tables.values() for c, k in t.columns.items()}
        return hydrated_schema(schema), parameter_schema(plan, columns)

    def _cache_sql(self, db: Database, kind: str, table: str, name: str | None) -> str | None:
        cache = self.caches.find(kind, db.name, table, name)
        if cache is None or table not in db.tables:
            return None
        if kind == "last":
            return last_cache_sql(cache, db.tables[table].columns)
        return distinct_cache_sql(cache)

    @staticmethod
    def _run_sql(
        ctx: SessionContext, sql: str, params: dict[str, object] | None, hydrate: bool = False
    ) -> pa.Table:
        """Planning (SQL to an optimised physical plan) and running fail differently: the HTTP
        API answers 400 for the first and 500 for the second. `hydrate`: tags come back as
        Utf8 (`_hydrate_dictionaries`), cast by DataFusion inside the run where it can."""
        try:
            frame = ctx.sql(sql, param_values=dict(params)) if params else ctx.sql(sql)
            schema = frame.schema()
        except Exception as exc:  # DataFusion raises plain Exceptions carrying its message
            raise _classify(str(exc), planning=True) from None
        hydrated = _hydrating(frame, schema) if hydrate else None
        table = _collect_hydrated(hydrated, schema) if hydrated is not None else None
        if table is not None:
            return table
        try:
            # One call that plans physically and runs without the GIL: datafusion-python's
            # execute_stream() holds it through physical planning (several ms on a large
            # table, stalling every writer thread), and each streamed batch takes it back.
            batches = frame.collect()
        except Exception as exc:
            raise _classify(str(exc), planning=not _plans(frame)) from None
        table = pa.Table.from_batches(batches, schema=schema)
        return _hydrate_dictionaries(table) if hydrate else table

    def _influxql(self, request: QueryRequest) -> pa.Table:
        statement = influxql.parse(request.query)
        if (
            isinstance(statement, (influxql.ShowDatabases, influxql.ShowRetentionPolicies))
            and not request.via_http
        ):
            kind = (
                "SHOW DATABASES"
                if isinstance(statement, influxql.ShowDatabases)
                else "SHOW RETENTION POLICIES"
            )
            raise NotImplementedQuery(f"This feature is not implemented: {kind}")
        if isinstance(statement, influxql.ShowDatabases):
            names = [r["iox::database"] for r in self.catalog.listing() if r["iox::database"] != "_internal"]
            return pa.table(
                {
                    "iox::measurement": pa.array(["databases"] * len(names), pa.string()),
                    "name": pa.array(names, pa.string()),
                }
            )
        if isinstance(statement, influxql.ShowRetentionPolicies):
            name = statement.database or request.database
            return self._v1_retention_policy(name) if request.v1 else self._retention_policies(name)
        db = self._database(request.database)
        if isinstance(statement, influxql.ShowMeasurements):
            names = [n for n in sorted(db.tables) if statement.matches(n)][statement.offset :]
            names = names if statement.limit is None else names[: statement.limit]
            return pa.table(
                {
                    "iox::measurement": pa.array(["measurements"] * len(names), pa.string()),
                    "name": pa.array(names, pa.string()),
                }
            )
        if isinstance(statement, influxql.ShowKeys):
            return self._show_keys(db, statement)
        if isinstance(statement, influxql.ShowTagValues):
            return self._show_tag_values(db, statement)
        if isinstance(statement, influxql.Explain):
            return self._explain(db, statement, request.params)
        parts = []
        ctx = self._context(db)  # one snapshot of every table for all the measurements named
        for measurement in statement.measurements:
            if measurement not in db.tables:
                continue
            if statement.group_time_ns and influxql.needs_lower_bound(statement):
                statement.first_time_ns = _first_time(db.tables[measurement].snapshot())
            sql, bounds = influxql.to_sql(statement, measurement, db.tables[measurement].columns)
            # Tags as plain strings here: the windows are joined, sorted and concatenated next.
            result = self._run_sql(ctx, sql, request.params, hydrate=True)
            if influxql.gap_filled(statement):
                result = gap_fill(result, statement, bounds)
            parts.append(result)
        if not parts:
            return pa.table(
                {"iox::measurement": pa.array([], pa.string()), "time": pa.array([], pa.timestamp("ns"))}
            )
        return pa.concat_tables(parts, promote_options="default")

    def _explain(
        self, db: Database, statement: influxql.Explain, params: dict[str, object] | None
    ) -> pa.Table:
        """`EXPLAIN [ANALYZE] [VERBOSE] SELECT`: DataFusion's explain table (`plan_type`, `plan`),
        as the real planner answers it (`explain_statement_to_plan`, core/iox_query_influxql/src/
        plan/planner.rs: an Explain or Analyze node over the SELECT's plan). The plan is the one
        of the stand-in's SQL translation, not the real planner's; a SELECT of several
        measurements (one plan of a union there, separate queries here) stays refused."""
        select = statement.select
        present = [m for m in select.measurements if m in db.tables]
        if len(present) != 1:
            raise NotImplementedQuery("This feature is not implemented: EXPLAIN")
        table = db.tables[present[0]]
        if select.group_time_ns and influxql.needs_lower_bound(select):
            select.first_time_ns = _first_time(table.snapshot())
        sql, _ = influxql.to_sql(select, present[0], table.columns)
        options = "".join(
            word for word, on in (("ANALYZE ", statement.analyze), ("VERBOSE ", statement.verbose)) if on
        )
        return self._run_sql(self._context(db), f"EXPLAIN {options}{sql}", params)

    def _retention_policies(self, name: str | None) -> pa.Table:
        """`QueryExecutorImpl::show_retention_policies` (influxdb3_server/src/query_executor):
        a row per database, all when none is named, sorted by name: `iox::database` the part
        before '/', `name` the part after it or `autogen`, `duration` Int64 from the namespace's
        `retention_time_ns()`, which is None in Core (always null)."""
        if name:
            databases = [self._database(name).name]
        else:
            listed = [r["iox::database"] for r in self.catalog.listing() if r["iox::database"] != "_internal"]
            databases = sorted(listed)
        parts = [(n.split("/")[0], n.split("/")[1] if "/" in n else "autogen") for n in databases]
        return pa.table(
            {
                "iox::database": pa.array([p[0] for p in parts], pa.string()),
                "name": pa.array([p[1] for p in parts], pa.string()),
                "duration": pa.nulls(len(parts), pa.int64()),
            }
        )

    def _v1_retention_policy(self, name: str | None) -> pa.Table:
        """`ShowRetentionPolicies` of the v1 `/query` API (influxdb3_server/src/query_executor,
        its test `test_show_retention_policies`): one row for the database, `name` the database's
        own name, `duration` its retention as v1 prints a duration (`168h0m0s`, `1m30s`, `0s`
        for none), `default` true."""
        db = self._database(name)
        return pa.table(
            {
                "iox::measurement": pa.array(["retention_policies"], pa.string()),
                "name": pa.array([db.name], pa.string()),
                "duration": pa.array([_v1_duration(db.retention_ns)], pa.string()),
                "default": pa.array([True], pa.bool_()),
            }
        )

    def _show_tag_values(self, db: Database, statement: influxql.ShowTagValues) -> pa.Table:
        """Rows `iox::measurement, key, value`, distinct and sorted per measurement and key."""
        rows: list[tuple[str, str, str]] = []
        for name in statement.measurements or sorted(db.tables):
            table = db.tables.get(name)
            if table is None:
                continue
            snapshot = _hydrate_dictionaries(table.snapshot())
            for key in sorted(
                k for k, kind in table.columns.items() if kind == "tag" and statement.matches(k)
            ):
                values = pc.unique(snapshot[key].combine_chunks().drop_null()).to_pylist()
                rows += [(name, key, v) for v in sorted(values)]
        return pa.table(
            {
                "iox::measurement": pa.array([r[0] for r in rows], pa.string()),
                "key": pa.array([r[1] for r in rows], pa.string()),
                "value": pa.array([r[2] for r in rows], pa.string()),
            }
        )

    def _show_keys(self, db: Database, statement: influxql.ShowKeys) -> pa.Table:
        rows: list[tuple[str, str, str]] = []
        tables = statement.measurements or sorted(db.tables)
        for name in tables:
            table = db.tables.get(name)
            for column, kind in sorted((table.columns if table else {}).items()):
                if statement.kind == "tag" and kind == "tag":
                    rows.append((name, column, ""))
                elif statement.kind == "field" and kind not in ("tag", "timestamp"):
                    rows.append((name, column, influxql.FIELD_TYPES[kind]))
        data = {"iox::measurement": pa.array([r[0] for r in rows], pa.string())}
        if statement.kind == "tag":
            data["tagKey"] = pa.array([r[1] for r in rows], pa.string())
        else:
            data["fieldKey"] = pa.array([r[1] for r in rows], pa.string())
            data["fieldType"] = pa.array([r[2] for r in rows], pa.string())
        return pa.table(data)


def _plans(frame: DataFrame) -> bool:
    """Whether physical planning succeeds: a failed collect() is a planning error (400) when
    it fails already there, else an execution error (500). Only on the error path."""
    try:
        frame.execution_plan()
    except Exception:  # noqa: BLE001 - DataFusion raises plain Exceptions
        return False
    return True


def _hydrating(frame: DataFrame, schema: pa.Schema) -> DataFrame | None:
    """The frame with its dictionary columns cast to their value type by DataFusion, so the
    run hands back Utf8 tags itself, in the same GIL-free call, instead of Arrow C++'s
    dictionary cast (a var-binary take) after it. Measured interleaved in one process on the
    bench's table, the raw loaded query's run and hydration took 8.0 -> 7.4 ms of CPU for 304k
    rows and 14.8 -> 12.9 ms for 603k (the aggregate, 300 rows out, unchanged). None when no
    column is a dictionary or a name does not resolve (a join's two `host` columns): those are
    cast afterwards, as before. Field metadata is the original schema's (hydrated_schema)."""
    if not any(pa.types.is_dictionary(f.type) for f in schema):
        return None
    exprs = []
    for f in schema:
        column = col('"' + f.name.replace('"', '""') + '"')  # quoted: exact, case kept
        exprs.append(
            column.cast(f.type.value_type).alias(f.name) if pa.types.is_dictionary(f.type) else column
        )
    try:
        return frame.select(*exprs)
    except Exception:  # noqa: BLE001 - an ambiguous name: cast after the run instead
        return None


def _collect_hydrated(hydrated: DataFrame, schema: pa.Schema) -> pa.Table | None:
    """The run of a `_hydrating` frame, in the hydrated planned schema; None when it fails, so
    the plain run words the error as before (a failing query then runs twice; nothing else)."""
    try:
        return pa.Table.from_batches(hydrated.collect(), schema=hydrated_schema(schema))
    except Exception:  # noqa: BLE001 - DataFusion raises plain Exceptions
        return None


def _classify(message: str, planning: bool) -> QueryError:
    """DataFusion's error as the HTTP API sorts it: not-implemented 405, planning 400, running 500."""
    message = _clean(message)
    if "This feature is not implemented" in message:
        return NotImplementedQuery(message)
    return QueryError(message) if planning else ExecutionError(message)


def _v1_duration(nanos: int | None) -> str:
    """A retention period as `format_v1` prints it: hours, minutes and seconds, leading zero
    units left out (`168h0m0s`, `1m30s`, `0s`)."""
    seconds = (nanos or 0) // 10**9
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def _hydrate_dictionaries(table: pa.Table) -> pa.Table:
    """Tags leave as Utf8, as the real server's Flight encoder hydrates dictionaries."""
    if not any(pa.types.is_dictionary(f.type) for f in table.schema):
        return table
    fields, columns = [], []
    for f, column in zip(table.schema, table.columns, strict=False):
        if pa.types.is_dictionary(f.type):
            column, f = column.cast(f.type.value_type), f.with_type(f.type.value_type)
        fields.append(f)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


_VIEW_SCHEMAS: dict[str, pa.Schema] = {}


def _information_schema() -> dict[str, pa.Schema]:
    """The information_schema views' schemas (DataFusion's own, fixed for its version)."""
    if not _VIEW_SCHEMAS:
        config = SessionConfig().with_information_schema(True)
        ctx = SessionContext(config)
        for view in INFORMATION_SCHEMA_VIEWS:
            _VIEW_SCHEMAS[view] = ctx.sql(f"SELECT * FROM information_schema.{view}").schema()
    return dict(_VIEW_SCHEMAS)


def hydrated_schema(schema: pa.Schema) -> pa.Schema:
    """`prepare_schema_for_flight`: dictionary columns announced as their value type."""
    fields = [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


_OPERATORS = r"(?:=|!=|<>|<=|>=|<|>|\+|-|\*|/|%|(?:NOT )?I?LIKE)"
_OPERAND = r"(?:[\w.]+\([^()]*\)|[\w.\"]+)"
_PARAM = r"\$\w+"
_LITERAL_TYPES = {
    "Int64": pa.int64(),
    "Int32": pa.int32(),
    "UInt64": pa.uint64(),
    "Float64": pa.float64(),
    "Utf8": pa.string(),
    "Boolean": pa.bool_(),
    "TimestampNanosecond": pa.timestamp("ns"),
}


def parameter_schema(plan: str, columns: dict[str, str]) -> pa.Schema:
    """Each `$` placeholder of a logical plan typed by the column or literal it meets in a
    comparison, arithmetic, BETWEEN or IN list, as DataFusion infers them; one it cannot type
    is the real server's `UnknownParameterType`. Fields in name order (the real server's come
    from a HashMap, in no fixed order)."""
    types: dict[str, pa.DataType] = {}
    pairs = re.findall(rf"({_OPERAND}) {_OPERATORS} ({_PARAM})", plan)
    pairs += [(b, a) for a, b in re.findall(rf"({_PARAM}) {_OPERATORS} ({_OPERAND})", plan)]
    for operand, first, second in re.findall(rf"({_OPERAND}) (?:NOT )?BETWEEN (\S+) AND (\S+)", plan):
        pairs += [(operand, p) for p in (first, second) if p.startswith("$")]
    for operand, items in re.findall(rf"({_OPERAND}) (?:NOT )?IN \(\[([^\]]*)\]\)", plan):
        pairs += [(operand, p.strip()) for p in items.split(",") if p.strip().startswith("$")]
    for operand, param in pairs:
        kind = _operand_type(operand, columns)
        if kind is not None:
            types.setdefault(param, kind)
    for param in sorted(set(re.findall(_PARAM, plan))):
        if param not in types:
            raise QueryError(f"Unable to infer the type of parameter '{param}' in prepared statement")
    return pa.schema([pa.field(name, types[name]) for name in sorted(types)])


def _operand_type(operand: str, columns: dict[str, str]) -> pa.DataType | None:
    literal = re.fullmatch(r"(\w+)\(.*\)", operand)
    if literal:
        return _LITERAL_TYPES.get(literal.group(1))
    kind = columns.get(operand.rsplit(".", 1)[-1].strip('"'))
    if kind is None:
        return None
    arrow = ARROW_TYPES[kind]
    return arrow.value_type if pa.types.is_dictionary(arrow) else arrow


def _first_time(table: pa.Table) -> int | None:
    if table.num_rows == 0:
        return None
    return pc.min(table["time"]).cast(pa.int64()).as_py()


def _run_on(table: pa.Table, sql: str) -> pa.Table:
    ctx = SessionContext()
    ctx.register_record_batches("__gapfilled", [table.to_batches() or [_empty_batch(table)]])
    return Executor._run_sql(ctx, sql, None)


def _empty_batch(table: pa.Table | pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=table if isinstance(table, pa.Schema) else table.schema)


LEARNED_QUERIES = 256  # distinct queries whose time bounds are kept


def _schema_key(db: Database, current: list[tuple[str, Table]]) -> tuple:
    """What a plan depends on besides its text: the database and table objects (one dropped
    and made again is another; the cache entry keeps them alive, so their ids stay theirs) and
    their column counts (columns are only ever added, their types fixed by the first write)."""
    return (id(db), tuple((n, id(t), len(t.columns)) for n, t in current))


def _plan_bounds(
    planning: SessionContext, sql: str, params: dict[str, object] | None
) -> dict[str, pruning.TimeBound]:
    # Read-only: a DDL or DML statement must not change the shared planning session; refused
    # here, it takes the usual path, which answers it as before.
    frame = planning.sql(sql, options=READ_ONLY, param_values=dict(params) if params else None)
    plan = frame.optimized_logical_plan()
    return pruning.lower_bounds(plan, plan.display_indent())


def _new_context() -> SessionContext:
    """A session as the real server's: tables under `public.iox`, information_schema on.

    One partition: under load a query's DataFusion threads share the cores with every writer,
    so the CPU a query spends, not its parallelism, sets its latency; a partition per core
    repartitions and merges. Measured (process CPU per query, the bench's two loaded queries
    on ~260k rows, median of 5 rounds): 6.5 and 12.9 ms with a partition per core, 4.5 and
    9.0 ms with one (64k-row batches on top gave nothing more)."""
    config = (
        SessionConfig()
        .with_default_catalog_and_schema("public", "iox")
        .with_information_schema(True)
        .with_target_partitions(1)
    )
    return SessionContext(config)


def gap_fill(result: pa.Table, statement: influxql.Select, bounds: influxql.TimeRange) -> pa.Table:
    """Every window between the time bounds appears per series; empty ones get null, the
    previous window's value, a linear interpolation or a constant, as `fill()` asks (the
    InfluxQL planner's gap filling, iox_query_influxql, over IOx's GapFill)."""
    if result.num_rows == 0:
        return result
    step = statement.group_time_ns or 1
    upper = bounds.upper if bounds.upper is not None else statement.now_ns
    first = (bounds.lower or 0) - (bounds.lower or 0) % step
    windows = list(range(first, upper, step))
    tags = statement.group_tags
    series = (
        result.select(["iox::measurement", *tags])
        .group_by(["iox::measurement", *tags], use_threads=False)
        .aggregate([])
    )
    repeated = series.take(pa.array([i for i in range(series.num_rows) for _ in windows]))
    grid = repeated.append_column("time", pa.array(windows * series.num_rows, pa.timestamp("ns")))
    keys = ["iox::measurement", "time", *tags]
    marked = result.append_column("__present", pa.array([True] * result.num_rows))
    joined = grid.join(marked, keys=keys, join_type="left outer", use_threads=False)
    joined = joined.sort_by([(t, "ascending") for t in tags] + [("time", "ascending")])
    joined = _fill_gaps(joined, statement, [c for c in result.column_names if c not in keys])
    order = [(t, "ascending") for t in tags] + [
        ("time", "descending" if statement.descending else "ascending")
    ]
    return joined.select(result.column_names).sort_by(order).cast(result.schema)


def _fill_gaps(joined: pa.Table, statement: influxql.Select, values: list[str]) -> pa.Table:
    if statement.fill == "null":
        return joined
    present = joined["__present"].to_pylist()
    series_keys = joined.select(["iox::measurement", *statement.group_tags]).to_pylist()
    times = joined["time"].cast(pa.int64()).to_pylist()
    number = influxql.fill_number(statement)
    for name in values:
        column = joined[name].to_pylist()
        for run in _runs(series_keys):
            if number is not None:
                for i in run:
                    column[i] = number if not present[i] else column[i]
            elif statement.fill == "previous":
                for prev, i in zip(run, run[1:], strict=False):
                    column[i] = column[prev] if not present[i] else column[i]
            else:
                _linear(column, present, times, run)
        kind = joined.schema.field(name).type
        filled = pa.array(column, pa.float64() if number is not None and isinstance(number, float) else None)
        joined = joined.set_column(joined.column_names.index(name), name, filled.cast(kind, safe=False))
    return joined


def _runs(keys: list[dict]) -> list[list[int]]:
    """Row indices per series (rows are sorted by series, then time)."""
    runs: list[list[int]] = []
    for index, key in enumerate(keys):
        if index and key == keys[index - 1]:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _linear(column: list, present: list, times: list[int], run: list[int]) -> None:
    known = [i for i in run if present[i] and column[i] is not None]
    for left, right in zip(known, known[1:], strict=False):
        for i in run[run.index(left) + 1 : run.index(right)]:
            share = (times[i] - times[left]) / (times[right] - times[left])
            value = column[left] + (column[right] - column[left]) * share
            column[i] = int(value) if isinstance(column[left], int) else value


def _retained(table: pa.Table, retention_ns: int | None) -> pa.Table:
    """A retention period hides points older than now - period, as the real server does."""
    if not retention_ns or table.num_rows == 0:
        return table
    cutoff = pa.scalar(time.time_ns() - retention_ns, pa.timestamp("ns"))
    return table.filter(pc.greater_equal(table["time"], cutoff))


def _clean(message: str) -> str:
    # datafusion-python prefixes "DataFusion error: "; the server's texts start at the error kind.
    for prefix in ("DataFusion error: ", "Execution error: DataFusion error: "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message
