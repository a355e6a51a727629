"""The byte count of `influxdb3_write_bytes` (metrics.valid_bytes): its shortcut for the usual
body agrees with the line-by-line count, the lengths `str::lines` gives the real validator
(influxdb3_write/src/write_buffer/validator.rs) for the lines it stores. Pure logic, in-process."""

from __future__ import annotations

import pytest

from tests.standin.standin import import_standin

(metrics,) = import_standin("metrics")


def line_by_line(body: bytes, rejected: set[int]) -> int:
    total = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.removesuffix(b"\r")
        if line.strip() and not line.strip().startswith(b"#") and number not in rejected:
            total += len(line)
    return total


@pytest.mark.parametrize(
    "body",
    [
        b"m v=1 1",
        b"m v=1 1\nm v=2 2\n",
        b"m v=1 1\n\n\n",
        b"m v=1 1\n\nm v=2 2",
        b"m v=1 1\n  \nm v=2 2",
        b"  m v=1 1\n\tm v=2 2",
        b"# a comment\nm v=1 1",
        b'm s="#x" 1',
        b"m v=1 1\r\nm v=2 2\r\n",
        b"",
        b"\n",
    ],
)
def test_valid_bytes_counts_the_stored_lines_lengths(body: bytes) -> None:
    assert metrics.valid_bytes(body, set()) == line_by_line(body, set())
    assert metrics.valid_bytes(body, {1}) == line_by_line(body, {1})


def test_a_plain_body_counts_every_line_without_its_break() -> None:
    assert metrics.valid_bytes(b"m,t=a v=1i 1\nm,t=b v=2i 3\n", set()) == 24
