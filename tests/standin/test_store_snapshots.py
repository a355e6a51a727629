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
