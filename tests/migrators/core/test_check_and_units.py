"""The post-migrate check (undefined names, its JSON and exit code) and per-service units at a
monorepo root (same output as one run per service, no config written at the root, idempotent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from migrators import migrate_tree
from migrators.cli import main
from migrators.core.check import early_reads, new_undefined, undefined_names
from migrators.core.tree import find_units
from tests.migrators.helpers import dedent, write_tree

# ---------------------------------------------------------------- undefined names


def test_undefined_names_knows_builtins_imports_globals_and_closures():
    source = dedent(
        """
        import os
        from x import y as z
        def f():
            global G
            G = 1
        def h(a):
            def inner():
                return a + G + len(os.sep) + z
            return inner
        class C:
            k = [i for i in range(3)]
            def m(self):
                return __name__, __file__, missing
        """
    )
    assert set(undefined_names(source)) == {"m:missing"}


def test_a_value_moved_out_of_its_scope_is_a_failure_with_its_line():
    before = "class W:\n    def __init__(self, url):\n        self.c = C(url)\n\n    def w(self, b):\n        pass\n"
    after = "class W:\n    def __init__(self, url):\n        self.c = C(url, database=b)\n\n    def w(self, b):\n        pass\n"
    (failure,) = new_undefined("app/w.py", before, after)
    assert (failure.path, failure.line, failure.kind) == ("app/w.py", 3, "undefined-name")
    assert "`b`" in failure.message and failure.next_step
    assert new_undefined("app/w.py", before, before) == []


def test_a_module_level_read_above_its_binding_is_a_failure():
    # symtable knows that the module binds BUCKET, not that it does so below the client: a NameError at import
    before = 'client = Client(url="u")\nBUCKET = "b"\n'
    after = 'client = Client(url="u", database=BUCKET)\nBUCKET = "b"\n'
    (failure,) = new_undefined("app/c.py", before, after)
    assert (failure.path, failure.line, failure.kind) == ("app/c.py", 1, "undefined-name")
    assert "`BUCKET`" in failure.message and "import" in failure.message
    moved = 'BUCKET = "b"\nclient = Client(url="u", database=BUCKET)\n'
    assert new_undefined("app/c.py", before, moved) == []


def test_early_reads_reads_only_what_runs_at_import():
    source = dedent(
        """
        import os

        @decorate(LATER_DECORATOR)
        def f(x=LATER_DEFAULT):
            return LATER_IN_BODY
        class K(LATER_BASE):
            attr = 1
        g = lambda: LATER_IN_LAMBDA
        squares = [i * i for i in range(3)]
        value = os.sep + LATER_VALUE
        LATER_DECORATOR = LATER_DEFAULT = LATER_IN_BODY = LATER_BASE = LATER_IN_LAMBDA = LATER_VALUE = 1
        i = 0
        """
    )
    reads = early_reads(source)
    assert set(reads) == {"LATER_DECORATOR", "LATER_DEFAULT", "LATER_BASE", "LATER_VALUE"}
    assert reads["LATER_VALUE"] == 10


INFLUX_SERVICE = {
    "requirements.txt": "influxdb-client==1.40.0\n",
    "app/__init__.py": "",
    "app/db.py": """
        from influxdb_client import InfluxDBClient

        client = InfluxDBClient(url="http://x", token="t", org="o")
    """,
}


def test_check_failure_in_json_and_exit_1(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            **INFLUX_SERVICE,
            "app/bad.py": "from influxdb_client_3 import InfluxDBClient3\n\nc = InfluxDBClient3(url='u')\n",
        },
    )
    code = main([str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1
    assert (
        "post-migrate check failed" in err and "app/bad.py:4: InfluxDBClient3() does not accept url=" in err
    )
    # app/db.py is not a failure: the IX-2 rewrite converts url=/org= even when no database is known
    # (only database= is left to a marker)
    assert report["check"]["ok"] is False and report["summary"]["check_failures"] == 1
    failures = {f["path"]: f for f in report["check"]["failures"]}
    # line 4: the sweep put a marker above the call (line 3) as well
    assert {"path": "app/bad.py", "line": 4, "kind": "signature"}.items() <= failures["app/bad.py"].items()


def test_clean_tree_check_ok(tmp_path, capsys):
    write_tree(tmp_path, {"requirements.txt": "requests==2.0\n", "app/x.py": "import os\n\nprint(os.sep)\n"})
    assert main([str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["check"] == {"ok": True, "failures": []}


# ---------------------------------------------------------------- units at a monorepo root


PA_SERVICE = {
    "requirements-dev.txt": "pytest==8.1.2\npytest-asyncio==0.21.1\n",
    "tests/__init__.py": "",
    "tests/conftest.py": """
        import pytest

        @pytest.fixture
        async def session():
            yield 1
    """,
    "tests/test_a.py": """
        import pytest

        @pytest.mark.asyncio
        async def test_a(session):
            assert session == 1
    """,
}


def monorepo(root: Path) -> Path:
    write_tree(root, {"pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "strict"\n'})
    write_tree(
        root / "svc-a", {**INFLUX_SERVICE, "app/pandas_use.py": "import pandas\ndf = pandas.DataFrame()\n"}
    )
    write_tree(root / "svc-b", {**PA_SERVICE, "pytest.ini": "[pytest]\nasyncio_mode = auto\n"})
    write_tree(root / "svc-c", PA_SERVICE)
    write_tree(root / "common", {"influx_util.py": "def bucket():\n    return 'b'\n"})
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_find_units():
    root = Path(__file__).resolve().parents[1] / "corpus"
    assert find_units(root / "fleet-gps") == [""]
    assert "fleet-gps" in find_units(root) and "_monorepo_root" in find_units(root)


def test_root_run_equals_per_service_runs_and_leaves_root_files(tmp_path):
    whole, alone = monorepo(tmp_path / "whole"), monorepo(tmp_path / "alone")
    assert find_units(whole) == ["common", "svc-a", "svc-b", "svc-c"]
    root_before = (whole / "pyproject.toml").read_text()
    result = migrate_tree(whole, write=True)
    assert result.units == ["common", "svc-a", "svc-b", "svc-c"]
    for unit in ("common", "svc-a", "svc-b", "svc-c"):
        migrate_tree(alone / unit, write=True)
    assert snapshot(whole) == snapshot(alone)
    assert (whole / "pyproject.toml").read_text() == root_before
    assert not (whole / "pytest.ini").exists()
    # svc-a's DataFrames never give another service the pandas extra
    assert "[pandas]" not in (whole / "svc-b" / "requirements-dev.txt").read_text()
    first = snapshot(whole)
    migrate_tree(whole, write=True)
    assert snapshot(whole) == first


def test_monorepo_report_paths_are_relative_to_the_root(tmp_path):
    root = monorepo(tmp_path / "m")
    shutil.rmtree(root / "svc-b")
    result = migrate_tree(root)
    paths = {f.path for f in result.changed}
    assert "svc-a/app/db.py" in paths
    assert all(p.split("/")[0] in ("svc-a", "svc-c", "common") for p in paths)


def test_markers_the_sweep_left_do_not_wake_the_rules_next_run(tmp_path):
    # the first run only sweeps this file (no sign of InfluxDB for the rules' pre-check); the marker
    # it leaves names InfluxDB 3, which must not make the second run apply the rules to it
    write_tree(
        tmp_path,
        {
            "requirements.txt": "influxdb-client==1.40.0\n",
            "app/x.py": "from app.db import query_api\n\nrows = [r.get_value() for t in query_api.query(q) for r in t.records]\n",
        },
    )
    migrate_tree(tmp_path, write=True)
    first = snapshot(tmp_path)
    assert "MIGRATION-BLOCKER(IX-16)" in first["app/x.py"]
    migrate_tree(tmp_path, write=True)
    assert snapshot(tmp_path) == first
