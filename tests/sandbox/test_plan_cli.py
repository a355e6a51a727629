"""`sandbox plan` and `sandbox report` on a fixture repo: no Docker needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.sandbox.pipeline.fixture_fleet import write_fleet


def _sandbox(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SANDBOX_REPO": str(repo)},
        timeout=120,
    )


def test_plan_json_lists_phases_and_detected_migrations(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc", "hang-svc"])
    (repo / "services" / "ok-svc" / "sandbox.toml").write_text('priority = "CRITICAL"\n')
    result = _sandbox(repo, "plan", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["ok-svc"]["phase"] == "D" and rows["hang-svc"]["phase"] == "A"
    assert rows["ok-svc"]["migrations"] == ["tenacity"]


def test_plan_matrix_has_one_entry_per_shard(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc", "hang-svc", "no-tests-svc"])
    result = _sandbox(repo, "plan", "--all", "--matrix", "--shards", "3")
    assert json.loads(result.stdout) == {"include": [{"shard": "1/3"}, {"shard": "2/3"}, {"shard": "3/3"}]}


def test_plan_shows_shared_code_dependents(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc", "hang-svc"])
    (repo / "services" / "common").mkdir()
    (repo / "services" / "common" / "util.py").write_text("from tenacity import retry\n")
    for name in ("ok-svc", "hang-svc"):
        (repo / "services" / name / "sandbox.toml").write_text('context = ".."\nshared = ["common"]\n')
    result = _sandbox(repo, "plan")
    assert "shared: common (also hang-svc)" in result.stdout
    assert "shared: common (also ok-svc)" in result.stdout


def test_report_without_runs_is_a_usage_error(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    result = _sandbox(repo, "report")
    assert result.returncode == 2 and "no report for run (latest)" in result.stderr


def test_invalid_sandbox_toml_fails_only_its_service_named_by_file_and_key(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc", "blocker-svc"])
    (repo / "services" / "ok-svc" / "sandbox.toml").write_text('priority = "SOMETIMES"\n')
    result = _sandbox(repo, "verify", "ok-svc")
    assert result.returncode == 1  # the service failed (at resolve); the command itself worked
    assert "ok-svc: services/ok-svc/sandbox.toml: priority: 'SOMETIMES' is not one of" in result.stdout
    # Other commands and other services are not blocked by the broken file.
    gated = _sandbox(repo, "gate", "blocker-svc")
    assert gated.returncode == 1 and gated.stdout.startswith("FAIL blocker-svc")
    planned = _sandbox(repo, "plan")
    assert "blocker-svc" in planned.stdout and "INVALID sandbox.toml" in planned.stdout
