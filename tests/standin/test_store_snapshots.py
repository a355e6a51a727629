"""Snapshots under concurrent writes (store.Table.snapshot builds outside the catalog lock) and
the append check that searches only the chunks a write's times can reach. In-process: the
catalog and the line-protocol parser of the stand-in, no server."""

from __future__ import annotations

import threading

import pyarrow.compute as pc

from tests.standin.standin import import_standin

lpvector, store = import_standin("lpvector", "store")


def write(catalog, body: str) -> None:
    result = catalog.write("db", lpvector.parse_body(body), "nanosecond", True)
    assert not result.errors, result.errors


def test_snapshots_taken_during_writes_lose_no_row() -> None:
    catalog, stop = store.Catalog(), threading.Event()
    write(catalog, "m,w=seed v=0 1")
    table = catalog.get("db").tables["m"]
    seen: list[int] = []

    def writer(index: int) -> None:
        for batch in range(40):
            base = 10**6 * (batch + 1)
            write(catalog, "\n".join(f"m,w=w{index} v={i} {base + i * 10 + index}" for i in range(50)))

    def reader() -> None:
        while not stop.is_set():
            seen.append(table.snapshot().num_rows)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert seen == sorted(seen), "a later snapshot never holds fewer rows"
    final = table.snapshot()
    assert final.num_rows == 1 + 4 * 40 * 50
    assert pc.count_distinct(final["time"]).as_py() == final.num_rows


def test_an_overwrite_behind_later_chunks_still_deduplicates() -> None:
    catalog = store.Catalog()
    table = None
    for chunk in range(20):  # many snapshots: chunks with their own latest times
        write(catalog, "\n".join(f"m,s=a v={chunk}.5 {chunk * 1000 + i}" for i in range(10)))
        table = catalog.get("db").tables["m"]
        table.snapshot()
    write(catalog, "m,s=a v=99.5 3005")  # same series and time as a point of chunk 3
    rows = table.snapshot().to_pylist()
    assert len(rows) == 200
    assert [r["v"] for r in rows if r["time"].value == 3005] == [99.5]
    write(catalog, "m,s=a v=1.5 15500")  # a new time between stored ones: kept, nothing lost
    assert table.snapshot().num_rows == 201


def test_a_write_s_time_range_is_taken_without_reading_its_rows_into_arrow() -> None:
    import pyarrow as pa

    schema = pa.schema([pa.field("time", pa.timestamp("ns"), nullable=False)])
    cases = {(5, 7, 9): (True, True), (5, 5, 9): (True, False), (9, 5, 7): (False, False), (4,): (True, True)}
    for times, (ascending, distinct) in cases.items():
        batch = pa.RecordBatch.from_arrays([pa.array(times, pa.timestamp("ns"))], schema=schema)
        for each in (batch, batch.slice(0)):
            stats = store.ChunkStats.of_write(each)
            assert (stats.earliest, stats.latest) == (min(times), max(times))
            assert (stats.ascending, stats.distinct) == (ascending, distinct)
            assert stats.ascending == store.ChunkStats.of(each).ascending
    offset = pa.RecordBatch.from_arrays([pa.array([1, 8, 3, 4], pa.timestamp("ns"))], schema=schema).slice(2)
    assert (store.ChunkStats.of_write(offset).earliest, store.ChunkStats.of_write(offset).latest) == (3, 4)


def test_chunk_spans_tell_which_write_ranges_can_meet() -> None:
    parts = [store.ChunkStats(10, 19, True, True), store.ChunkStats(40, 49, True, True)]
    joined = store.ChunkStats.joined(parts + [store.ChunkStats(0, 100, False)])
    assert joined.spans == ((0, 100), (10, 19), (40, 49)) and not joined.ascending
    two = store.ChunkStats.joined(parts)
    assert two.ascending and (two.earliest, two.latest) == (10, 49)
    assert [two.meets(a, b) for a, b in ((20, 39), (0, 9), (50, 60), (19, 20), (30, 40))] == [
        False,
        False,
        False,
        True,
        True,
    ]
    # Interleaved live writers: ranges inside the chunk's whole range but between its writes.
    fresh = [store.ChunkStats(20, 29, True, True), store.ChunkStats(30, 35, True, True)]
    assert not store._ranges_meet(fresh, [two])
    assert store._ranges_meet(fresh + [store.ChunkStats(35, 36, True, True)], [two])  # they meet
    assert store._ranges_meet([store.ChunkStats(20, 29, False, False)], [two])  # times may repeat
    assert store._ranges_meet([store.ChunkStats(45, 46, True, True)], [two])


def test_interleaved_writers_keep_every_point_and_an_overwrite_among_them_wins() -> None:
    catalog = store.Catalog()
    for batch in range(30):  # three writers' points interleave in time, as live writers' do
        for writer in range(3):
            base = batch * 1000 + writer * 300
            write(catalog, "\n".join(f"m,w=w{writer} v={batch}.5 {base + i}" for i in range(100)))
        catalog.get("db").tables["m"].snapshot()
    table = catalog.get("db").tables["m"]
    assert table.snapshot().num_rows == 9000
    write(catalog, "m,w=w1 v=-1.5 5350")  # a stored series and time, inside a merged chunk
    rows = table.snapshot().to_pylist()
    assert len(rows) == 9000
    assert [r["v"] for r in rows if r["time"].value == 5350] == [-1.5]
