"""The stand-in's line-protocol parser against the real one's own expectations: the cases of
`better_error_messages` in core/influxdb_line_protocol/src/lib.rs (same error text), the number
shapes its grammar accepts, `split_lines` (quoted and escaped newlines) and `trim_leading` (left
side only). In-process; no Docker.
"""

from __future__ import annotations

import pytest

from tests.standin.standin import import_standin

lineproto, lpvector = import_standin("lineproto", "lpvector")

REAL_ERRORS = [
    ("measurement", "Expected at least one space character, got end of input"),
    (",", "Invalid measurement was provided"),
    ("J,#", "Tag set malformed: could not find equals sign in `#`"),
    ("J," + "a" * 200, "Tag set malformed: could not find equals sign in `aaaaaaaaaa...`"),
    ("J,", "Expected tag key, got end of input"),
    ("testmeasure, bar=1i", "Expected tag key, got ` bar=1i`"),
    ("testmeasure, " + "b" * 200 + "=1i", "Expected tag key, got ` bbbbbbbbb...`"),
    ("0,,=", "Expected tag value, got end of input"),
    ("testmeasure,foo\\=\\,baz= bar=1i", "Expected tag value, got ` bar=1i`"),
    ("testmeasure,foo=,baz= bar=1i", "Expected tag value, got `,baz= bar=...`"),
    ("testmeasure,foo= sed=1i", "Expected tag value, got ` sed=1i`"),
    ("testmeasure,foo=f bar=1i,baz=", "Could not parse entire line. Found trailing content: `baz=`"),
    (
        "testmeasure,foo=f bar=1i,ba" + "z" * 100 + "=",
        "Could not parse entire line. Found trailing content: `bazzzzzzzz...`",
    ),
    ("\x1b# /", "No fields were provided"),
    (":\x14\\", "Measurements, tag keys and values, and field keys may not end with a backslash"),
    ("testmeasure field=3.0 1" + "8" * 71, "Unable to parse timestamp value `1" + "8" * 71 + "`"),
    ("testmeasure field=" + "6" * 46 + "8i", "Unable to parse integer value `" + "6" * 46 + "8`"),
    ('m s="' + "x" * 65_537 + '"', "String is greater than 64KB"),
]


@pytest.mark.parametrize("line,message", REAL_ERRORS)
def test_error_texts_are_the_real_parsers(line, message):
    for parse in (lineproto.parse_lines, lpvector.parse_body):
        assert [e.error_message for e in parse(line).errors] == [message]


@pytest.mark.parametrize(
    "value,accepted",
    [("1", 1.0), ("-1.5", -1.5), ("1e3", 1000.0), ("1.5E-1", 0.15), ("2i", 2), ("3u", 3), ("T", True)]
    + [(".5", None), ("+1", None), ("1.", None), ("+1i", None), ("1.5i", None), ("nan", None)],
)
def test_number_shapes_follow_the_grammar(value, accepted):
    for parse in (lineproto.parse_lines, lpvector.parse_body):
        parsed = parse(f"m f={value} 1")
        if accepted is None:
            assert parsed.errors and not parsed.lines and not parsed.groups
        else:
            line = parsed.lines[0] if parsed.lines else parsed.groups[0].to_lines()[0]
            assert line.fields["f"][1] == accepted


def test_whitespace_rules():
    """Several spaces separate sections; a trailing space, tab or CR after the fields does not."""
    assert lineproto.parse_lines("m  f=1  5  ").lines[0].timestamp == 5
    for bad in ("m f=1 ", "m f=1\r", "m\tf=1"):
        assert lineproto.parse_lines(bad).errors, bad
    assert not lineproto.parse_lines("  \t# comment\n\t m f=1 1").errors


def test_split_lines_keeps_quoted_and_escaped_newlines():
    assert lineproto.split_lines('m s="a\nb" 1\nm f=1 2') == ['m s="a\nb" 1', "m f=1 2"]
    assert lineproto.split_lines('m,t=a"b f=1 1\nm f=2 2') == ['m,t=a"b f=1 1', "m f=2 2"]
    assert lineproto.split_lines("m f=1\\\nm f=2") == ["m f=1\\\nm f=2"]
