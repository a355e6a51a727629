"""Time pruning of query snapshots (issue 14, pruning.py): a query bounded below in time reads only
the chunks that reach the bound, and answers exactly what it answers on the whole table.

In-process: the stand-in's catalog, line-protocol parser and executor on real DataFusion; the
reference answer is the same SQL run by DataFusion on the whole, unpruned snapshot.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.standin.standin import import_standin

lpvector, pruning, query, store = import_standin("lpvector", "pruning", "query", "store")

BASE = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z
SECOND = 10**9


def write(catalog, body: str) -> None:
    result = catalog.write("db", lpvector.parse_body(body), "nanosecond", accept_partial=True)
    assert not result.errors, result.errors


def at(seconds: int) -> str:
    """A timestamp literal `seconds` after BASE, as SQL compares it with `time`."""
    return f"to_timestamp_nanos({BASE + seconds * SECOND})"


@pytest.fixture
def chunked():
    """Table `m` in five chunks (a snapshot after each write): three ascending runs of time, one
    descending, one overwriting points of the first; table `n` in one chunk."""
    catalog = store.Catalog()
    runs = [range(0, 100), range(100, 200), range(300, 200, -1), range(200, 300), range(50, 60)]
    for number, seconds in enumerate(runs):
        lines = [f"m,h=h{s % 3} v={number * 1000 + s}i,w={s}.5 {BASE + s * SECOND}" for s in seconds]
        write(catalog, "\n".join(lines))
        catalog.get("db").tables["m"].snapshot()
    write(catalog, "\n".join(f"n,h=h{s % 3} u={s}i {BASE + s * SECOND}" for s in range(0, 300, 7)))
    return catalog


QUERIES = [
    f"SELECT h, v, w, time FROM m WHERE time > {at(150)} ORDER BY time, h",
    f"SELECT h, v, time FROM m WHERE time >= {at(150)} ORDER BY time, h",
    f"SELECT h, v, time FROM m WHERE {at(250)} < time ORDER BY time, h",
    f"SELECT h, v, time FROM m WHERE {at(250)} <= time AND v > 10 ORDER BY time, h",
    f"SELECT * FROM m WHERE time = {at(55)} ORDER BY h",
    f"SELECT h, count(*), sum(v) FROM m WHERE time BETWEEN {at(120)} AND {at(220)} GROUP BY h ORDER BY h",
    f"SELECT h, v FROM m WHERE time > {at(150)} OR v < 3 ORDER BY time, h",
    f"SELECT m.h, m.v, n.u FROM m JOIN n ON m.time = n.time WHERE m.time > {at(200)} ORDER BY m.time",
    f"SELECT a.v, b.v FROM m a JOIN m b ON a.time = b.time AND a.h = b.h "
    f"WHERE a.time > {at(280)} AND b.time > {at(90)} ORDER BY a.time",
    f"SELECT v FROM m WHERE time > {at(250)} AND v > (SELECT avg(v) FROM m) ORDER BY time",
    f"SELECT * FROM (SELECT v, time FROM m ORDER BY time LIMIT 5) WHERE time > {at(2)} ORDER BY time",
    f"SELECT time FROM (SELECT w AS t, v, time FROM m) WHERE time > {at(298)} ORDER BY time",
    f"SELECT date_bin(interval '50 seconds', time) AS b, count(*) FROM m WHERE time > {at(199)} "
    "GROUP BY 1 ORDER BY 1",
    f"SELECT count(*) FROM m WHERE time > {at(400)}",
    f"SELECT h FROM m WHERE time > {at(-100)} ORDER BY time, h LIMIT 4",
]


def reference(catalog, sql: str) -> pa.Table:
    """The answer on the whole snapshot of every table, as before pruning."""
    ctx = query._new_context()
    for name, table in catalog.get("db").tables.items():
        ctx.register_record_batches(name, [table.snapshot().to_batches()])
    return query._hydrate_dictionaries(query.Executor._run_sql(ctx, sql, None))


@pytest.mark.parametrize("sql", QUERIES)
def test_pruned_answer_is_the_whole_tables_answer(chunked, sql: str) -> None:
    executor = query.Executor(chunked)
    got = executor.run(query.QueryRequest("db", sql))
    assert got.equals(reference(chunked, sql)), sql


def registered_rows(executor, catalog, sql: str) -> int | None:
    ctx = executor._pruned_context(catalog.get("db"), sql, None)
    return None if ctx is None else ctx.sql("SELECT count(*) AS c FROM m").to_pylist()[0]["c"]


def test_a_bounded_query_reads_only_the_chunks_reaching_the_bound(chunked) -> None:
    executor = query.Executor(chunked)
    whole = chunked.get("db").tables["m"].snapshot().num_rows
    # The overwrite (last write) merged every chunk reaching 50 s, i.e. all, into one in time
    # order: only its tail from 221 s on is read.
    assert whole == 301
    assert registered_rows(executor, chunked, f"SELECT v FROM m WHERE time > {at(220)}") == 80
    # No bound, a bound under an OR, one hidden in a subquery's scan: nothing left out.
    assert registered_rows(executor, chunked, "SELECT v FROM m") is None
    assert registered_rows(executor, chunked, f"SELECT v FROM m WHERE time > {at(220)} OR v = 1") is None
    assert (
        registered_rows(
            executor, chunked, f"SELECT v FROM m WHERE time > {at(220)} AND v > (SELECT avg(v) FROM m)"
        )
        is None
    )


def test_statements_do_not_change_the_planning_session(chunked) -> None:
    executor = query.Executor(chunked)
    bounded = f"SELECT v FROM m WHERE time > {at(220)}"
    assert registered_rows(executor, chunked, bounded) == 80
    for statement in (
        f"CREATE VIEW late AS SELECT * FROM m WHERE time > {at(290)}",
        "SET datafusion.execution.target_partitions = 1",
    ):
        assert executor._pruned_context(chunked.get("db"), statement, None) is None
    with pytest.raises(Exception, match="late"):
        executor._planning_context(chunked.get("db"), sorted(chunked.get("db").tables.items())).sql(
            "SELECT * FROM late"
        )


def test_a_limit_inside_the_scan_is_not_pruned(chunked) -> None:
    executor = query.Executor(chunked)
    sql = f"SELECT * FROM (SELECT v, time FROM m LIMIT 5) WHERE time > {at(250)}"
    assert registered_rows(executor, chunked, sql) is None


def test_chunks_ending_before_the_bound_are_left_out() -> None:
    catalog = store.Catalog()
    # Times of the last two chunks interleave without meeting: each is appended as it is.
    for seconds in (range(0, 100), range(100, 200), range(299, 200, -2), range(200, 251, 2)):
        write(catalog, "\n".join(f"m,h=a v={s}i {BASE + s * SECOND}" for s in seconds))
        catalog.get("db").tables["m"].snapshot()
    executor = query.Executor(catalog)
    # The first two chunks end before 220 s; the descending one (odd seconds 299..201) is read
    # whole, of the ascending even seconds 200..250 those from 222 s on.
    sql = f"SELECT v FROM m WHERE time > {at(220)} ORDER BY v"
    assert registered_rows(executor, catalog, sql) == 50 + 15
    expected = sorted([*range(221, 300, 2), *range(222, 251, 2)])
    assert executor.run(query.QueryRequest("db", sql))["v"].to_pylist() == expected


@pytest.mark.parametrize(
    ("sql", "monotone"),
    [
        ("SELECT * FROM m WHERE time > now() - interval '1 minute'", True),
        ("SELECT * FROM m WHERE time >= NOW() - INTERVAL '10 minutes' GROUP BY h", True),
        ("SELECT * FROM m WHERE time BETWEEN now() - interval '1 hour' AND now()", True),
        ("SELECT * FROM m WHERE time > now() - interval '1' minute AND v > 1", True),
        ("SELECT * FROM m WHERE time > current_timestamp", True),
        ("SELECT * FROM m WHERE time > to_timestamp(0) + (to_timestamp(0) - now())", False),
        ("SELECT * FROM m WHERE time > to_timestamp(2e9 - date_part('epoch', now()))", False),
        ("SELECT now() AS t, v FROM m WHERE time > to_timestamp(0)", False),
        ("SELECT * FROM m WHERE time > now() - interval '1 minute' * v", False),
        ("SELECT * FROM m WHERE time > to_timestamp(0)", True),
    ],
)
def test_now_is_used_only_where_a_later_run_bounds_no_earlier(sql: str, monotone: bool) -> None:
    assert pruning.now_is_monotone(sql) is monotone


def test_a_query_of_the_last_minute_answers_the_same(chunked) -> None:
    """now() is folded at each planning: the run's bound is later than the pruning's, so the
    pruned tables hold every row the run reads (live points: within the last minute)."""
    import time

    now = time.time_ns()
    write(chunked, "\n".join(f"m,h=live v={i}i,w=1.5 {now - i * SECOND}" for i in range(119, -1, -1)))
    executor = query.Executor(chunked)
    sql = "SELECT h, v FROM m WHERE time > now() - interval '1 minute' ORDER BY v"
    got = executor.run(query.QueryRequest("db", sql)).to_pylist()
    assert [r["v"] for r in got] == list(range(0, len(got))) and 58 <= len(got) <= 60
    assert registered_rows(executor, chunked, sql) <= 61  # the live chunk's tail only


def test_prune_slices_ascending_chunks_and_keeps_others_whole() -> None:
    schema = pa.schema([pa.field("time", pa.timestamp("ns"), nullable=False)])
    ascending = pa.RecordBatch.from_arrays([pa.array([1, 2, 3, 4, 5], pa.timestamp("ns"))], schema=schema)
    shuffled = pa.RecordBatch.from_arrays([pa.array([5, 1, 4], pa.timestamp("ns"))], schema=schema)
    old = pa.RecordBatch.from_arrays([pa.array([0, 1], pa.timestamp("ns"))], schema=schema)
    chunks = [ascending, shuffled, old]
    stats = [store.ChunkStats.of(c) for c in chunks]
    assert [s.ascending for s in stats] == [True, False, True]
    table = pa.Table.from_batches(chunks)
    kept = pruning.prune(table, stats, pruning.TimeBound(3, inclusive=False))
    assert [b.column(0).cast(pa.int64()).to_pylist() for b in kept] == [[4, 5], [5, 1, 4]]
    kept = pruning.prune(table, stats, pruning.TimeBound(3, inclusive=True))
    assert [b.column(0).cast(pa.int64()).to_pylist() for b in kept] == [[3, 4, 5], [5, 1, 4]]


LAST_SECOND = "SELECT v FROM m WHERE time > now() - interval '1 second' ORDER BY v"


def test_a_repeated_query_reads_its_bounds_from_what_was_learnt(chunked) -> None:
    """The second and later runs of a query plan no pruning plan; the learnt bound, at any
    later clock reading, is never after the bound DataFusion folds from now() later still."""
    import time

    executor = query.Executor(chunked)
    db = chunked.get("db")
    now = time.time_ns()
    write(chunked, "\n".join(f"m,h=live v={i}i,w=1.5 {now - (299 - i) * 10**7}" for i in range(300)))
    first = executor.run(query.QueryRequest("db", LAST_SECOND))["v"].to_pylist()
    assert first and first == list(range(300 - len(first), 300))
    entry = executor._planning_entry(db, sorted(db.tables.items()))
    learned = entry.learned[(LAST_SECOND, "[]")]
    assert set(learned.following_now) == {"m"} and not learned.fixed
    for _ in range(3):
        time.sleep(0.05)
        clock = time.time_ns()
        guessed = learned.at(clock)["m"]
        planned = query._plan_bounds(entry.ctx, LAST_SECOND, None)["m"]
        assert guessed.lower <= planned.lower < guessed.lower + 10**9, (guessed, planned)
    time.sleep(0.3)  # rows leave the last second: the learnt bound moved with the clock
    later = executor.run(query.QueryRequest("db", LAST_SECOND))["v"].to_pylist()
    assert later == list(range(300 - len(later), 300)) and len(later) < len(first)


def test_bounds_of_constant_times_are_learnt_as_they_are(chunked) -> None:
    executor = query.Executor(chunked)
    db = chunked.get("db")
    sql = f"SELECT v FROM m WHERE time > {at(220)}"
    assert registered_rows(executor, chunked, sql) == 80
    entry = executor._planning_entry(db, sorted(db.tables.items()))
    assert entry.learned[(sql, "[]")].fixed == {"m": pruning.TimeBound(BASE + 220 * SECOND, False)}
    assert registered_rows(executor, chunked, sql) == 80


def test_learnt_bounds_are_forgotten_when_a_column_is_added(chunked) -> None:
    executor = query.Executor(chunked)
    db = chunked.get("db")
    sql = f"SELECT v FROM m WHERE time > {at(220)}"
    executor.run(query.QueryRequest("db", sql))
    before = executor._planning_entry(db, sorted(db.tables.items()))
    write(chunked, f"m,h=a v=1i,extra=2i {BASE + 999 * SECOND}")
    after = executor._planning_entry(db, sorted(db.tables.items()))
    assert after is not before and not after.learned


@pytest.mark.parametrize(
    ("sql", "learnable"),
    [
        ("SELECT * FROM m WHERE time > now() - interval '10 minutes'", True),
        ("SELECT * FROM m WHERE time > current_timestamp - interval '1 hour'", True),
        (f"SELECT * FROM m WHERE time > {at(5)}", True),
        ("SELECT * FROM m WHERE time > now() - interval '1 month'", False),
        ("SELECT * FROM m WHERE time > now() - interval '2 years'", False),
        ("SELECT * FROM m WHERE time > current_date", False),
    ],
)
def test_only_bounds_moving_with_the_clock_are_learnt(sql: str, learnable: bool) -> None:
    assert pruning.learnable(sql) is learnable


def test_learning_keeps_equal_bounds_and_follows_moving_ones() -> None:
    bound = pruning.TimeBound
    learned = pruning.LearnedBounds.learn(
        {"a": bound(5, True), "b": bound(100, False)}, {"a": bound(5, True), "b": bound(130, False)}, 200
    )
    assert learned.fixed == {"a": bound(5, True)} and learned.following_now == {"b": (70, False)}
    assert learned.at(1000) == {"a": bound(5, True), "b": bound(930, False)}
    assert pruning.LearnedBounds.learn({"a": bound(5, True)}, {"a": bound(4, True)}, 10) is None
    assert pruning.LearnedBounds.learn({"a": bound(5, True)}, {}, 10) is None
