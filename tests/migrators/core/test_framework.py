"""Framework: markers, re-parse safety net, results/JSON/diff, CLI exit codes, versions, registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from migrators import detect_upgrades, migrate_tree, upgrade_names
from migrators.cli import main
from migrators.core.codemod import MigrationCodemod
from migrators.core.runner import transform_source
from migrators.core.tree import FileInfo
from migrators.core.upgrade import Upgrade
from migrators.core.versions import Versions
from migrators.upgrades import default_registry
from tests.migrators.helpers import dedent, read, write_tree

ROOT = Path(__file__).resolve().parents[3]


class _MarkEveryCall(MigrationCodemod):
    def leave_Call(self, original_node, updated_node):
        if getattr(original_node.func, "value", None) == "boom":
            self.mark("XX-1", original_node, "boom is gone")
        return updated_node


class _BreakCode(MigrationCodemod):
    def leave_Call(self, original_node, updated_node):
        if getattr(original_node.func, "value", None) == "breakme":
            return cst.Await(expression=updated_node)  # `await` at module level: does not compile
        return updated_node


class MarkUpgrade(Upgrade):
    name = "mark-test"
    rule_prefix = "XX"
    tokens = ("boom",)
    codemod = _MarkEveryCall


class BreakUpgrade(Upgrade):
    name = "break-test"
    tokens = ("breakme",)
    codemod = _BreakCode


def _mark(code: str) -> str:
    new, _, _ = transform_source(
        dedent(code), [MarkUpgrade()], {}, Versions(), FileInfo("x.py", False, False)
    )
    return new


def test_marker_goes_above_the_statement_never_after_a_backslash_or_in_a_string():
    assert _mark('''
        x = 1 + \\
            boom()
        s = """
        boom()
        """
        if ok: boom()
        ''') == dedent('''
        # MIGRATION-BLOCKER(XX-1): boom is gone
        x = 1 + \\
            boom()
        s = """
        boom()
        """
        # MIGRATION-BLOCKER(XX-1): boom is gone
        if ok: boom()
        ''')


def test_marker_indentation_and_idempotence_in_nested_blocks():
    once = _mark("""
        def f():
            for i in range(3):
                y = [boom(i)]
        """)
    assert once == dedent("""
        def f():
            for i in range(3):
                # MIGRATION-BLOCKER(XX-1): boom is gone
                y = [boom(i)]
        """)
    assert _mark(once) == once


def test_reparse_safety_net_keeps_original_and_processes_the_rest(tmp_path):
    write_tree(tmp_path, {"a.py": "breakme()\n", "b.py": "boom()\n"})
    result = migrate_tree(tmp_path, upgrades=[BreakUpgrade(), MarkUpgrade()], write=True)
    bad = result.file("a.py")
    assert bad.status == "error" and "does not parse" in bad.error and "original kept" in bad.error
    assert read(tmp_path, "a.py") == "breakme()\n"
    assert read(tmp_path, "b.py").startswith("# MIGRATION-BLOCKER(XX-1)")


def test_results_json_and_diff(tmp_path):
    write_tree(tmp_path, {"b.py": "boom()\n", "c.py": "print(1)\n"})
    result = migrate_tree(tmp_path, upgrades=[MarkUpgrade()])
    data = result.to_json()
    assert data["summary"] == {
        "files_changed": 1,
        "errors": 0,
        "markers": 1,
        "files_scanned": 2,
        "files_skipped": 1,
        "check_failures": 0,
    }
    assert data["check"] == {"ok": True, "failures": []}
    assert data["markers"] == [
        {"path": "b.py", "line": 1, "rule": "XX-1", "upgrade": "mark-test", "message": "boom is gone"}
    ]
    assert data["rules"] == {"XX-1": {"marker": 1}}
    assert data["diff"].startswith("--- a/b.py\n+++ b/b.py\n")
    assert read(tmp_path, "b.py") == "boom()\n"  # write=False
    json.dumps(data)


TREE = {
    "requirements.txt": "tenacity==8.2.3\n",
    "svc/retry.py": "from tenacity import retry\n\n@retry\ndef f():\n    pass\n\nprint(f.retry.statistics)\n",
    "svc/other.py": "import os\n",
}


def test_cli_check_diff_apply(tmp_path, capsys):
    write_tree(tmp_path, TREE)
    assert main([str(tmp_path), "--check"]) == 1
    assert main([str(tmp_path), "--diff"]) == 0
    out = capsys.readouterr().out
    assert "+print(f.statistics)" in out and "+tenacity==9.2.1" in out
    assert read(tmp_path, "svc/retry.py") == TREE["svc/retry.py"]
    assert main([str(tmp_path)]) == 0
    assert "f.statistics" in read(tmp_path, "svc/retry.py")
    assert main([str(tmp_path), "--check"]) == 0


def test_cli_parse_error_exit_2_names_file_and_line_others_processed(tmp_path, capsys):
    write_tree(tmp_path, TREE)
    (tmp_path / "svc/broken.py").write_text("import tenacity\n\ndef f(:\n    pass\n")
    assert main([str(tmp_path), "--json"]) == 2
    captured = capsys.readouterr()
    assert "svc/broken.py:3: parse error" in captured.err  # the line CPython names (libcst says 4)
    report = json.loads(captured.out)
    broken = next(f for f in report["files"] if f["path"] == "svc/broken.py")
    assert broken["status"] == "error" and broken["error_line"]
    assert read(tmp_path, "svc/broken.py") == "import tenacity\n\ndef f(:\n    pass\n"
    assert "f.statistics" in read(tmp_path, "svc/retry.py")


def test_cli_usage_errors(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(tmp_path), "--only", "nope"]) == 2
    assert main([str(tmp_path), "--target", "broken"]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:  # argparse exits on an unknown option: it must not pass
        main(["--bogus"])
    assert exc.value.code == 2
    assert "--bogus" in capsys.readouterr().err


def test_versions_override_file_and_flag(tmp_path, capsys):
    (tmp_path / "v.toml").write_text('[targets]\ntenacity = "9.1.2"\n\n[forced]\npytest = ">=8.2"\n')
    versions = default_registry().versions(tmp_path / "v.toml", {"aiomqtt": "2.3.0"})
    assert versions.target("tenacity") == "9.1.2" and versions.target("aiomqtt") == "2.3.0"
    assert versions.forced["pytest"] == ">=8.2" and versions.forced["paho-mqtt"] == ">=2.1,<3"
    assert (
        default_registry().versions().with_targets(**{"pytest-asyncio": "1.3.0"}).forced["pytest"] == ">=8.2"
    )
    write_tree(tmp_path / "t", TREE)
    assert (
        main([str(tmp_path / "t"), "--versions", str(tmp_path / "v.toml"), "--target", "tenacity=9.0.0"]) == 0
    )
    assert read(tmp_path / "t", "requirements.txt") == "tenacity==9.0.0\n"


def test_registry_detection(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "asyncio-mqtt==0.16.1\n",
            "requirements-dev.txt": "pytest-asyncio==0.21.1\n",
            "app/x.py": "import tenacity\n",
        },
    )
    assert detect_upgrades(tmp_path) == ["pytest-asyncio", "tenacity", "aiomqtt"]
    assert detect_upgrades(tmp_path / "nothing") == []
    assert {"pytest-asyncio", "tenacity", "aiomqtt"} <= set(upgrade_names())


def test_python_m_migrators_runs_with_only_libcst_and_tomlkit(tmp_path):
    """The migrator image has libcst + tomlkit only: block every other third-party import."""
    write_tree(tmp_path, TREE)
    guard = (
        "import sys, builtins\n"
        "allowed = {'libcst', 'tomlkit', 'migrators', 'yaml', 'typing_extensions'}\n"
        "real = builtins.__import__\n"
        "def imp(name, *a, **k):\n"
        "    top = name.split('.')[0]\n"
        "    if top and top not in sys.stdlib_module_names and top not in allowed:\n"
        "        raise ImportError('third-party import in migrators: ' + name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = imp\n"
        "from migrators.cli import main\n"
        f"raise SystemExit(main([{str(tmp_path)!r}, '--check']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", guard], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr


def test_the_cli_exits_1_while_any_blocker_remains_whatever_upgrades_are_detected(tmp_path, capsys):
    """A marker left by an earlier run (here an influxdb3 one in a tree where nothing is detected any
    more) keeps the tree unfinished: apply and --check both exit 1 and the JSON names its upgrade."""
    write_tree(
        tmp_path,
        {
            "app/store.py": "# MIGRATION-BLOCKER(IX-9): no predicate delete; see docs/rules.md#ix-9\nx = 1\n",
            "notes.txt": "nothing to see\n",
        },
    )
    assert main([str(tmp_path)]) == 1
    assert main([str(tmp_path), "--check"]) == 1
    capsys.readouterr()
    assert main([str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["upgrades"] == []
    assert report["blockers"] == [
        {
            "path": "app/store.py",
            "line": 1,
            "rule": "IX-9",
            "upgrade": "influxdb3",
            "message": "no predicate delete; see docs/rules.md#ix-9",
        }
    ]
    (tmp_path / "app/store.py").write_text("x = 1\n")
    assert main([str(tmp_path)]) == 0 and main([str(tmp_path), "--check"]) == 0


def test_a_crashing_rule_keeps_its_traceback_in_the_results(tmp_path):
    class _Crash(MigrationCodemod):
        def leave_Call(self, original_node, updated_node):
            raise ValueError("rule bug")

    class CrashUpgrade(Upgrade):
        name = "crash-test"
        rule_prefix = "CR"
        tokens = ("boom",)
        codemod = _Crash

    write_tree(tmp_path, {"b.py": "boom()\n"})
    result = migrate_tree(tmp_path, upgrades=[CrashUpgrade()])
    [error] = result.errors
    assert error.error == "internal error: ValueError: rule bug; original kept"
    assert "Traceback" in error.traceback and "rule bug" in error.traceback
    assert result.to_json()["files"][0]["traceback"] == error.traceback
