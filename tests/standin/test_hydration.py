"""Tags leave a query as Utf8 (the real Flight encoder hydrates dictionaries): cast by DataFusion
inside the run (query._hydrating) where every output name resolves, by Arrow after the run
otherwise. Both must give the same table, schema metadata included, and the same errors.

In-process: the stand-in's catalog and executor on real DataFusion.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.standin.standin import import_standin

lpvector, query, store = import_standin("lpvector", "query", "store")

BASE = 1_700_000_000 * 10**9


@pytest.fixture
def context():
    """Table `m` with tags `h` and `Site.Name` (one line without it: a null tag), two chunks."""
    catalog = store.Catalog()
    for first in (0, 50):
        lines = [
            f'm,h=h{s % 3},Site.Name=s{s % 2} v={s}i,f="x{s}" {BASE + s}' for s in range(first, first + 50)
        ]
        lines.append(f"m,h=lonely v=-1i {BASE + first + 99}")
        result = catalog.write("db", lpvector.parse_body("\n".join(lines)), "nanosecond", accept_partial=True)
        assert not result.errors, result.errors
        catalog.get("db").tables["m"].snapshot()
    ctx = query._new_context()
    ctx.register_record_batches("m", [catalog.get("db").tables["m"].snapshot().to_batches()])
    return ctx


QUERIES = [
    "SELECT h, v, time FROM m ORDER BY time",
    "SELECT * FROM m",
    'SELECT "Site.Name", h FROM m WHERE v > 10 ORDER BY time LIMIT 7',
    'SELECT h AS "My.Tag", "Site.Name" AS "a""b" FROM m ORDER BY time',
    "SELECT h, count(*), min(v) FROM m GROUP BY h ORDER BY h",
    'SELECT max(h), min("Site.Name") FROM m',
    "SELECT h FROM m WHERE v > 1000",
    "SELECT arrow_typeof(h), h FROM m LIMIT 1",
    "SELECT a.h, b.h FROM m a JOIN m b ON a.time = b.time ORDER BY a.time",
    "SELECT v FROM m ORDER BY time LIMIT 3",
]


def after_the_run(ctx, sql: str) -> pa.Table:
    """The answer as it was hydrated before: Arrow's cast after a plain run."""
    return query._hydrate_dictionaries(query.Executor._run_sql(ctx, sql, None))


@pytest.mark.parametrize("sql", QUERIES)
def test_hydrated_in_the_run_equals_hydrated_after_it(context, sql: str) -> None:
    got = query.Executor._run_sql(context, sql, None, hydrate=True)
    want = after_the_run(context, sql)
    assert got.schema.equals(want.schema, check_metadata=True), (got.schema, want.schema)
    assert got.equals(want), sql
    assert not any(pa.types.is_dictionary(f.type) for f in got.schema)
    # The answer came from DataFusion's cast, not from the fallback to the plain run (which
    # would give the same table at twice the cost).
    frame = context.sql(sql)
    hydrated = query._hydrating(frame, frame.schema())
    if hydrated is not None:
        direct = query._collect_hydrated(hydrated, frame.schema())
        assert direct is not None and direct.equals(want), sql


def test_datafusion_casts_when_every_name_resolves(context) -> None:
    """The fast path is taken for plain, dotted, quoted and case-kept names; a join's two `h`
    columns are ambiguous to a projection, so that answer is cast after the run."""
    for sql, expected in [
        ("SELECT h, v FROM m", True),
        ('SELECT "Site.Name" AS "My.Tag", h FROM m', True),
        ('SELECT h AS "a""b" FROM m', True),
        ("SELECT v FROM m", False),  # no dictionary column: nothing to cast
        ("SELECT a.h, b.h FROM m a JOIN m b ON a.time = b.time", False),
    ]:
        frame = context.sql(sql)
        assert (query._hydrating(frame, frame.schema()) is not None) is expected, sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT CAST(h AS BIGINT) AS n, h FROM m",  # fails while running: 500 over HTTP
        "SELECT h, nope FROM m",  # fails planning: 400
    ],
)
def test_errors_are_those_of_the_plain_run(context, sql: str) -> None:
    with pytest.raises(query.QueryError) as plain:
        query.Executor._run_sql(context, sql, None)
    with pytest.raises(query.QueryError) as hydrated:
        query.Executor._run_sql(context, sql, None, hydrate=True)
    assert type(hydrated.value) is type(plain.value)
    assert str(hydrated.value) == str(plain.value)
