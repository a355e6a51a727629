"""IX-13 on query_data_frame(): the SQL frame has `time`, the tags and one column per field. Every Flux
column name written in a statement that uses the frame is rewritten (`_time` -> `time`, `_value` -> the
field's column) or marked (`_field`, `_measurement`, `_start`, `_stop`, `result`, `table` have no SQL
column): `df.drop(columns=["result", "table"])` would raise a KeyError on the SQL frame."""

from __future__ import annotations

import subprocess
import sys

from tests.migrators.fluxref.standin import ROOT
from tests.migrators.helpers import dedent, marked_above, run_file

STATE = {"dataframes": True, "schema": {"climate": ["room"]}}
MARK = "# MIGRATION-BLOCKER(IX-13): "


def _migrate(body: str, fields: str = 'r._field == "temp"') -> str:
    source = dedent(
        f"""
        from influxdb_client import InfluxDBClient

        client = InfluxDBClient(url="http://h:8181", token="t", org="o")


        def read():
            df = client.query_api().query_data_frame('from(bucket: "s") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "climate" and {fields})')
        """
    )
    new, _ = run_file("influxdb3", source + body, state=STATE, rel="app/frames.py")
    return new


def test_dropping_flux_only_columns_is_marked():
    new = _migrate('    return df.drop(columns=["result", "table", "_start", "_stop"])\n')
    assert marked_above(new, 'return df.drop(columns=["result", "table", "_start", "_stop"])', "IX-13")
    assert new.count(MARK) == 1


def test_time_and_value_columns_in_lists_and_calls_are_renamed():
    new = _migrate('    df = df.set_index("_time")\n    return df[["_value", "room"]]\n')
    assert 'df = df.set_index("time")' in new and 'return df[["temp", "room"]]' in new
    assert MARK not in new


def test_a_column_test_on_the_frame_is_read_too():
    new = _migrate('    if "_value" in df.columns:\n        return df\n    return None\n')
    assert 'if "temp" in df.columns:' in new


def test_a_loop_header_on_the_frame_is_read_too():
    new = _migrate(
        '    for t in df.set_index("_time").index:\n        print(t)\n    while "_field" in df.columns:\n        break\n'
    )
    assert 'for t in df.set_index("time").index:' in new
    assert marked_above(new, 'while "_field" in df.columns:', "IX-13")


def test_strings_of_statements_without_the_frame_are_left_alone():
    new = _migrate('    labels = {"table": "climate"}\n    return df, labels\n')
    assert 'labels = {"table": "climate"}' in new and MARK not in new


def test_a_drop_that_ignores_missing_columns_is_fine_on_an_sql_frame():
    new = _migrate('    return df.drop(columns=["result", "table"], errors="ignore")\n')
    assert MARK not in new


FRAME_SOURCE = """
from datetime import datetime, timedelta, timezone


def recent(client, minutes):
    flux = f'from(bucket: "db") |> range(start: -{minutes}m) |> filter(fn: (r) => r._measurement == "climate" and r._field == "temp")'
    df = client.query_api().query_data_frame(flux)
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    return df[df["_time"] > since]["_value"].tolist(), str(df["_time"].dt.tz_convert("Europe/Berlin").dt.tz)
"""
FRAME_SCRIPT = """
import sys, time
from tests.migrators.fluxref.standin import standin_client

namespace = {}
exec(compile(sys.stdin.read(), "app/frames.py", "exec"), namespace)
with standin_client() as client:
    now = time.time_ns()
    client.write(record=f"climate,room=a temp=20.5 {now - 300 * 10**9}\\nclimate,room=a temp=21.5 {now}", write_precision="ns")
    print(repr(namespace["recent"](client, 10)))
"""


def test_the_migrated_frame_compares_with_aware_datetimes_against_the_standin():
    new, _ = run_file("influxdb3", dedent(FRAME_SOURCE), state=STATE, rel="app/frames.py")
    done = subprocess.run(
        [sys.executable, "-c", FRAME_SCRIPT], input=new, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, (new, done.stderr)
    assert done.stdout.strip() == repr(([21.5], "Europe/Berlin"))
    # without the helper the same code raises: naive SQL times cannot be compared with an aware datetime
    bare = new.replace("df = _influxdb3_frame(client.query(", "df = (client.query(")
    done = subprocess.run(
        [sys.executable, "-c", FRAME_SCRIPT],
        input=bare,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode != 0 and "TypeError" in done.stderr, (bare, done.stderr)


EXECUTOR_SOURCE = """
import asyncio
from datetime import datetime, timedelta, timezone


async def latest(client, minutes):
    flux = f'from(bucket: "db") |> range(start: -{minutes}m) |> filter(fn: (r) => r._measurement == "climate" and r._field == "temp")'
    df = await asyncio.to_thread(client.query_api().query_data_frame, flux, data_frame_index=["_time"])
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    return df[df.index > since]["_value"].tolist(), str(df.index.tz)


def recent(client, minutes):
    return asyncio.run(latest(client, minutes))
"""


def test_a_frame_made_in_an_executor_is_aware_and_indexed_too():
    # the query handed to to_thread() returns the frame as v2 did: UTC-aware times, data_frame_index kept
    new, _ = run_file("influxdb3", dedent(EXECUTOR_SOURCE), state=STATE, rel="app/frames.py")
    assert "lambda *args, **kwargs: _influxdb3_frame(client.query(*args, **kwargs)).set_index(" in new
    done = subprocess.run(
        [sys.executable, "-c", FRAME_SCRIPT], input=new, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, (new, done.stderr)
    assert done.stdout.strip() == repr(([21.5], "UTC"))


def test_a_frame_query_with_a_spliced_filter_line_is_still_translated():
    # both SQL variants are chosen inside the _influxdb3_frame() wrapper
    source = dedent(
        """
        PLANT = '  |> filter(fn: (r) => r.plant == "{plant}")\\n'


        def plant_kwh(api, plant=None):
            flux = (
                'from(bucket: "b")\\n'
                + "  |> range(start: -1h)\\n"
                + '  |> filter(fn: (r) => r._measurement == "climate" and r._field == "temp")\\n'
                + (PLANT.format(plant=plant) if plant else "")
            )
            return api.query_api().query_data_frame(flux)
        """
    )
    state = {"dataframes": True, "schema": {"climate": ["plant"]}}
    new, changes = run_file("influxdb3", source, state=state, rel="app/energy.py")
    assert "_influxdb3_frame(api.query(flux" in new and "if plant else" in new
    assert not [c for c in changes if c.rule == "IX-12" and c.kind == "marker"], changes
