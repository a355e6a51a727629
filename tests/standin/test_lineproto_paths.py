"""The column-wise line-protocol path (lpvector.parse_body) against the reference parser
(lineproto.parse_lines): same lines, same errors, and through Catalog.write the same stored tables
and write results; plus fuzzing that no input makes the parser raise anything else.

Runs the stand-in's package in-process; no Docker needed.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.standin.standin import import_standin

lineproto, lpvector, store = import_standin("lineproto", "lpvector", "store")
LineProtocolError, parse_line, parse_lines = (
    lineproto.LineProtocolError,
    lineproto.parse_line,
    lineproto.parse_lines,
)
VALUE_PATTERNS, parse_body = lpvector.VALUE_PATTERNS, lpvector.parse_body
MAX_COLUMNS, Catalog = store.MAX_COLUMNS, store.Catalog

NOW = 1_700_000_000_123_456_789
PRECISIONS = ("auto", "second", "millisecond", "microsecond", "nanosecond")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Building blocks chosen to hit every branch of both parsers: escapes, quotes, odd whitespace,
# non-ASCII digits, out-of-range numbers, reserved and repeated names.
MEASUREMENTS = ["m", "cpu", "m\\ x", "m\\,y", "é", "m=x", "#m", "", "1"]
KEYS = ["a", "b", "v", "w", "time", "k\\=q", "é", "5", ""]
TAG_VALUES = ["1", "x", "h1", "a=b", "", "é", "x\\ y", "١"]
FIELD_VALUES = [
    "1",
    "-1",
    "1.5",
    ".5",
    "1.",
    "+2",
    "1e3",
    "1E-2",
    "1e400",
    "-0.0",
    "00.1",
    "1i",
    "-5i",
    "+5i",
    "9223372036854775807i",
    "9223372036854775808i",
    "1u",
    "0u",
    "-0u",
    "+1u",
    "18446744073709551616u",
    "t",
    "T",
    "true",
    "TRUE",
    "f",
    "False",
    "yes",
    '"s"',
    '"a\\"b"',
    '"',
    "١i",
    "١",
    "1.2.3",
    "inf",
    "nan",
    "i",
    "u",
    "",
    "1x",
]
STAMPS = [
    "",
    "0",
    "-1",
    "1700000000",
    "1700000000000",
    "1700000000000000",
    "1700000000000000000",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "+5",
    "1e9",
    "١",
    "x",
]


def pairs(keys: list[str], values: list[str], min_size: int) -> st.SearchStrategy[str]:
    pair = st.tuples(st.sampled_from(keys), st.sampled_from(values)).map(lambda kv: f"{kv[0]}={kv[1]}")
    return st.lists(pair, min_size=min_size, max_size=4).map(",".join)


@st.composite
def lines(draw) -> str:
    series = draw(st.sampled_from(MEASUREMENTS)) + "".join(
        "," + draw(pairs(KEYS, TAG_VALUES, 1)) for _ in range(draw(st.integers(0, 2)))
    )
    text = f"{series} {draw(pairs(KEYS, FIELD_VALUES, 0))}"
    stamp = draw(st.sampled_from(STAMPS))
    text = f"{text} {stamp}" if stamp else text
    pad = st.sampled_from(["", " ", "\t", "\r", "\xa0", "  "])
    return draw(pad) + text + draw(pad)


# Mostly well-formed lines of few shapes (so the column-wise path really runs), some garbage.
VALUES = [
    "1",
    "2.5",
    "-.5",
    "1e3",
    "1i",
    "-7i",
    "7u",
    "t",
    "T",
    "true",
    "True",
    "TRUE",
    "f",
    "F",
    "false",
    "False",
    "FALSE",
]
uniform = st.builds(
    lambda host, v, w, stamp: f"m,host=h{host} v={v},w={w} {stamp}".strip(),
    st.integers(0, 3),
    st.sampled_from(VALUES),
    st.sampled_from(VALUES),
    st.sampled_from(["", "0", "5", "1700000000", "1700000000000000000"]),
)
garbage = st.text(alphabet='mab01 ,=\\"#\t\r.-+eiuT\n', max_size=30)
any_line = st.one_of(uniform, lines(), garbage, st.sampled_from(["", "# comment", "   "]))
bodies = st.lists(any_line, max_size=12).map("\n".join)


def as_rows(parsed) -> tuple[list[tuple], list]:
    """Every parsed line as (number, measurement, tags, fields, timestamp), groups read from
    their columns, plus the errors; both in line order."""
    rows = [(line.number, line.measurement, line.tags, line.fields, line.timestamp) for line in parsed.lines]
    for group in parsed.groups:
        tags = {name: values.to_pylist() for name, values in group.tags.items()}
        fields = {name: (kind, values.to_pylist()) for name, (kind, values) in group.fields.items()}
        for i, (number, stamp) in enumerate(
            zip(group.numbers.to_pylist(), group.timestamps.to_pylist(), strict=False)
        ):
            rows.append(
                (
                    number,
                    group.measurement,
                    {k: v[i] for k, v in tags.items()},
                    {k: (kind, v[i]) for k, (kind, v) in fields.items()},
                    stamp,
                )
            )
    return sorted(rows, key=lambda row: row[0]), parsed.errors


def stored(catalog: Catalog) -> dict[str, tuple[dict, pa.Table]]:
    db = catalog.get("db")
    return {name: (dict(t.columns), t.snapshot()) for name, t in db.tables.items()} if db else {}


def write_both(first: str, second: str, precision: str, partial: bool) -> None:
    """Two writes through each path; results and stored tables must be identical."""
    outcomes = []
    for parse in (parse_lines, parse_body):
        catalog = Catalog()
        results = [catalog.write("db", parse(body), precision, partial, now=NOW) for body in (first, second)]
        outcomes.append((results, stored(catalog)))
    (ref_results, ref_tables), (fast_results, fast_tables) = outcomes
    assert fast_results == ref_results
    assert fast_tables.keys() == ref_tables.keys()
    for name, (columns, table) in ref_tables.items():
        assert fast_tables[name][0] == columns
        assert fast_tables[name][1].equals(table), (name, fast_tables[name][1], table)


@FUZZ
@given(bodies)
@example('m,a=1 v=1i,w=2\nm,a=2 w=3,v=4i 5\nbad\nx y="s"\nm v=1.5\nm,a=3 w=3,v=4i 6')
@example("m v=1\nm v=2i\nm v=3")  # mixed types inside one shape
@example("m v=1,v=2\nm v=1,v=2")  # repeated field
@example("m,a=1,a=2 v=1\nm,a=1,a=2 v=1")  # repeated tag: the reference keeps the last
@example("m,a= v=1\nm,a=1 v=1")  # empty tag value
@example("m v=1 +5\nm v=1 1e9\nm v=1 9223372036854775808")
@example("m v=1 5\r\nm v=2 6\r\n")
def test_parse_body_agrees_with_reference(body: str) -> None:
    assert as_rows(parse_body(body)) == as_rows(parse_lines(body))


def columnwise(body: str) -> lineproto.Parsed:
    """parse_body as it reads a large body (Arrow kernels), whatever this body's size."""
    small, lpvector.SMALL_BODY_LINES = lpvector.SMALL_BODY_LINES, 0
    try:
        return parse_body(body)
    finally:
        lpvector.SMALL_BODY_LINES = small


@FUZZ
@given(bodies)
@example('m,a=1 v=1i,w=2\nm,a=2 w=3,v=4i 5\nbad\nx y="s"\nm v=1.5\nm,a=3 w=3,v=4i 6')
@example("m v=1\nm v=2i\nm v=3")
@example("m v=1 +5\nm v=1 1e9\nm v=1 9223372036854775808")
def test_large_body_path_agrees_with_reference(body: str) -> None:
    """Small bodies take Python string operations, large ones Arrow kernels: both must read a
    body as the reference does."""
    assert as_rows(columnwise(body)) == as_rows(parse_lines(body))


def test_small_single_shape_body_is_one_group() -> None:
    body = "\n".join(f"m,host=h{i % 3} v={i}.5,n={i}i,ok=t {i}" for i in range(100)) + "\n"
    parsed = parse_body(body)
    assert [len(g) for g in parsed.groups] == [100] and not parsed.lines
    assert as_rows(parsed) == as_rows(parse_lines(body)) == as_rows(columnwise(body))


# Timestamp columns of one-shape bodies, which the store scales in Python (store._scaled): every
# `auto` band, a column across two bands, the i64 bounds, and products that overflow.
STAMP_COLUMNS = [
    [1, 2, 3],
    [1_700_000_000, 1_700_000_001],
    [1_700_000_000_000, 1_700_000_000_001],
    [1_700_000_000_000_000, 1_700_000_000_000_001],
    [1_700_000_000_000_000_000, 1_700_000_000_000_000_001],
    [4, 1_700_000_000_000],  # two `auto` bands in one column
    [-1_700_000_000, 0, 5],
    [9_223_372_036_854_775_807, 1],
    [-9_223_372_036_854_775_808, 1],
    [9_223_372_036, 1],  # overflows as seconds
    [-9_223_372_037, 1],
]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("m v=1 " + "1" * 5000, "Unable to parse timestamp value"),
        ("m v=" + "1" * 5000 + "i", "Unable to parse integer value"),
        ("m v=" + "1" * 5000 + "u", "Unable to parse unsigned integer value"),
        ("m v=1 -" + "9" * 5000, "Unable to parse timestamp value"),
        ("m v=1 " + "0" * 5000 + "7", None),  # leading zeros: the value is 7
    ],
    ids=["timestamp", "integer", "uinteger", "negative", "leading-zeros"],
)
def test_numbers_past_pythons_digit_limit(line: str, error: str | None) -> None:
    """A number of thousands of digits is an overflow like any other (the real parser's
    `parse::<i64>`), not a ValueError from Python's 4300-digit limit on int()."""
    for body in (line, "\n".join([line] * 3)):
        parsed = parse_lines(body)
        assert as_rows(parse_body(body)) == as_rows(parsed)
        assert [e.error_message.split(" `")[0] for e in parsed.errors] == (
            [error] * body.count(line) if error else []
        )
        write_both("", body, "auto", True)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("stamps", STAMP_COLUMNS, ids=str)
def test_one_shape_times_agree_with_reference(stamps: list[int], precision: str) -> None:
    """One-shape bodies take whole-body string operations, their times Python scaling and their
    tags a direct dictionary encoding: stored rows and errors must be the reference's."""
    body = "\n".join(f"m,host=h{i % 2},site=s v={i}.5,n={i}i {t}" for i, t in enumerate(stamps))
    parsed = parse_body(body)
    assert [len(g) for g in parsed.groups] == [len(stamps)] and not parsed.lines
    write_both("", body, precision, True)
    write_both("m,host=a v=1.5 1", body, precision, False)


@FUZZ
@given(bodies, bodies, st.sampled_from(PRECISIONS), st.booleans())
@example("m v=1i 1", "m v=1 2\nm v=2i 3", "auto", True)  # conflict with catalog
@example("", "m v=1 1\nm v=1i 2\nm v=3 3", "nanosecond", True)  # conflict inside a write
@example("", "m,a=1 v=1 5\nm v=2,w=1 5\nm,a=1 v=3 5", "auto", True)  # dedup across shapes
@example("", "m v=1 5\nm time=1 6\nm v=2 7", "auto", False)  # reserved column name
@example("", "m v=1 99999999999999999\nm v=2 5", "second", True)  # overflow at precision
@example("", "m v=1\nm v=2 1", "millisecond", True)  # ingest time
def test_catalog_write_agrees_with_reference(first: str, second: str, precision: str, partial: bool) -> None:
    write_both(first, second, precision, partial)


def test_column_limit_agrees_with_reference() -> None:
    wide = ",".join(f"f{i}=1" for i in range(MAX_COLUMNS - 10))
    more = ",".join(f"g{i}=1" for i in range(20))
    write_both(f"m {wide} 1\nm {wide} 2", f"m v=1 3\nm {more} 4\nm {more} 5\nm v=2 6", "auto", True)


def test_common_batch_takes_the_column_path() -> None:
    body = "\n".join(f"m,host=h{i % 3} v={i}.5,n={i}i,ok=t {i}" for i in range(1000))
    parsed = parse_body(body)
    assert not parsed.lines and not parsed.errors
    assert [len(g) for g in parsed.groups] == [1000]
    assert parsed.groups[0].kinds() == {"host": "tag", "v": "float", "n": "integer", "ok": "boolean"}


def test_many_shapes_agree_with_reference() -> None:
    """Beyond FEW_SHAPES shapes, big shapes stay column-wise and small ones go line by line."""
    big = [f"m{i % 3},a=x f{i % 3}={i}i {i}" for i in range(300)]
    small = [f"s{i},b=y g{i}=1 {i}" for i in range(lpvector.FEW_SHAPES + 5)]
    body = "\n".join(big[:150] + small + big[150:] + ["m0,a=x f0=1.5 7"])
    parsed = parse_body(body)
    assert sorted(len(g) for g in parsed.groups) == [100, 100]  # m0 mixes types: line by line
    assert as_rows(parsed) == as_rows(parse_lines(body))
    write_both("", body, "auto", True)


@FUZZ
@given(st.text(max_size=60))
def test_parse_line_raises_only_line_protocol_errors(text: str) -> None:
    try:
        parse_line(text)
    except LineProtocolError:
        pass


@FUZZ
@given(st.text(max_size=200))
def test_parse_body_never_raises(body: str) -> None:
    parsed = parse_body(body)
    assert as_rows(parsed) == as_rows(parse_lines(body))


@pytest.mark.parametrize("kind", ["float", "integer", "uinteger"])
@FUZZ
@given(data=st.data())
def test_arrow_number_parsing_matches_python(kind: str, data) -> None:
    """Values the column path accepts are parsed by Arrow exactly as by the reference's Python."""
    values = data.draw(st.lists(st.from_regex(VALUE_PATTERNS[kind], fullmatch=True), min_size=1, max_size=5))
    values = [v for v in values if v.isascii()]
    if kind == "float":
        expected, raw, target = [float(v) for v in values], values, pa.float64()
    else:
        expected, raw = [int(v[:-1]) for v in values], [v[:-1] for v in values]
        target = pa.int64() if kind == "integer" else pa.uint64()
    try:
        parsed = pc.cast(pa.array(raw, pa.string()), target).to_pylist()
    except pa.ArrowInvalid:
        return  # out of range for the type: the column path falls back to the reference
    assert parsed == expected
