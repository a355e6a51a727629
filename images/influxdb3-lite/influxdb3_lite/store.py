"""The in-memory catalog: databases of tables of Arrow record batches.

Column types follow InfluxDB 3 (specs § 1.10): tags Dictionary(Int32, Utf8) as the real server stores
them (what SQL sees: `arrow_typeof`, `information_schema.columns`; the Flight side hydrates them to
Utf8 as the real server's encoder does), fields Float64/Int64/UInt64/Utf8/Boolean, `time`
Timestamp(ns) not nullable, columns sorted by name. The first write fixes a column's type. Points
with the same series key and time are merged, last write wins per field, as the real server
deduplicates.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from influxdb3_lite.lineproto import (
    BOOLEAN,
    FLOAT,
    I64_MAX,
    I64_MIN,
    INTEGER,
    STRING,
    UINTEGER,
    Line,
    LineError,
    Parsed,
    truncate,
)
from influxdb3_lite.lpvector import TAG_DICTIONARY, LineGroup

TAG, TIME = "tag", "timestamp"
TAG_TYPE = TAG_DICTIONARY
ARROW_TYPES = {
    TAG: TAG_TYPE,
    FLOAT: pa.float64(),
    INTEGER: pa.int64(),
    UINTEGER: pa.uint64(),
    STRING: pa.string(),
    BOOLEAN: pa.bool_(),
    TIME: pa.timestamp("ns"),
}
MAX_DATABASES, MAX_TABLES, MAX_COLUMNS = 100, 4000, 500
PRECISION_NS = {"second": 10**9, "millisecond": 10**6, "microsecond": 10**3, "nanosecond": 1}


class CatalogError(Exception):
    """A catalog operation failed; `status` is the HTTP status the real server answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def kind_name(kind: str) -> str:
    return (
        "iox::column_type::tag"
        if kind == TAG
        else ("iox::column_type::timestamp" if kind == TIME else f"iox::column_type::field::{kind}")
    )


DB_NAME_MAX = 64
DB_NAME_ERRORS = {
    "char": "invalid character in database or rp name: must be ASCII, containing only letters, "
    "numbers, underscores, or hyphens",
    "start": "db name did not start with a number or letter",
    "rp": "db name with invalid retention policy, if providing a retention policy name, must be of "
    "form '<db_name>/<rp_name>'",
    "empty": "db name cannot be empty",
    "long": f"db name too long: max {DB_NAME_MAX}",
}


def validate_db_name(name: str) -> None:
    """`validate_db_name` of influxdb3_server/src/http.rs: same checks, same order, same texts."""
    problem = _db_name_problem(name)
    if problem:
        raise CatalogError(DB_NAME_ERRORS[problem])


def _db_name_problem(name: str) -> str | None:
    if not name:
        return "empty"
    if len(name.encode()) > DB_NAME_MAX:
        return "long"
    separator = False
    for index, char in enumerate(name):
        if len(char.encode()) > 1:
            return "char"
        if index == 0:
            if not (char.isascii() and char.isalnum()):
                return "start"
        elif char == "/":
            if separator:
                return "rp"
            separator = True
        elif not (char.isascii() and (char.isalnum() or char in "_-")):
            return "char"
    return "rp" if name.endswith("/") else None


@dataclass
class Table:
    """Rows as deduplicated chunks plus batches written since the last snapshot.

    A snapshot is cached per table version: a query after no write re-reads nothing, and after a
    write whose times all follow the stored ones (the usual append) only the new batches are
    conformed and appended; anything else (an overwrite of an existing series/time) deduplicates
    the whole table once.
    """

    name: str
    columns: dict[str, str] = field(default_factory=lambda: {"time": TIME})
    # Written since the last snapshot, each with its time range (taken by the writer).
    pending: list[tuple[pa.RecordBatch, ChunkStats]] = field(default_factory=list)
    version: int = 0
    _chunks: list[pa.RecordBatch] = field(default_factory=list)
    _stats: dict[int, ChunkStats] = field(default_factory=dict)  # id(chunk) -> its time range
    _snapshot: Snapshot | None = None
    _snapshot_version: int = -1
    _build_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _schema_cache: tuple[tuple, pa.Schema] | None = field(default=None, repr=False, compare=False)

    def schema(self) -> pa.Schema:
        return _schema(self.name, self.columns)

    def schema_of(self, columns: dict[str, str]) -> pa.Schema:
        """`_schema` of these columns, kept while they stay the same: building its fields costs
        ~50 µs, on every write otherwise."""
        key = tuple(columns.items())
        cached = self._schema_cache
        if cached is None or cached[0] != key:
            cached = self._schema_cache = (key, _schema(self.name, columns))
        return cached[1]

    def append(self, batch: pa.RecordBatch, stats: ChunkStats | None = None) -> None:
        """Called under the catalog lock, after the batch's columns were added to `columns`."""
        self.pending.append((batch, stats or ChunkStats.of_write(batch)))
        self.version += 1

    def snapshot(self) -> pa.Table:
        """All rows in the current schema, deduplicated; cached until the next write."""
        return self.snapshot_chunks().table()

    def snapshot_with_times(self) -> tuple[pa.Table, list[ChunkStats]]:
        """The snapshot and, for each of its chunks (`to_batches()` order), its time range."""
        snapshot = self.snapshot_chunks()
        return snapshot.table(), snapshot.stats

    def snapshot_chunks(self) -> Snapshot:
        """The snapshot as its chunks with their time ranges, so a query bounded below in time
        can leave out the chunks that end before (query.py) without a table made of them.

        Needs no catalog lock: writers only append to `pending` and add to `columns`, so a copy
        of the batches taken before a copy of the columns never holds a column the copy lacks.
        Builds are serialised per table; concurrent writes wait for none of them."""
        # Every write acknowledged before this call has a version up to `wanted`: a snapshot
        # built by another query while this one waited for the build lock serves it as well.
        wanted, known_columns = self.version, len(self.columns)
        with self._build_lock:
            cached = self._snapshot
            if cached is not None and self._snapshot_version >= wanted:
                if len(cached.schema) >= known_columns:
                    return cached
            version = self.version
            pending = self.pending[: len(self.pending)]
            columns = dict(self.columns)
            schema = self._build(pending, columns)
            del self.pending[: len(pending)]  # only builds remove, and they are serialised
            chunks = list(self._chunks)
            snapshot = Snapshot(chunks, [self._stats[id(c)] for c in chunks], schema)
            self._snapshot, self._snapshot_version = snapshot, version
            return snapshot

    def _build(self, pending: list[tuple[pa.RecordBatch, ChunkStats]], columns: dict[str, str]) -> pa.Schema:
        """Takes the pending batches into `_chunks`; returns the schema they are conformed to."""
        schema = self.schema_of(columns)
        # Conforming may make new batch objects: the time ranges go along by position.
        stored = [(_conform(c, schema), self._stats.get(id(c)) or ChunkStats.of(c)) for c in self._chunks]
        fresh = [(_conform(batch, schema), stats) for batch, stats in pending]
        deduplicated = False
        if fresh:
            earliest = min(stats.earliest for _, stats in fresh)
            # Chunks ending before the earliest new time cannot hold a new row's key: only the
            # ones reaching that far (under concurrent writers, the recent small chunk) are
            # searched, and deduplicated with the new rows when their keys may meet.
            near = [i for i, (_, stats) in enumerate(stored) if stats.latest >= earliest]
            reaching = [stored[i] for i in near]
            if _may_collide(fresh, reaching):
                deduplicated = True
                kept = [pair for i, pair in enumerate(stored) if i not in set(near)]
                merged = _dedupe(
                    pa.Table.from_batches([c for c, _ in reaching + fresh], schema=schema),
                    [n for n, k in columns.items() if k == TAG],
                )
                # In time order: a query bounded below in time then reads only the merged
                # chunk's tail (pruning.py), not all it took in.
                merged = merged.sort_by("time").combine_chunks()
                stored = kept + [(c, ChunkStats.of(c)) for c in merged.to_batches() if c.num_rows]
            else:
                stored = stored + _compact(fresh)
            stored = _merge_small(stored)
        # By identity: every chunk keyed here stays referenced in `_chunks`, so no batch made
        # later can take one of these ids while its entry is in use.
        self._chunks = [c for c, _ in stored]
        self._stats = {id(c): stats for c, stats in stored}
        if deduplicated or sum(b.num_rows for b, _ in fresh) >= RELEASE_ROWS:
            release_unused()
        return schema


@dataclass
class Snapshot:
    """A table's rows at one version: its chunks in the schema, each chunk's time range. The
    pa.Table of them is made once, when a reader asks for it (the pruned query path does not:
    under load each table made anew cost an Arrow call and a schema comparison per chunk)."""

    chunks: list[pa.RecordBatch]
    stats: list[ChunkStats]
    schema: pa.Schema
    _table: pa.Table | None = field(default=None, repr=False)

    def table(self) -> pa.Table:
        if self._table is None:  # racing readers make equal tables: either one may be kept
            chunks = self.chunks
            self._table = (
                pa.Table.from_batches(chunks, schema=self.schema) if chunks else self.schema.empty_table()
            )
        return self._table


Chunk = tuple[pa.RecordBatch, "ChunkStats"]


def _may_collide(fresh: list[Chunk], reaching: list[Chunk]) -> bool:
    """False when no new row can share a series key and time with another row. True only
    means "maybe": the same time in two series is no duplicate.

    First from the time ranges alone (no Arrow call: under 20 writers each one hands the GIL
    over, and a build under load is most of a query's Python): new writes each of distinct
    times whose ranges meet neither each other nor a range a reaching chunk was made of cannot
    repeat a time. Concurrent writers' ranges interleave but rarely meet."""
    if not _ranges_meet([s for _, s in fresh], [s for _, s in reaching]):
        return False
    return _times_collide(pa.Table.from_batches([c for c, _ in fresh]), [c for c, _ in reaching])


def _ranges_meet(fresh: list[ChunkStats], reaching: list[ChunkStats]) -> bool:
    if not all(s.distinct for s in fresh):
        return True
    spans = sorted(span for s in fresh for span in s.spans)
    if any(later[0] <= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)):
        return True
    return any(s.meets(first, last) for first, last in spans for s in reaching)


def _times_collide(new: pa.Table, reaching: list[pa.RecordBatch]) -> bool:
    """Distinct new times, none of them among the reaching chunks' times (a hash of the new
    times, each stored time probed once): three compute calls in all."""
    times = new["time"]
    wanted = pc.unique(times)
    if len(wanted) != new.num_rows:
        return True
    if not reaching:
        return False
    stored = pa.chunked_array(
        [chunk.column(chunk.schema.get_field_index("time")) for chunk in reaching], times.type
    )
    return pc.any(pc.is_in(stored, value_set=wanted)).as_py()


@dataclass(frozen=True)
class ChunkStats:
    """A stored chunk's time range, and whether its times ascend (then a query bounded below in
    time reads only the chunk's tail, found by binary search).

    `spans` are the time ranges of the writes the chunk was made of, sorted by start (every
    row's time lies in one of them), and `reach[i]` the latest end among `spans[: i + 1]`: a new
    write whose range meets none of them cannot repeat one of the chunk's times. `distinct`
    says the chunk's times are known to differ from each other (it is only worked out for the
    small batches of a write)."""

    earliest: int
    latest: int
    ascending: bool
    distinct: bool = False
    spans: tuple[tuple[int, int], ...] = ()
    reach: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.spans:  # the whole range as one span
            object.__setattr__(self, "spans", ((self.earliest, self.latest),))
        if not self.reach:
            reach, latest = [], I64_MIN
            for _, end in self.spans:
                latest = max(latest, end)
                reach.append(latest)
            object.__setattr__(self, "reach", tuple(reach))

    def meets(self, first: int, last: int) -> bool:
        """Whether a span of this chunk overlaps [first, last]."""
        index = bisect_right(self.spans, (last, I64_MAX))
        return index > 0 and self.reach[index - 1] >= first

    @classmethod
    def of(cls, batch: pa.RecordBatch) -> ChunkStats:
        times = batch.column(batch.schema.get_field_index("time"))
        bounds = pc.min_max(times)
        if not bounds["min"].is_valid:
            return cls(I64_MIN, I64_MIN, True)
        earliest, latest = bounds["min"].value, bounds["max"].value
        # One pass, once per chunk: bulk loads and the appends of live writers arrive in time
        # order, so most chunks ascend.
        ascending = len(times) < 2 or pc.all(pc.less_equal(times[:-1], times[1:])).as_py()
        return cls(earliest, latest, ascending)

    @classmethod
    def of_write(cls, batch: pa.RecordBatch) -> ChunkStats:
        """A written batch's range, by the writer: in Python over the raw times when the batch
        is small (a live writer's), so neither the writer nor a later query's build makes an
        Arrow call for it (each hands the GIL over); a bulk write's by Arrow, once."""
        times = batch.column(batch.schema.get_field_index("time"))
        data = times.buffers()[1]
        if len(times) > SMALL_WRITE or len(times) == 0 or times.null_count or data.size % 8:
            return cls.of(batch)
        values = memoryview(data).cast("q")[times.offset : times.offset + len(times)].tolist()
        ordered = sorted(values)  # C-level passes only: this runs on every write
        ascending = values == ordered
        distinct = ascending and len(set(values)) == len(values)
        return cls(ordered[0], ordered[-1], ascending, distinct)

    @classmethod
    def joined(cls, parts: list[ChunkStats]) -> ChunkStats:
        """The range of chunks concatenated in this order, from theirs (no Arrow call)."""
        ascending = all(p.ascending for p in parts) and all(
            earlier.latest <= later.earliest for earlier, later in zip(parts, parts[1:], strict=False)
        )
        earliest, latest = min(p.earliest for p in parts), max(p.latest for p in parts)
        spans = sorted(span for p in parts for span in p.spans)
        if len(spans) > MAX_SPANS:
            spans = [(earliest, latest)]  # coarser: more new writes get probed, none is missed
        return cls(earliest, latest, ascending, False, tuple(spans))


SMALL_WRITE = 4096  # rows: a write's times read in Python up to this many
MAX_SPANS = 1024  # write ranges kept per chunk: 65536 rows of 100-line writes need 656


def _schema(name: str, columns: dict[str, str]) -> pa.Schema:
    fields = [
        pa.field(
            column,
            ARROW_TYPES[kind],
            nullable=kind != TIME,
            metadata={"iox::column::type": kind_name(kind)},
        )
        for column, kind in sorted(columns.items())
    ]
    return pa.schema(fields, metadata={"iox::measurement::name": name})


def _merge_small(chunks: list[Chunk], small: int = 65536, most: int = 8) -> list[Chunk]:
    """Keeps the count of small chunks bounded under many small writes: past `most`, they
    become one. Only small chunks count: counting all, once 16 large ones stood (a million
    rows), every snapshot build under live writes copied all the small ones again. Chunks hold
    no duplicate keys between them, so their order carries no last-write-wins meaning and may
    change."""
    if sum(1 for chunk, _ in chunks if chunk.num_rows < small) <= most:
        return chunks
    return _compact(chunks, small)


def _compact(batches: list[Chunk], small: int = 65536) -> list[Chunk]:
    """Many small write batches as one (DataFusion pays per batch, not per row); large batches
    are kept as they are, so a bulk load is never copied."""
    large = [b for b in batches if b[0].num_rows >= small]
    smalls = [b for b in batches if b[0].num_rows < small]
    if len(smalls) > 1:
        joined = pa.Table.from_batches([b for b, _ in smalls]).combine_chunks().to_batches()
        smalls = (
            [(joined[0], ChunkStats.joined([s for _, s in smalls]))]
            if len(joined) == 1
            else [(b, ChunkStats.of(b)) for b in joined]
        )
    return large + smalls


RELEASE_ROWS = 10_000  # handing pages back costs ~0.2 ms: once per this many rows written


def release_unused() -> None:
    """Hand the parse temporaries' pages back to the OS: Arrow's allocator keeps freed memory for
    reuse, which after a 100k-line write is several times the size of the data kept."""
    pa.default_memory_pool().release_unused()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    have = batch.schema
    if have.equals(schema, check_metadata=True):
        return batch
    positions = {name: index for index, name in enumerate(have.names)}
    arrays = []
    for target in schema:
        index = positions.get(target.name, -1)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, target.type))
            continue
        column = batch.column(index)
        if column.type != target.type:  # tags arrive as strings; stored dictionary-encoded
            column = pc.dictionary_encode(column).cast(target.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _dedupe(table: pa.Table, tags: list[str]) -> pa.Table:
    keys = sorted(tags) + ["time"]
    if table.num_rows < 2 or pc.count_distinct(table["time"]).as_py() == table.num_rows:
        return table  # distinct times cannot collide; the usual case, and far cheaper to check
    # Each write batch has its own tag dictionaries; grouping needs one per column.
    table = table.unify_dictionaries().combine_chunks()
    distinct = table.group_by(keys, use_threads=False).aggregate([])
    if distinct.num_rows == table.num_rows:
        return table
    fields = [n for n in table.column_names if n not in keys]
    merged = table.group_by(keys, use_threads=False).aggregate(
        [(name, "last", pc.ScalarAggregateOptions(skip_nulls=True)) for name in fields]
    )
    merged = merged.rename_columns([c[:-5] if c.endswith("_last") else c for c in merged.column_names])
    schema = table.schema
    return pa.Table.from_arrays(
        [merged.column(n).cast(schema.field(n).type) for n in schema.names], schema=schema
    )


@dataclass
class Database:
    name: str
    tables: dict[str, Table] = field(default_factory=dict)
    retention_ns: int | None = None
    deleted: bool = False
    version: int = 0


@dataclass
class WriteResult:
    stored: int
    errors: list[LineError]
    limit_hit: bool = False


class Catalog:
    """All databases; one lock guards the catalog (writes are short, queries use snapshots)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.databases: dict[str, Database] = {"_internal": Database("_internal")}
        self._unreleased = 0  # rows written since Arrow's free pages were last handed back

    # -- databases ---------------------------------------------------------------------------
    def get(self, name: str) -> Database | None:
        # No lock: one dict lookup is atomic under the GIL, and every query and write starts
        # here; taking the catalog lock made each wait behind 20 writers' locked sections.
        db = self.databases.get(name)
        return db if db and not db.deleted else None

    def create(self, name: str, retention_ns: int | None = None) -> Database:
        validate_db_name(name)
        with self.lock:
            if self.get(name):
                raise CatalogError("attempted to create a resource that already exists", 409)
            if sum(1 for d in self.databases.values() if not d.deleted) >= MAX_DATABASES:
                raise CatalogError(
                    f"Adding a new database would exceed limit of {MAX_DATABASES} databases", 422
                )
            db = self.databases[name] = Database(name, retention_ns=retention_ns)
            return db

    def delete(self, name: str) -> None:
        with self.lock:
            db = self.get(name)
            if db is None or name == "_internal":
                raise CatalogError(
                    f"database not found: {name}" if db is None else "cannot delete internal database",
                    404 if db is None else 400,
                )
            # Soft delete: renamed with its deletion time, so the name is free again.
            suffix = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            del self.databases[name]
            db.deleted, db.name = True, f"{name}-{suffix}"
            self.databases[db.name] = db

    def set_retention(self, name: str, retention_ns: int | None) -> None:
        with self.lock:
            db = self.get(name)
            if db is None:
                raise CatalogError(f"database not found: {name}", 404)
            db.retention_ns = retention_ns
            db.version += 1

    def listing(self, show_deleted: bool = False) -> list[dict[str, object]]:
        with self.lock:
            return [
                {"iox::database": d.name, "deleted": d.deleted}
                for d in sorted(self.databases.values(), key=lambda d: d.name)
                if show_deleted or not d.deleted
            ]

    def create_table(self, db_name: str, table: str, tags: list[str], fields: dict[str, str]) -> None:
        with self.lock:
            db = self.get(db_name) or self.create(db_name)
            if table in db.tables:
                raise CatalogError("attempted to create a resource that already exists", 409)
            target = db.tables[table] = Table(table)
            target.columns.update({t: TAG for t in tags})
            target.columns.update(fields)
            db.version += 1

    # -- writes ------------------------------------------------------------------------------
    def write(
        self, db_name: str, parsed: Parsed, precision: str, accept_partial: bool, now: int | None = None
    ) -> WriteResult:
        validate_db_name(db_name)
        errors = list(parsed.errors)
        now = time.time_ns() if now is None else now
        # Work that needs no catalog state runs outside the lock, so concurrent writers hold it
        # only to check types and to append: the groups' timestamps before, the batches after.
        times = {id(g): _group_times([g], precision, now) for g in parsed.groups}
        with self.lock:
            db = self.get(db_name)
            pending = _Pending(db, precision, now, times)
            plans = [
                pending.plan(name, lines, groups, errors)
                for name, (lines, groups) in _by_table(parsed).items()
            ]
            errors.sort(key=lambda e: e.line_number)
            stored = sum(plan.rows() for plan in plans)
            if errors and not accept_partial:
                return WriteResult(0, errors)
            if not stored:
                return WriteResult(0, errors, limit_hit=pending.limit_hit)
            db = db or self.create(db_name)
            targets = []
            for plan in (p for p in plans if p.rows()):
                table = db.tables.setdefault(plan.name, Table(plan.name))
                table.columns.update(pending.columns_for(plan.name))
                targets.append((table, plan, dict(table.columns)))
        # Tags dictionary-encoded at once: stored small, nothing to convert later. A snapshot
        # taken meanwhile sees the new columns without these rows, as if it came first.
        built = [
            (table, _conform(plan.batch(columns, precision, now), table.schema_of(columns)))
            for table, plan, columns in targets
        ]
        # Its time range by the writer, outside the lock: the query that next builds the
        # snapshot then checks the write for repeated keys without reading its rows.
        built = [(table, batch, ChunkStats.of_write(batch)) for table, batch in built]
        with self.lock:
            for table, batch, stats in built:
                table.append(batch, stats)
            db.version += 1
            # Amortised: pages go back to the OS once RELEASE_ROWS rows were written since.
            self._unreleased += stored
            release = self._unreleased >= RELEASE_ROWS
            if release:
                self._unreleased = 0
        if release:
            release_unused()
        return WriteResult(stored, errors, pending.limit_hit)


@dataclass
class _TablePlan:
    """What one write adds to one table: reference-parsed lines and column-wise groups."""

    name: str
    lines: list[Line]
    groups: list[LineGroup] = field(default_factory=list)
    times: list[pa.Array] = field(default_factory=list)  # per group, Timestamp(ns)

    def rows(self) -> int:
        return len(self.lines) + sum(len(g) for g in self.groups)

    def batch(self, columns: dict[str, str], precision: str, now: int) -> pa.RecordBatch:
        # A group alone is the batch: its tags may be stored dictionary-encoded right away.
        alone = len(self.groups) == 1 and not self.lines
        parts = [
            (_group_batch(g, t, alone), g.numbers) for g, t in zip(self.groups, self.times, strict=False)
        ]
        if self.lines:
            parts.append(
                (
                    _batch(self.lines, columns, precision, now),
                    pa.array([line.number for line in self.lines], pa.int64()),
                )
            )
        if len(parts) == 1:
            return parts[0][0]
        # Several sources: back into line order, which the last-write-wins dedup relies on.
        table = pa.concat_tables(
            [pa.Table.from_batches([b]).append_column("__line", n) for b, n in parts],
            promote_options="default",
        )
        table = table.take(pc.sort_indices(table["__line"])).drop_columns(["__line"])
        return table.combine_chunks().to_batches()[0]


class _Pending:
    """Type-checks lines against the catalog and against earlier lines of the same write.

    Tables are independent, so each table's lines are checked on their own. A table whose groups
    and lines agree on every column's type (with each other and the catalog) and stay within the
    column limit is accepted whole; otherwise its groups become lines and each line is checked in
    order, as the reference does, which fixes which line wins a type and which are rejected.
    """

    def __init__(
        self, db: Database | None, precision: str, now: int, times: dict[int, list[pa.Array] | None]
    ) -> None:
        self.db, self.precision, self.now = db, precision, now
        self.times = times  # id(group) -> its timestamps in ns (None if one overflows)
        self.new_columns: dict[str, dict[str, str]] = {}
        self.limit_hit = False
        # (table, the line's column kinds) already accepted in this write: the same kinds pass
        # the same checks again (their columns are staged), so only the time range is checked.
        self._accepted: set[tuple[str, frozenset]] = set()

    def plan(
        self, table: str, lines: list[Line], groups: list[LineGroup], errors: list[LineError]
    ) -> _TablePlan:
        if groups:
            each = [self.times[id(g)] for g in groups]
            times = None if any(t is None for t in each) else [t[0] for t in each]
            in_range = times is not None and all(self._in_range(line) for line in lines)
            wanted = self._agreed_kinds(table, lines, groups) if in_range else None
            if wanted is not None:
                self.new_columns[table] = {
                    c: k for c, k in wanted.items() if self._existing(table, c) is None
                }
                return _TablePlan(table, [line for line in lines if self.accept(line, errors)], groups, times)
            lines = sorted(
                lines + [line for g in groups for line in g.to_lines()], key=lambda line: line.number
            )
        return _TablePlan(table, [line for line in lines if self.accept(line, errors)])

    def _agreed_kinds(self, table: str, lines: list[Line], groups: list[LineGroup]) -> dict[str, str] | None:
        wanted: dict[str, str] = {}
        for kinds in [g.kinds() for g in groups] + [line_kinds(line) for line in lines]:
            for column, kind in kinds.items():
                if wanted.setdefault(column, kind) != kind or self._existing(table, column) not in (
                    None,
                    kind,
                ):
                    return None
        existing = self.db.tables.get(table) if self.db else None
        known = len(existing.columns) if existing else 1
        fresh = sum(1 for c in wanted if self._existing(table, c) is None)
        return None if "time" in wanted or known + fresh > MAX_COLUMNS else wanted

    def _existing(self, table: str, column: str) -> str | None:
        existing = self.db.tables.get(table) if self.db else None
        return existing.columns.get(column) if existing else None

    def column_kind(self, table: str, column: str) -> str | None:
        return self.new_columns.get(table, {}).get(column) or self._existing(table, column)

    def accept(self, line: Line, errors: list[LineError]) -> bool:
        table = line.measurement
        wanted = line_kinds(line)
        seen = (table, frozenset(wanted.items()))
        if seen in self._accepted:
            if not self._in_range(line):
                return self._reject(line, errors, f"Unable to parse timestamp value '{line.timestamp}'")
            return True
        if not self._accept_new(line, wanted, errors):
            return False
        self._accepted.add(seen)
        return True

    def _accept_new(self, line: Line, wanted: dict[str, str], errors: list[LineError]) -> bool:
        table = line.measurement
        for column, kind in wanted.items():
            have = self.column_kind(table, column)
            if column == "time":
                return self._reject(line, errors, "invalid column name: 'time' is reserved")
            if have and have != kind:
                return self._reject(
                    line,
                    errors,
                    f"invalid column type for column '{column}', "
                    f"expected {kind_name(have)}, got {kind_name(kind)}",
                )
        if not self._in_range(line):
            return self._reject(line, errors, f"Unable to parse timestamp value '{line.timestamp}'")
        staged = self.new_columns.setdefault(table, {})
        existing = self.db.tables.get(table) if self.db else None
        known = len(existing.columns) if existing else 1
        fresh = {c: k for c, k in wanted.items() if self.column_kind(table, c) is None}
        if known + len(staged) + len(fresh) > MAX_COLUMNS:
            self.limit_hit = True
            return self._reject(
                line,
                errors,
                f"Update to schema would exceed number of columns per "
                f"table limit of {MAX_COLUMNS - 1} columns",
            )
        staged.update(fresh)
        return True

    def _in_range(self, line: Line) -> bool:
        # Scaling by the precision can overflow i64; such a line is refused, not the whole write.
        return I64_MIN <= to_nanos(line.timestamp, self.precision, self.now) <= I64_MAX

    @staticmethod
    def _reject(line: Line, errors: list[LineError], message: str) -> bool:
        errors.append(LineError(message, line.number, truncate(line.text)))
        return False

    def columns_for(self, table: str) -> dict[str, str]:
        return self.new_columns.get(table, {})


def line_kinds(line: Line) -> dict[str, str]:
    """Column -> kind a line asks for; a field shadows a tag of the same name."""
    wanted = {k: TAG for k in line.tags}
    wanted.update({k: kind for k, (kind, _) in line.fields.items()})
    return wanted


def _by_table(parsed: Parsed) -> dict[str, tuple[list[Line], list[LineGroup]]]:
    """Lines and groups per measurement, tables in the order of their first line."""
    firsts: dict[str, int] = {}
    out: dict[str, tuple[list[Line], list[LineGroup]]] = {}
    for line in parsed.lines:
        out.setdefault(line.measurement, ([], []))[0].append(line)
        firsts.setdefault(line.measurement, line.number)
    for group in parsed.groups:
        out.setdefault(group.measurement, ([], []))[1].append(group)
        firsts[group.measurement] = min(
            firsts.get(group.measurement, group.numbers[0].as_py()), group.numbers[0].as_py()
        )
    return {name: out[name] for name in sorted(out, key=firsts.__getitem__)}


def _batch(lines: list[Line], columns: dict[str, str], precision: str, now: int) -> pa.RecordBatch:
    tags = {k for line in lines for k in line.tags}
    fields = {k for line in lines for k in line.fields}
    names = sorted(tags | fields)
    arrays = [
        pa.array([line.tags.get(n) for line in lines], pa.string())
        if columns[n] == TAG
        else pa.array([_field(line, n) for line in lines], ARROW_TYPES[columns[n]])
        for n in names
    ]
    arrays.append(pa.array([to_nanos(line.timestamp, precision, now) for line in lines], pa.timestamp("ns")))
    return pa.RecordBatch.from_arrays(arrays, names=names + ["time"])


def _group_batch(group: LineGroup, times: pa.Array, alone: bool = False) -> pa.RecordBatch:
    tags = group.tags
    if not alone:  # concatenated with other parts, whose tags are strings
        tags = {name: _plain(values) for name, values in tags.items()}
    columns = {**tags, **{name: values for name, (_, values) in group.fields.items()}}
    names = sorted(columns)
    return pa.RecordBatch.from_arrays([columns[n] for n in names] + [times], names=names + ["time"])


def _plain(values: pa.Array) -> pa.Array:
    return values.dictionary_decode() if pa.types.is_dictionary(values.type) else values


def _group_times(groups: list[LineGroup], precision: str, now: int) -> list[pa.Array] | None:
    """`to_nanos` column-wise; None if a timestamp overflows (the lines then go one by one)."""
    try:
        return [_group_nanos(g, precision, now) for g in groups]
    except pa.ArrowInvalid:
        return None


def _group_nanos(group: LineGroup, precision: str, now: int) -> pa.Array:
    values = group.stamp_list
    if values is not None and len(values) <= SMALL_WRITE:
        scaled = _scaled(values, precision)
        if scaled is values:  # nanoseconds already: the same buffer, typed
            return group.timestamps.view(pa.timestamp("ns"))
        if scaled is not None:
            return pa.array(scaled, pa.timestamp("ns"))
    return _times(group.timestamps, precision, now)


def _scaled(values: list[int], precision: str) -> list[int] | None:
    """`_times` of a small write's timestamps in Python (no Arrow kernel call), with its
    overflow checks; None when they span several `auto` bands (Arrow scales them row by row)."""
    low, high = min(values), max(values)
    if precision == "auto":
        if low == I64_MIN:
            raise pa.ArrowInvalid("overflow")  # `abs_checked` of the smallest i64
        smallest, largest = min(map(abs, values)), max(map(abs, values))
        first, last = guess_precision(smallest), guess_precision(largest)
        if first != last:
            return None
        precision = first
    unit = PRECISION_NS[precision]
    if unit == 1:
        return values
    if low * unit < I64_MIN or high * unit > I64_MAX:
        raise pa.ArrowInvalid("overflow")  # as `multiply_checked` refuses it
    return [value * unit for value in values]


def _times(stamps: pa.Array, precision: str, now: int) -> pa.Array:
    if precision == "auto":
        unit = _one_unit(stamps)
        if unit is not None:  # the usual body: every timestamp in the same precision band
            nanos = pc.multiply_checked(stamps, unit)
        else:
            magnitude = pc.divide(
                pc.abs(pc.cast(stamps, pa.float64(), safe=False)), 1e9
            )  # as Python's int / float
            unit_per_row = pc.if_else(
                pc.less(magnitude, 5),
                10**9,
                pc.if_else(
                    pc.less(magnitude, 5_000), 10**6, pc.if_else(pc.less(magnitude, 5_000_000), 10**3, 1)
                ),
            )
            nanos = pc.multiply_checked(stamps, pc.cast(unit_per_row, pa.int64()))
    else:
        nanos = pc.multiply_checked(stamps, PRECISION_NS[precision])
    if stamps.null_count:
        nanos = pc.fill_null(nanos, to_nanos(None, precision, now))
    return nanos.cast(pa.timestamp("ns"))


def _one_unit(stamps: pa.Array) -> int | None:
    """The `auto` scale shared by every timestamp, or None when they span several bands."""
    bounds = pc.min_max(pc.abs_checked(stamps))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return 1
    first, last = guess_precision(low), guess_precision(high)
    return PRECISION_NS[first] if first == last else None


def _field(line: Line, name: str) -> object:
    value = line.fields.get(name)
    return value[1] if value else None


def to_nanos(timestamp: int | None, precision: str, now: int) -> int:
    """A timestamp in the request's precision, or the ingest time truncated to it."""
    if timestamp is None:
        unit = PRECISION_NS["nanosecond" if precision == "auto" else precision]
        return now - now % unit
    if precision == "auto":
        precision = guess_precision(timestamp)
    return timestamp * PRECISION_NS[precision]


def guess_precision(timestamp: int) -> str:
    magnitude = abs(timestamp) / 1e9
    if magnitude < 5:
        return "second"
    if magnitude < 5_000:
        return "millisecond"
    if magnitude < 5_000_000:
        return "microsecond"
    return "nanosecond"
