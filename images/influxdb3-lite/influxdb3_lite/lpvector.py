"""Vectorized line-protocol parsing with pyarrow.compute, for the common shape of a write.

Batches from clients are mostly many lines of one "shape" (measurement, tag keys, field keys)
without escapes or quoted strings. Those lines are parsed column-wise here, one `LineGroup` per
shape. Everything else — lines with `\\` or `"`, odd whitespace, and every group that fails a
vectorized check (mixed field types, repeated keys, numbers Arrow would not parse the way Python
does) — goes line by line through `lineproto.parse_line`, the reference parser, so error texts,
line numbers and partial-write semantics are the reference's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from influxdb3_lite.lineproto import (
    BOOLEAN,
    FALSE_WORDS,
    FLOAT,
    INTEGER,
    TRUE_WORDS,
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
# Beyond this many shapes in one body, shapes with fewer lines than MIN_GROUP_ROWS take the
# reference parser: a group costs ~20 kernel calls, a line ~20 µs.
FEW_SHAPES, MIN_GROUP_ROWS = 16, 64
BOOL_WORDS = pa.array(sorted(TRUE_WORDS | FALSE_WORDS))
TRUE_ARRAY = pa.array(sorted(TRUE_WORDS))


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
