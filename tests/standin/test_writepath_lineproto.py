"""The stand-in's write path, line by line: what `lineproto` makes of a body (values, kinds, limits,
line numbers, the error each bad line gets and the 20 bytes of it the server echoes).

Deterministic cases for the mutation group `standin` (scripts/mutation.py): the fuzz tests compare
the column-wise path with this parser, so a change to this parser moves both sides and only fixed
expectations hold it. The values follow InfluxDB 3 Core's line protocol (i64/u64 limits, boolean
words, number shapes, the write validator's tag/field clash). In-process; no Docker.
"""

from __future__ import annotations

import pytest

from tests.standin.standin import import_standin

(lineproto,) = import_standin("lineproto")
I64_MAX, U64_MAX = 2**63 - 1, 2**64 - 1


def _line(text: str):
    line = lineproto.parse_line(text)
    return line.measurement, line.tags, line.fields, line.timestamp


def _error(text: str) -> str:
    with pytest.raises(lineproto.LineProtocolError) as caught:
        lineproto.parse_line(text)
    return str(caught.value)


def test_a_plain_line_gives_each_kind_of_value() -> None:
    assert _line("m,a=1,b=2 f=1.5,i=-3i,u=4u,t=t,F=FALSE 123") == (
        "m",
        {"a": "1", "b": "2"},
        {
            "f": ("float", 1.5),
            "i": ("integer", -3),
            "u": ("uinteger", 4),
            "t": ("boolean", True),
            "F": ("boolean", False),
        },
        123,
    )
    assert _line("m v=1") == ("m", {}, {"v": ("float", 1.0)}, None)


@pytest.mark.parametrize("word", ["t", "T", "true", "True", "TRUE"])
def test_every_true_word(word: str) -> None:
    assert _line(f"m v={word}")[2] == {"v": ("boolean", True)}


@pytest.mark.parametrize("word", ["f", "F", "false", "False", "FALSE"])
def test_every_false_word(word: str) -> None:
    assert _line(f"m v={word}")[2] == {"v": ("boolean", False)}


@pytest.mark.parametrize(
    "raw,value",
    [
        ("-1.5E-3", ("float", -0.0015)),
        ("1e3", ("float", 1000.0)),
        ("2E+2", ("float", 200.0)),
        ("01i", ("integer", 1)),
        ("0u", ("uinteger", 0)),
        (f"{I64_MAX}i", ("integer", I64_MAX)),
        (f"{-(2**63)}i", ("integer", -(2**63))),
        (f"{U64_MAX}u", ("uinteger", U64_MAX)),
    ],
)
def test_number_values_and_their_limits(raw: str, value) -> None:
    assert _line(f"m v={raw}")[2] == {"v": value}
    assert lineproto.field_value(raw) == value


@pytest.mark.parametrize(
    "raw,message",
    [
        (f"{I64_MAX + 1}i", f"Unable to parse integer value `{I64_MAX + 1}`"),
        (f"{-(2**63) - 1}i", f"Unable to parse integer value `{-(2**63) - 1}`"),
        (f"{U64_MAX + 1}u", f"Unable to parse unsigned integer value `{U64_MAX + 1}`"),
        ("1x", "Could not parse entire line. Found trailing content: `x`"),
        ("-1u", "Could not parse entire line. Found trailing content: `u`"),
        ("tRue", "Could not parse entire line. Found trailing content: `Rue`"),
    ],
)
def test_values_out_of_range_or_of_no_kind_are_refused(raw: str, message: str) -> None:
    assert _error(f"m v={raw}") == message


@pytest.mark.parametrize(
    "raw",
    [f"{I64_MAX + 1}i", f"{U64_MAX + 1}u", "1x", "1.", "tRue", "", "i", "u", "1xu", "12.5u", "-1u", "1xi"],
)
def test_field_value_alone_refuses_what_is_no_value(raw: str) -> None:
    with pytest.raises(lineproto.LineProtocolError):
        lineproto.field_value(raw)


def test_timestamps_within_i64_and_no_further() -> None:
    assert _line(f"m v=1 {I64_MAX}")[3] == I64_MAX
    assert _line(f"m v=1 {-(2**63)}")[3] == -(2**63)
    assert _line("m v=1 0012")[3] == 12
    assert _error(f"m v=1 {I64_MAX + 1}") == f"Unable to parse timestamp value `{I64_MAX + 1}`"
    assert _error(f"m v=1 {-(2**63) - 1}") == f"Unable to parse timestamp value `{-(2**63) - 1}`"
    assert lineproto.parse_timestamp("-5") == -5
    # the fast path hands a refused timestamp to the grammar, so the limits are checked here too
    assert lineproto.parse_timestamp(str(I64_MAX)) == I64_MAX
    assert lineproto.parse_timestamp(str(-(2**63))) == -(2**63)
    for raw in ("+5", "5.0", "", "x", f"{I64_MAX + 1}"):
        with pytest.raises(lineproto.LineProtocolError, match="Unable to parse timestamp value"):
            lineproto.parse_timestamp(raw)


def test_a_field_given_twice_is_refused() -> None:
    assert _error("m v=1,v=2") == "invalid line protocol - multiple instances of 'v' field found"
    assert _error('m v=1,w="s",v=2i') == "invalid line protocol - multiple instances of 'v' field found"


def test_a_body_keeps_line_numbers_skips_comments_and_echoes_20_bytes() -> None:
    body = "# c\n\n  m v=1\nbad line here that is long\nm v=1,v=2 5\n\tm,a=1 a=1i\nn,t=x v=2u 7"
    parsed = lineproto.parse_lines(body)
    assert [(line.number, line.text, line.measurement) for line in parsed.lines] == [
        (3, "m v=1", "m"),
        (7, "n,t=x v=2u 7", "n"),
    ]
    assert [e.to_json() for e in parsed.errors] == [
        {
            "error_message": "No fields were provided",
            "line_number": 4,
            "original_line": "bad line here that i",
        },
        {
            "error_message": "invalid line protocol - multiple instances of 'v' field found",
            "line_number": 5,
            "original_line": "m v=1,v=2 5",
        },
        {
            "error_message": "invalid column type for column 'a', expected iox::column_type::tag, "
            "got iox::column_type::field::integer",
            "line_number": 6,
            "original_line": "m,a=1 a=1i",
        },
    ]
    assert not parsed.empty()


def test_an_empty_or_comment_only_body_is_empty() -> None:
    assert lineproto.parse_lines("").empty()
    assert lineproto.parse_lines("\n# only a comment\n   \n").empty()
    assert not lineproto.parse_lines("bad").empty()  # an error counts


def test_the_echo_is_cut_on_a_character_boundary() -> None:
    assert lineproto.truncate("é" * 15) == "é" * 10
    assert lineproto.truncate("a" + "é" * 15) == "a" + "é" * 9  # byte 20 would split a character
    assert lineproto.truncate("abc") == "abc"
    assert lineproto.truncate("abcdef", 3) == "abc"


def test_trim_leading_is_left_only_and_a_comment_is_empty() -> None:
    assert lineproto.trim_leading("  \t\n# c") == ""
    assert lineproto.trim_leading(" m v=1 ") == "m v=1 "
    assert lineproto.trim_leading("\rm") == "\rm"
    assert lineproto.trim_leading("m v=1 # not a comment") == "m v=1 # not a comment"


@pytest.mark.parametrize(
    "body,lines",
    [
        ("m v=1\nn v=2", ["m v=1", "n v=2"]),
        ('m s="a\nb"\nm v=1', ['m s="a\nb"', "m v=1"]),
        ("m\\\nx v=1\nn v=2", ["m\\\nx v=1", "n v=2"]),
        ('m"a v=1\nn" v=2', ['m"a v=1', 'n" v=2']),  # a quote before the first space opens nothing
        ('m a=1,b="x\ny" 5\nn v=1', ['m a=1,b="x\ny" 5', "n v=1"]),
        ('m,t="x\n v=1', ['m,t="x', " v=1"]),
        ('m a="x",b="y\nz"\nn v=1', ['m a="x",b="y\nz"', "n v=1"]),
        ('m a=1\nn s="q\nr"', ["m a=1", 'n s="q\nr"']),  # counts start again on each line
        ('m a="\\"\n"\nn v=1', ['m a="\\"\n"', "n v=1"]),  # an escaped quote does not close
    ],
)
def test_split_lines_keeps_newlines_in_strings_and_escapes(body: str, lines: list[str]) -> None:
    assert lineproto.split_lines(body) == lines


@pytest.mark.parametrize(
    "raw,message",
    [
        (f"{I64_MAX + 1}i", f"Unable to parse integer value `{I64_MAX + 1}`"),
        (f"{U64_MAX + 1}u", f"Unable to parse unsigned integer value `{U64_MAX + 1}`"),
        ("1x", "Invalid field value: `1x`"),
    ],
)
def test_field_value_names_the_value_it_refuses(raw: str, message: str) -> None:
    with pytest.raises(lineproto.LineProtocolError) as caught:
        lineproto.field_value(raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "body,lines",
    [
        # a quote opens a string only after more '=' than ',' on the line's field side
        ('m a=1,"x\ny"', ['m a=1,"x', 'y"']),
        ('m a=1,b=2,,"x\ny"', ['m a=1,b=2,,"x', 'y"']),
        ('m a=1,b="x\ny"', ['m a=1,b="x\ny"']),
        ('m a="p,q",b="x\ny"', ['m a="p,q",b="x\ny"']),  # a comma inside a string is not counted
    ],
)
def test_split_lines_counts_equals_and_commas_outside_strings(body: str, lines: list[str]) -> None:
    assert lineproto.split_lines(body) == lines


def test_trim_leading_strips_only_blanks() -> None:
    assert lineproto.trim_leading("Xm v=1") == "Xm v=1"
    assert lineproto.trim_leading("\t\n m v=1") == "m v=1"


def test_split_lines_starts_each_line_on_its_series_side() -> None:
    # '=' and '"' before a line's first space belong to the series: they open no string
    assert lineproto.split_lines('m v=1\nx=y"z v=1\nn v=2') == ["m v=1", 'x=y"z v=1', "n v=2"]
    # the counts start again at zero: a quote right after the space opens nothing
    assert lineproto.split_lines('m v=1\nn "x\ny"') == ["m v=1", 'n "x', 'y"']


def test_a_line_the_grammar_parses_keeps_its_escaped_names() -> None:
    assert _line('m\\ x,t=a\\ b s="x" 5') == ("m x", {"t": "a b"}, {"s": ("string", "x")}, 5)
