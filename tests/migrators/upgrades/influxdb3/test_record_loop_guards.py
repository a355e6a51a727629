"""IX-13's record-loop guards: only the exact `for table in result: for record in table.records:` shape
is flattened to `for record in result.to_pylist()`; every other loop over a Flux result is marked,
never rewritten (a rewrite of another shape would change what the loop iterates)."""

from __future__ import annotations

import pytest

from tests.migrators.helpers import dedent, run_file

STATE = {"dataframes": False, "schema": {"cpu": ["host"]}}
QUERY = 'influx.query_api.query(\'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")\', org="o")'
MARK = "# MIGRATION-BLOCKER(IX-13): "


def _migrate(body: str) -> tuple[str, list]:
    source = dedent(f"def read(influx, other):\n    result = {QUERY}\n{body}")
    return run_file("influxdb3", source, state=STATE, rel="app/q.py")


def _loop_marks(changes) -> list[str]:
    return [c.message for c in changes if c.rule == "IX-13" and c.kind == "marker"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param(
            "    for table in result:\n        for record in other.records:\n            print(record.get_value())\n",
            "loop over Flux tables",
            id="inner-loop-over-another-objects-records",
        ),
        pytest.param(
            "    for table in result:\n        for column in table.columns:\n            print(column)\n",
            "loop over Flux tables",
            id="inner-loop-over-columns",
        ),
        pytest.param(
            "    for table in result:\n        for record in table.records():\n            print(record)\n",
            "loop over Flux tables",
            id="inner-iter-is-a-call",
        ),
        pytest.param(
            "    for table in result:\n        print(table)\n        for record in table.records:\n            print(record)\n",
            "loop over Flux tables",
            id="outer-body-has-more-than-the-inner-loop",
        ),
        pytest.param(
            "    for table in result:\n        for record in table.records:\n            print(record)\n    else:\n        pass\n",
            "loop over Flux tables",
            id="outer-loop-has-else",
        ),
        pytest.param(
            "    for table in result:\n        for record in table.records:\n            print(record)\n        else:\n            pass\n",
            "loop over Flux tables",
            id="inner-loop-has-else",
        ),
        pytest.param(
            "    for table in result:\n        print(table)\n",
            "loop over Flux tables",
            id="no-inner-loop",
        ),
        pytest.param(
            "    for table in result:\n        for key, value in table.records:\n            print(key, value)\n",
            "record loop target is not a name",
            id="record-target-is-a-tuple",
        ),
        pytest.param(
            "    for table, extra in result:\n        for record in table.records:\n            print(record)\n",
            "loop over Flux tables",
            id="table-target-is-a-tuple",
        ),
    ],
)
def test_a_loop_of_another_shape_is_marked_not_rewritten(body: str, why: str) -> None:
    new, changes = _migrate(body)
    assert "result.to_pylist()" not in new, new
    marks = _loop_marks(changes)
    assert any(why in message for message in marks), (marks, new)
    # the loop itself is left exactly as written, under its marker
    assert body.splitlines()[0] in new.splitlines()
    assert MARK in new


def test_the_exact_shape_is_flattened() -> None:
    """The control: the shape the guards let through is rewritten, with no loop marker."""
    new, changes = _migrate(
        "    for table in result:\n        for record in table.records:\n            print(record.get_value())\n"
    )
    assert "for record in _influxdb3_rows(result):" in new and 'print(record["usage"])' in new, new
    assert not [m for m in _loop_marks(changes) if "loop" in m]
    assert "for table in result" not in new
