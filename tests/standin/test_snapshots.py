"""Query snapshots are cached per table version (issue 14): no re-read of unchanged data, appends
extend the snapshot without copying what was stored, overwrites still deduplicate (last write
wins, as the real server's deduplication). Runs the stand-in's package in-process; no Docker.
"""

from __future__ import annotations

from tests.standin.standin import import_standin

lpvector, query, store = import_standin("lpvector", "query", "store")


def write(catalog, body: str) -> None:
    result = catalog.write("db", lpvector.parse_body(body), "nanosecond", accept_partial=True)
    assert not result.errors, result.errors


def snapshot(catalog, table: str = "m"):
    with catalog.lock:
        return catalog.get("db").tables[table].snapshot()


def test_unchanged_table_is_not_read_again():
    catalog = store.Catalog()
    write(catalog, "m,h=a v=1 1\nm,h=b v=2 2")
    first = snapshot(catalog)
    assert snapshot(catalog) is first


def test_append_keeps_the_stored_buffers():
    catalog = store.Catalog()
    write(catalog, "\n".join(f"m,h=a v={i} {i}" for i in range(1, 1001)))
    before = snapshot(catalog)
    stored = before.column("v").chunk(0).buffers()[1].address
    write(catalog, "m,h=a v=5000 5000")
    after = snapshot(catalog)
    assert after is not before and after.num_rows == 1001
    assert after.column("v").chunk(0).buffers()[1].address == stored  # not copied


def test_interleaved_writers_append_without_collisions():
    catalog = store.Catalog()
    write(catalog, "m,h=a v=1 10\nm,h=a v=2 30")
    snapshot(catalog)
    write(catalog, "m,h=b v=3 20")  # older than the newest stored point, but a new time
    assert sorted(snapshot(catalog).column("v").to_pylist()) == [1.0, 2.0, 3.0]


def test_overwrite_still_deduplicates_last_write_wins():
    catalog = store.Catalog()
    write(catalog, "m,h=a v=1,w=7 10\nm,h=b v=2 10")
    snapshot(catalog)
    write(catalog, "m,h=a v=9 10")
    rows = sorted(snapshot(catalog).to_pylist(), key=lambda r: r["h"])
    assert [(r["h"], r["v"], r["w"]) for r in rows] == [("a", 9.0, 7.0), ("b", 2.0, None)]


def test_many_small_writes_keep_the_chunk_count_bounded():
    catalog = store.Catalog()
    for i in range(1, 200):
        write(catalog, f"m,h=a v={i} {i}")
        snapshot(catalog)
    table = snapshot(catalog)
    assert table.num_rows == 199 and table.column("v").num_chunks <= 17


def test_query_session_is_reused_while_nothing_changed():
    catalog = store.Catalog()
    executor = query.Executor(catalog)
    write(catalog, "m,h=a v=1 1")
    db = catalog.get("db")
    first = executor._context(db)
    assert executor._context(db) is first
    write(catalog, "m,h=a v=2 2")
    assert executor._context(db) is not first


def test_a_recreated_database_does_not_reuse_the_old_session():
    catalog = store.Catalog()
    executor = query.Executor(catalog)
    write(catalog, "m,h=a v=1 1")
    old = catalog.get("db")
    assert executor.run(query.QueryRequest("db", "SELECT v FROM m")).to_pylist() == [{"v": 1.0}]
    catalog.delete("db")
    write(catalog, "m,h=a v=2 1")
    assert catalog.get("db") is not old
    assert executor.run(query.QueryRequest("db", "SELECT v FROM m")).to_pylist() == [{"v": 2.0}]
