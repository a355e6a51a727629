"""Vectorized line-protocol parsing with pyarrow.compute, for the common shape of a write.

Batches from clients are mostly many lines of one "shape" (measurement, tag keys, field keys)
without escapes or quoted strings. Those lines are parsed column-wise here, one `LineGroup` per
shape. Everything else — lines with `\\` or `"`, odd whitespace, and every group that fails a
vectorized check (mixed field types, repeated keys, numbers Arrow would not parse the way Python
does) — goes line by line through `lineproto.parse_line`, the reference parser, so error texts,
line numbers and partial-write semantics are the reference's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat

import pyarrow as pa
import pyarrow.compute as pc

from influxdb3_lite.lineproto import (
    BOOLEAN,
    FALSE_WORDS,
    FLOAT,
    I64_MAX,
    I64_MIN,
    INTEGER,
    TRUE_WORDS,
    U64_MAX,
    UINTEGER,
    Line,
    LineProtocolError,
    Parsed,
    field_value,
    parse_into,
    parse_line,
    parse_lines,
    split_lines,
)

# A name or value character: no controls, space, ',', '=', '"', '\\' (escapes take the slow path).
_C = r'[^\x00-\x20,="\\\x7f]'
# The first character: printable ASCII, not a comment's '#'.
_FIRST = r"[!$-+\--<>-\[\]-~]"
ELIGIBLE = f"^{_FIRST}{_C}*(?:,{_C}+={_C}+)* {_C}+={_C}+(?:,{_C}+={_C}+)*(?: -?[0-9]+)?$"
# Values a kind accepts here; ASCII digits only (Python's \d also takes other scripts' digits,
# those lines go to the reference parser). The last character of a line is always ASCII.
VALUE_PATTERNS = {
    FLOAT: r"^-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$",
    INTEGER: r"^-?[0-9]+i$",
    UINTEGER: r"^[0-9]+u$",
}
ARROW_KINDS = {FLOAT: pa.float64(), INTEGER: pa.int64(), UINTEGER: pa.uint64()}
TAG_DICTIONARY = pa.dictionary(pa.int32(), pa.string())  # store.TAG_TYPE (store imports this module)
# Beyond this many shapes in one body, shapes with fewer lines than MIN_GROUP_ROWS take the
# reference parser: a group costs ~20 kernel calls, a line ~20 µs.
FEW_SHAPES, MIN_GROUP_ROWS = 16, 64
BOOL_WORDS = pa.array(sorted(TRUE_WORDS | FALSE_WORDS))
TRUE_ARRAY = pa.array(sorted(TRUE_WORDS))


# Below this many lines a body is split and grouped with Python's string operations: a write of
# a service (~100 lines) then costs well under a millisecond, where ~50 Arrow kernel calls cost
# several. The same eligibility, shapes and value checks as the column-wise path.
SMALL_BODY_LINES = 1024
# A line this long may hold a name or string over the 64 KiB limit: the reference decides.
SMALL_LINE_LIMIT = 65536


class _Fallback(Exception):
    """A group cannot be taken column-wise; its lines go through the reference parser."""


@dataclass
class LineGroup:
    """Lines of one shape, as columns. `timestamps` is null where a line has none."""

    measurement: str
    tags: dict[str, pa.Array]
    fields: dict[str, tuple[str, pa.Array]]
    timestamps: pa.Array
    numbers: pa.Array
    texts: pa.Array
    # The same timestamps as a Python list when the parser had them (a small write): the store
    # then scales them without Arrow kernels, each of which costs ~40 µs and a GIL hand-over.
    stamp_list: list[int] | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    def kinds(self) -> dict[str, str]:
        out = {name: "tag" for name in self.tags}
        out.update({name: kind for name, (kind, _) in self.fields.items()})
        return out

    def to_lines(self) -> list[Line]:
        """The reference parser's view of the same lines (they are valid by construction)."""
        out = []
        for number, text in zip(self.numbers.to_pylist(), self.texts.to_pylist(), strict=False):
            line = parse_line(text)
            line.number, line.text = number, text
            out.append(line)
        return out


def parse_body(body: str) -> Parsed:
    """Same result as `lineproto.parse_lines`, with most lines in `Parsed.groups`."""
    if ('"' in body or "\\" in body) and len(split_lines(body)) != body.count("\n") + 1:
        return parse_lines(body)  # a quoted or escaped newline: numbers follow the real split
    if body.count("\n") < SMALL_BODY_LINES:
        return _parse_small(body)
    raw = pc.split_pattern(pa.array([body], pa.string()), "\n").flatten()
    numbers = pa.array(range(1, len(raw) + 1), pa.int64())
    trimmed = pc.ascii_ltrim(raw, " \t")  # the real `trim_leading`: the left side only
    skipped = pc.or_(pc.equal(trimmed, ""), pc.starts_with(trimmed, "#"))
    eligible = pc.and_not(pc.match_substring_regex(trimmed, ELIGIBLE), skipped)
    out = Parsed()
    slow = pc.filter(numbers, pc.invert(pc.or_(eligible, skipped))).to_pylist()
    if pc.any(eligible).as_py():
        for rows, layout in _shapes(_Rows.of(pc.filter(numbers, eligible), pc.filter(trimmed, eligible))):
            try:
                out.groups.append(_group(rows, layout))
            except _Fallback:
                slow.extend(rows.numbers.to_pylist())
    if slow:
        _parse_slow(raw, sorted(slow), out)
    return out


def _parse_slow(raw: pa.Array, numbers: list[int], out: Parsed) -> None:
    """The reference loop of `parse_lines`, for the given 1-based line numbers only."""
    texts = raw.take(pa.array([n - 1 for n in numbers], pa.int64())).to_pylist()
    for number, text in zip(numbers, texts, strict=False):
        parse_into(out, number, text)


def _parse_small(body: str) -> Parsed:
    """`parse_body` for a small body: eligible lines grouped by signature in Python."""
    out = Parsed()
    single = _single_shape(body)
    if single is not None:
        out.groups.append(single)
        return out
    shapes: dict[str, list[tuple[int, str]]] = {}
    slow: list[tuple[int, str]] = []
    for number, raw in enumerate(body.split("\n"), start=1):
        text = raw.lstrip(" \t")  # the real `trim_leading`: the left side only
        if not text or text[0] == "#":
            continue
        if len(text) < SMALL_LINE_LIMIT and _ELIGIBLE.match(text):
            shapes.setdefault(_SIGNATURE.sub("", text), []).append((number, text))
        else:
            slow.append((number, text))
    many = len(shapes) > FEW_SHAPES
    for rows in shapes.values():
        if many and len(rows) < MIN_GROUP_ROWS:
            slow.extend(rows)  # as the column-wise path: tiny groups among many go line by line
            continue
        try:
            out.groups.append(_small_group(rows))
        except (_Fallback, ValueError):  # ValueError: int() past its digit limit
            slow.extend(rows)
    for number, text in sorted(slow):
        parse_into(out, number, text)
    return out


def _single_shape(body: str) -> LineGroup | None:
    """The usual small write, every line eligible and of one shape, in whole-body string
    operations and C-level slices: no Python loop over the lines (each line of a 100-line write
    cost ~5 µs in the loops this replaced); None for anything else."""
    text = body[:-1] if body.endswith("\n") else body
    if len(text) >= SMALL_LINE_LIMIT or not _BODY_ELIGIBLE.fullmatch(text):
        return None
    lines = text.split("\n")
    # The tokens of `_tokens`, line after line: a line's own commas then say its token count.
    separated = text.replace("=", ",").replace(" ", ",,")
    if len(set(map(str.count, separated.split("\n"), repeat(",")))) != 1:
        return None
    flat = separated.replace("\n", ",").split(",")
    count = len(lines)
    width = len(flat) // count
    layout = _Layout.of(flat[:width])
    # One shape: every line (each `width` tokens, so a column is a slice) with its spaces and
    # names in the same places.
    expected = [*((i, "") for i in layout.spaces), *layout.keys.items()]
    if any(flat[position::width].count(token) != count for position, token in expected):
        return None
    try:
        return _columns_group(layout, [flat[i::width] for i in range(width)], lines)
    except (_Fallback, ValueError):  # ValueError: int() past its digit limit (the reference decides)
        return None


def _columns_group(layout: _Layout, columns: list[list[str]], lines: list[str]) -> LineGroup:
    """`_small_group` from the token columns of lines numbered from 1 on."""
    names = [layout.keys[i - 1] for i in layout.tags + layout.fields]
    if len(set(names)) != len(names):
        raise _Fallback  # repeated keys are the reference's to judge
    tags = {layout.keys[i - 1]: columns[i] for i in layout.tags}
    fields = {layout.keys[i - 1]: _column_field(columns[i]) for i in layout.fields}
    stamps = None
    if len(layout.spaces) > 1:
        stamps = list(map(int, columns[-1]))
        if min(stamps) < I64_MIN or max(stamps) > I64_MAX:
            raise _Fallback
    return LineGroup(
        layout.keys[0],
        # Dictionary-encoded as the store keeps tags (values in order of first appearance, as
        # `dictionary_encode` makes them): one conversion, no kernel call later.
        {name: pa.array(values, TAG_DICTIONARY) for name, values in tags.items()},
        fields,
        pa.array(stamps, pa.int64()) if stamps is not None else pa.nulls(len(lines), pa.int64()),
        pa.array(range(1, len(lines) + 1), pa.int64()),
        pa.array(lines, pa.string()),
        stamp_list=stamps,
    )


def _column_field(values: list[str]) -> tuple[str, pa.Array]:
    """`_small_field` with one regex pass over the joined column (values hold no newline)."""
    try:
        kind, _ = field_value(values[0])
    except LineProtocolError:
        raise _Fallback from None
    if kind == BOOLEAN:
        if not _BOOL_SET.issuperset(values):
            raise _Fallback
        return kind, pa.array(list(map(TRUE_WORDS.__contains__, values)), pa.bool_())
    joined = "\n".join(values)
    if not _COLUMN_RES[kind].fullmatch(joined):
        raise _Fallback
    if kind == FLOAT:
        floats = list(map(float, values))
        if math.inf in floats or -math.inf in floats:
            raise _Fallback  # overflowing literals: the reference decides
        return kind, pa.array(floats, pa.float64())
    # The suffix ('i' or 'u') is each value's last character and nowhere else.
    ints = list(map(int, joined.replace(joined[-1], "").split("\n")))
    low, high = (I64_MIN, I64_MAX) if kind == INTEGER else (0, U64_MAX)
    if min(ints) < low or max(ints) > high:
        raise _Fallback
    return kind, pa.array(ints, ARROW_KINDS[kind])


def _tokens(text: str) -> list[str]:
    """As `_Rows.of` splits a line: each space an empty token, '=' and ',' separators."""
    return text.replace("=", ",").replace(" ", ",,").split(",")


def _small_group(rows: list[tuple[int, str]], tokens: list[list[str]] | None = None) -> LineGroup:
    tokens = tokens or [_tokens(text) for _, text in rows]
    layout = _Layout.of(tokens[0])
    names = [layout.keys[i - 1] for i in layout.tags + layout.fields]
    if len(set(names)) != len(names) or any(len(t) != layout.width for t in tokens):
        raise _Fallback  # repeated keys are the reference's to judge
    tags = {layout.keys[i - 1]: pa.array([t[i] for t in tokens], pa.string()) for i in layout.tags}
    fields = {layout.keys[i - 1]: _small_field([t[i] for t in tokens]) for i in layout.fields}
    if len(layout.spaces) > 1:
        stamps = [int(t[-1]) for t in tokens]
        if min(stamps) < I64_MIN or max(stamps) > I64_MAX:
            raise _Fallback
        timestamps = pa.array(stamps, pa.int64())
    else:
        timestamps = pa.nulls(len(rows), pa.int64())
    numbers = pa.array([number for number, _ in rows], pa.int64())
    texts = pa.array([text for _, text in rows], pa.string())
    return LineGroup(layout.keys[0], tags, fields, timestamps, numbers, texts)


def _small_field(values: list[str]) -> tuple[str, pa.Array]:
    """`_field_column` on Python strings: the first value fixes the kind, all must fit it."""
    try:
        kind, _ = field_value(values[0])
    except LineProtocolError:
        raise _Fallback from None
    if kind == BOOLEAN:
        if not all(v in _BOOL_SET for v in values):
            raise _Fallback
        return kind, pa.array([v in TRUE_WORDS for v in values], pa.bool_())
    pattern = _VALUE_RES[kind]
    if not all(pattern.match(v) for v in values):
        raise _Fallback
    if kind == FLOAT:
        floats = [float(v) for v in values]
        if not all(math.isfinite(f) for f in floats):
            raise _Fallback  # overflowing literals: the reference decides
        return kind, pa.array(floats, pa.float64())
    ints = [int(v[:-1]) for v in values]
    low, high = (I64_MIN, I64_MAX) if kind == INTEGER else (0, U64_MAX)
    if min(ints) < low or max(ints) > high:
        raise _Fallback
    return kind, pa.array(ints, ARROW_KINDS[kind])


@dataclass
class _Rows:
    """Eligible lines and their tokens: `m,a=1 v=2 3` -> [m, a, 1, "", v, 2, "", 3] (each space
    becomes an empty token; names and values are never empty on an eligible line)."""

    numbers: pa.Array
    texts: pa.Array
    tokens: pa.Array

    @classmethod
    def of(cls, numbers: pa.Array, texts: pa.Array) -> _Rows:
        flat = pc.replace_substring(pc.replace_substring(texts, "=", ","), " ", ",,")
        return cls(numbers, texts, pc.split_pattern(flat, ","))

    def where(self, mask: pa.Array) -> _Rows:
        return _Rows(pc.filter(self.numbers, mask), pc.filter(self.texts, mask), pc.filter(self.tokens, mask))

    def take(self, indices: pa.Array) -> _Rows:
        return _Rows(self.numbers.take(indices), self.texts.take(indices), self.tokens.take(indices))

    def slice(self, start: int, length: int) -> _Rows:
        return _Rows(
            self.numbers.slice(start, length),
            self.texts.slice(start, length),
            self.tokens.slice(start, length),
        )


@dataclass
class _Layout:
    """Token positions of one shape, read off its first line."""

    width: int
    spaces: list[int]
    keys: dict[int, str]  # position -> name, the measurement at 0
    tags: list[int]  # positions of tag values
    fields: list[int]  # positions of field values

    @classmethod
    def of(cls, first: list[str]) -> _Layout:
        spaces = [i for i, token in enumerate(first) if token == ""]
        split = spaces[0]
        field_end = spaces[1] if len(spaces) > 1 else len(first)
        tag_keys, field_keys = range(1, split, 2), range(split + 1, field_end, 2)
        keys = {0: first[0], **{i: first[i] for i in tag_keys}, **{i: first[i] for i in field_keys}}
        return cls(len(first), spaces, keys, [i + 1 for i in tag_keys], [i + 1 for i in field_keys])

    def matches(self, tokens: pa.Array) -> pa.Array:
        mask = pc.equal(pc.list_value_length(tokens), self.width)
        if not pc.all(mask).as_py():  # pad or cut to the width, so every position exists
            tokens = pc.list_slice(tokens, 0, self.width, return_fixed_size_list=True)
        for position, expected in [*((i, "") for i in self.spaces), *self.keys.items()]:
            mask = pc.and_(mask, pc.equal(pc.list_element(tokens, position), expected))
        return pc.fill_null(mask, False)


# `m,a=1 v=2 3` -> `m,a v ` (values and timestamp digits dropped, the separators kept). On an
# eligible line (no '=', ',', ' ' inside names or values) equal signatures mean equal token
# layouts, so one kernel call sorts lines into shapes.
SIGNATURE = "=[^, ]*|[0-9]+$"
SIGNATURE_ROWS = 2048  # below this many lines one regex pass is cheaper than per-position compares


_ELIGIBLE = re.compile(ELIGIBLE)
_SIGNATURE = re.compile(SIGNATURE)
# The eligibility rule over a whole body: every line eligible (no blank or comment line, no
# leading blank: the first character class excludes them).
_BODY_ELIGIBLE = re.compile(f"(?:{ELIGIBLE[1:-1]}\n)*{ELIGIBLE[1:-1]}")
_VALUE_RES = {kind: re.compile(pattern) for kind, pattern in VALUE_PATTERNS.items()}
# A whole column of one kind's values, joined by newlines.
_COLUMN_RES = {
    kind: re.compile(f"(?:{pattern[1:-1]}\n)*{pattern[1:-1]}") for kind, pattern in VALUE_PATTERNS.items()
}
_BOOL_SET = TRUE_WORDS | FALSE_WORDS


def _shapes(rows: _Rows) -> Iterator[tuple[_Rows, _Layout | None]]:
    """Yield the rows of each shape. Usually one shape covers all; the rest group by signature."""
    layout = _Layout.of(rows.tokens[0].as_py())
    if len(rows.numbers) < SIGNATURE_ROWS:
        signatures = pc.replace_substring_regex(rows.texts, SIGNATURE, "")
        mask = pc.equal(signatures, signatures[0])
    else:  # on many lines a regex pass costs more than comparing the token positions
        signatures, mask = None, layout.matches(rows.tokens)
    if pc.all(mask).as_py():
        yield rows, layout
        return
    yield rows.where(mask), layout
    rest = rows.where(pc.invert(mask))
    rest_signatures = (
        pc.filter(signatures, pc.invert(mask))
        if signatures is not None
        else pc.replace_substring_regex(rest.texts, SIGNATURE, "")
    )
    codes = pc.dictionary_encode(rest_signatures).indices
    # One stable sort, then a slice per shape: linear in the lines whatever the number of shapes.
    order = pc.sort_indices(codes)
    rest, codes = rest.take(order), codes.take(order)
    changes = pc.indices_nonzero(pc.not_equal(codes[1:], codes[:-1])).to_pylist()
    bounds = [0, *(i + 1 for i in changes), len(codes)]
    many = len(bounds) - 1 > FEW_SHAPES
    for start, stop in zip(bounds, bounds[1:], strict=False):
        subset = rest.slice(start, stop - start)
        if many and stop - start < MIN_GROUP_ROWS:
            yield subset, None  # per-group overhead would exceed the reference parser's cost
            continue
        yield subset, _Layout.of(subset.tokens[0].as_py())


def _group(rows: _Rows, layout: _Layout | None) -> LineGroup:
    if layout is None:
        raise _Fallback  # a tiny group among many, or lines the signature did not separate
    names = [layout.keys[i - 1] for i in layout.tags + layout.fields]
    if len(set(names)) != len(names):
        raise _Fallback  # the reference decides what repeated keys mean and which error to report
    first = rows.tokens[0].as_py()
    tags = {layout.keys[i - 1]: pc.list_element(rows.tokens, i) for i in layout.tags}
    fields = {
        layout.keys[i - 1]: _field_column(pc.list_element(rows.tokens, i), first[i]) for i in layout.fields
    }
    if len(layout.spaces) > 1:
        stamps = _cast(pc.list_element(rows.tokens, layout.width - 1), pa.int64())
    else:
        stamps = pa.nulls(len(rows.numbers), pa.int64())
    return LineGroup(layout.keys[0], tags, fields, stamps, rows.numbers, rows.texts)


def _field_column(values: pa.Array, first: str) -> tuple[str, pa.Array]:
    try:
        kind, _ = field_value(first)
    except LineProtocolError:
        raise _Fallback from None
    if kind == BOOLEAN:
        if not pc.all(pc.is_in(values, BOOL_WORDS)).as_py():
            raise _Fallback
        return kind, pc.is_in(values, TRUE_ARRAY)
    if not pc.all(pc.match_substring_regex(values, VALUE_PATTERNS[kind])).as_py():
        raise _Fallback
    digits = values if kind == FLOAT else pc.utf8_slice_codeunits(values, 0, -1)
    return kind, _cast(digits, ARROW_KINDS[kind])


def _cast(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Arrow's number parser; out-of-range values (and a leading '+') make the group fall back."""
    try:
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Fallback from None
