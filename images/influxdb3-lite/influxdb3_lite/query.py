"""Query execution on Apache DataFusion, which InfluxDB 3 itself runs on.

Each query gets a SessionContext with the database's tables registered under `public.iox`, so SQL
semantics and planning errors (`table 'public.iox.x' not found`) are DataFusion's own. InfluxQL is
translated to SQL first (influxql.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import SessionConfig, SessionContext

from influxdb3_lite import influxql
from influxdb3_lite.store import Catalog, Database


class DatabaseNotFound(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"database not found: {name}")
        self.name = name


class QueryError(Exception):
    """Planning or execution failed; the message is DataFusion's (or the InfluxQL translator's)."""


class NotImplementedQuery(QueryError):
    """Valid InfluxQL that this server does not translate: refused, never answered wrongly.

    The message starts with DataFusion's `This feature is not implemented: `, as the real server's."""


class InfluxQLParseError(QueryError):
    """The InfluxQL statement does not parse; each protocol words it its own way."""


@dataclass
class QueryRequest:
    database: str | None
    query: str
    language: str = "sql"
    params: dict[str, object] | None = None


class Executor:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def run(self, request: QueryRequest) -> pa.Table:
        if request.language == "influxql":
            try:
                return self._influxql(request)
            except influxql.InfluxQLError as exc:
                raise InfluxQLParseError(str(exc)) from None
            except influxql.Unsupported as exc:
                raise NotImplementedQuery(f"This feature is not implemented: {exc}") from None
        db = self._database(request.database)
        return self._sql(self._context(db), request.query, request.params)

    def _database(self, name: str | None) -> Database:
        db = self.catalog.get(name or "")
        if db is None:
            raise DatabaseNotFound(name or "")
        return db

    def _context(self, db: Database) -> SessionContext:
        config = (
            SessionConfig().with_default_catalog_and_schema("public", "iox").with_information_schema(True)
        )
        ctx = SessionContext(config)
        with self.catalog.lock:
            tables = {name: _retained(t.snapshot(), db.retention_ns) for name, t in db.tables.items()}
        for name, table in tables.items():
            batches = table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]
            ctx.register_record_batches(name, [batches])
        return ctx

    @staticmethod
    def _sql(ctx: SessionContext, sql: str, params: dict[str, object] | None) -> pa.Table:
        try:
            frame = ctx.sql(sql, param_values=dict(params)) if params else ctx.sql(sql)
            schema = frame.schema()
            return pa.Table.from_batches(frame.collect(), schema=schema)
        except Exception as exc:  # DataFusion raises plain Exceptions carrying its message
            raise QueryError(_clean(str(exc))) from None

    def _influxql(self, request: QueryRequest) -> pa.Table:
        statement = influxql.parse(request.query)
        if isinstance(statement, influxql.ShowDatabases):
            raise NotImplementedQuery("This feature is not implemented: SHOW DATABASES")
        db = self._database(request.database)
        if isinstance(statement, influxql.ShowMeasurements):
            names = sorted(db.tables)
            return pa.table(
                {
                    "iox::measurement": pa.array(["measurements"] * len(names), pa.string()),
                    "name": pa.array(names, pa.string()),
                }
            )
        if isinstance(statement, influxql.ShowKeys):
            return self._show_keys(db, statement)
        parts = []
        ctx = self._context(db)  # one snapshot of every table for all the measurements named
        for measurement in statement.measurements:
            if measurement not in db.tables:
                continue
            sql, bounds = influxql.to_sql(statement, measurement, db.tables[measurement].columns)
            result = self._sql(ctx, sql, request.params)
            if influxql.gap_filled(statement):
                result = gap_fill(result, statement, bounds)
            parts.append(result)
        if not parts:
            return pa.table(
                {"iox::measurement": pa.array([], pa.string()), "time": pa.array([], pa.timestamp("ns"))}
            )
        return pa.concat_tables(parts, promote_options="default")

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


def gap_fill(result: pa.Table, statement: influxql.Select, bounds: influxql.TimeRange) -> pa.Table:
    """fill(null): every window between the WHERE bounds appears, empty ones with nulls."""
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
    joined = grid.join(result, keys=keys, join_type="left outer", use_threads=False)
    order = [(t, "ascending") for t in tags] + [
        ("time", "descending" if statement.descending else "ascending")
    ]
    return joined.select(result.column_names).sort_by(order).cast(result.schema)


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
