"""The stand-in's text formats of durations (pure logic): chrono's ISO 8601 Display of a TimeDelta,
which arrow-rs's default DurationFormat::ISO8601 prints for `format=json|csv|pretty`."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.standin.standin import import_standin

(formats,) = import_standin("formats")
format_duration, render = formats.format_duration, formats.render


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "PT0S"),
        (2 * 10**9, "PT2S"),
        (1_500_000_000, "PT1.500S"),
        (1_000_123_000, "PT1.000123S"),
        (123_456, "PT0.000123456S"),
        (5, "PT0.000000005S"),
        (86_400 * 10**9, "P1D"),
        (90_000 * 10**9, "P1DT3600S"),
        (-1_500_000_000, "-PT1.500S"),
    ],
)
def test_a_duration_is_chronos_iso_8601(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_duration_columns_of_any_unit_render_and_nulls_are_left_out_of_json() -> None:
    table = pa.table(
        {
            "d": pa.array([123_456, None], pa.duration("ns")),
            "e": pa.array([3, 4], pa.duration("ms")),
        }
    )
    assert render(table, "json") == b'[{"d":"PT0.000123456S","e":"PT0.003S"},{"e":"PT0.004S"}]'
    assert render(table, "csv").decode().splitlines() == ["d,e", "PT0.000123456S,PT0.003S", ",PT0.004S"]
