"""The rewritten record loops, executed: the migrated module runs against the InfluxDB 3 stand-in.

A window translation labels its last window with ``now()``, a nanosecond instant, and points may be
written with nanosecond times; a bare ``table.to_pylist()`` raises on such a time when pandas is absent
("not safely convertible to microseconds"). The loop the codemod writes must read them.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.migrators.fluxref.standin import ROOT
from tests.migrators.helpers import dedent, run_file

STATE = {"dataframes": False, "schema": {"cpu": ["host"]}}
SOURCE = '''
from influxdb_client import InfluxDBClient


class Store:
    def __init__(self, url, token, org, bucket):
        self.org = org
        self.bucket = bucket
        self.client = InfluxDBClient(url=url, token=token, org=org)
        self.query_api = self.client.query_api()

    def windows(self):
        flux = f"""
from(bucket: "{self.bucket}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")
  |> aggregateWindow(every: 10m, fn: mean, createEmpty: false)
"""
        out = []
        for table in self.query_api.query(flux, org=self.org):
            for record in table.records:
                out.append((record.get_time(), record.values["host"], record.get_value()))
        return out

    def raw(self):
        flux = f"""
from(bucket: "{self.bucket}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")
"""
        tables = self.query_api.query(flux, org=self.org)
        return tables.to_values(columns=["_time", "host", "_value"])
'''


# Runs in a fresh interpreter where pandas cannot be imported (as in a service without pandas):
# pyarrow then converts times to datetime itself and refuses sub-microsecond ones.
SCRIPT = """
import sys, time


class _NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(name)


sys.meta_path.insert(0, _NoPandas())
from tests.migrators.fluxref.standin import standin_client

namespace = {}
exec(compile(sys.stdin.read(), "app/store.py", "exec"), namespace)
with standin_client() as client:
    now = time.time_ns()
    # times 123 ns and 999 ns past a whole microsecond; the first in a past 10-minute window, the second in
    # the current one (labelled now(), a time in ns) whatever the clock says: windows are aligned to the
    # epoch, so now - 600 s and now - 60 s share one in a period's first minute
    base = now - now % (600 * 10**9)
    first, second = base - 300 * 10**9 + 123, max(base, now - 60 * 10**9) + 999
    client.write(
        record=f"cpu,host=h1 usage=1.5 {first}\\ncpu,host=h1 usage=2.5 {second}",
        write_precision="ns",
    )
    store = namespace["Store"].__new__(namespace["Store"])
    store.client = store.query_api = client
    store.org = "o"
    store.bucket = "db"
    windows, raw = store.windows(), store.raw()
    assert "pandas" not in sys.modules
    print(repr((sorted(v for _, _, v in windows), [t.tzinfo is not None for t, _, _ in windows])))
    print(repr(sorted(v for _, _, v in raw)))
"""


def test_rewritten_loops_read_nanosecond_times_without_pandas():
    new, _ = run_file("influxdb3", dedent(SOURCE), state=STATE, rel="app/store.py")
    assert "to_pylist()" not in new.split("def _influxdb3_rows")[0], new
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], input=new, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    windows, raw = done.stdout.splitlines()
    assert windows == repr(([1.5, 2.5], [True, True]))
    assert raw == repr([1.5, 2.5])


def test_a_bare_to_pylist_fails_there():
    """The check above can fail: the v1 rewrite (table.to_pylist()) breaks in the same interpreter."""
    new, _ = run_file("influxdb3", dedent(SOURCE), state=STATE, rel="app/store.py")
    bare = new.replace("_influxdb3_rows(self.query_api.query(", "(self.query_api.query(").replace(
        "for row in _influxdb3_rows(", "for row in ("
    )
    bare = re.sub(r"\)\):\n(\s+)out\.append", r")).to_pylist():\n\1out.append", bare)
    # the raw read holds the 123 ns / 999 ns times whatever the window labels are (a window's label is
    # whole microseconds unless it is the last one, labelled with now()): it always breaks bare
    bare = bare.replace("_influxdb3_rows(tables)", "tables.to_pylist()")
    assert "_influxdb3_rows(" not in bare.split("def _influxdb3_rows")[1].split("\n", 1)[1], bare
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], input=bare, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode != 0 and "not safely convertible" in done.stderr, (bare, done.stderr)


def test_emptiness_tests_of_the_result_are_kept_unmarked():
    # an Arrow table is falsy and has len 0 exactly when v2's table list was empty (Flux sends no table
    # without rows), so these keep their meaning; a count of series (`n = len(tables)`) does not
    import pyarrow

    empty, two = pyarrow.table({"v": pyarrow.array([], pyarrow.float64())}), pyarrow.table({"v": [1.0, 2.0]})
    assert (bool(empty), len(empty), bool(two), len(two)) == (False, 0, True, 2)
    new, _ = run_file(
        "influxdb3",
        dedent(
            """
            from influxdb_client import InfluxDBClient


            def temps(client: InfluxDBClient, room: str):
                flux = f'from(bucket: "home") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "climate" and r.room == "{room}" and r._field == "temp")'
                tables = client.query_api().query(flux)
                if not tables:
                    return []
                while len(tables) > 0:
                    break
                n = len(tables)
                return [r.get_value() for t in tables for r in t.records] if tables else [n]
            """
        ),
        rel="app/n.py",
    )
    lines = new.splitlines()
    marked = [lines[i + 1].strip() for i, line in enumerate(lines) if "MIGRATION-BLOCKER(IX-13)" in line]
    assert marked == ["n = len(tables)"], new
