"""The fleet history and `sandbox report --compare / --format` on report files written by the tool."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from sandbox.report import compare, write_reports
from sandbox.report.document import by_migration, by_priority
from sandbox.report.history import classify, entry_from_report, load
from tests.sandbox.report.samples import sample_report, stage

FIRST, SECOND = "20261125-010000-aaaaaa", "20261126-010000-bbbbbb"


def _sandbox(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SANDBOX_REPO": str(repo)},
    )


def _write(repo: Path, run_id: str, report: dict) -> None:
    folder = repo / ".sandbox" / "runs" / run_id
    folder.mkdir(parents=True)
    report = {**report, "run_id": run_id, "run_folder": f".sandbox/runs/{run_id}"}
    write_reports(folder, report)


def _two_nights(repo: Path) -> None:
    """Night 1: rag-service verified, weather-api failed at health. Night 2: rag-service fails at
    build, weather-api verified, data-retention still at migrate."""
    first = sample_report(repo / ".sandbox" / "runs" / FIRST)
    second = copy.deepcopy(first)
    rag = second["services"]["rag-service"]
    reason = "pip: no matching distribution found for tenacity==9.2.1"
    rag.update(status="failed", overall_success=False, failed_stage="build", reason=reason)
    rag["migrations"] = {"tenacity": False}
    rag["stages"] = rag["stages"][:3] + [stage("build", "failed", 14.0, reason, "build.log")]
    weather = second["services"]["weather-api"]
    weather.update(status="verified", overall_success=True, failed_stage=None, reason="")
    weather["migrations"] = {"influxdb3": True}
    weather["stages"] = weather["stages"][:-1] + [
        stage("health", seconds=4.0, log="health.log"),
        stage("gate"),
    ]
    services = list(second["services"].values())
    second.update(by_migration=by_migration(services), by_priority=by_priority(services))
    _write(repo, FIRST, first)
    _write(repo, SECOND, second)


def test_each_run_appends_one_history_line(tmp_path: Path) -> None:
    _two_nights(tmp_path)
    lines = (tmp_path / ".sandbox" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == [FIRST, SECOND]
    entry = load(tmp_path / ".sandbox")[0]["services"]["websocket-ingestion"]
    assert entry == {"status": "failed", "stage": "test", "seconds": 30.6, "priority": "CRITICAL"}


def test_classification_of_changes() -> None:
    ok, build, test = (
        {"status": "verified", "stage": None},
        {"status": "failed", "stage": "build"},
        {"status": "failed", "stage": "test"},
    )
    assert classify(ok, build) == "regressions" and classify(build, ok) == "fixes"
    assert classify(test, build) == "regressions" and classify(build, test) == "progress"
    assert classify(None, ok) == "new" and classify(ok, {"status": "not-run", "stage": None}) == "not_run"
    assert classify(build, build) == "unchanged"


def test_compare_uses_each_services_previous_run(tmp_path: Path) -> None:
    shard_1 = entry_from_report(sample_report(tmp_path, run_id=FIRST))
    shard_2 = copy.deepcopy(shard_1) | {"run_id": "20261125-020000-cccccc"}
    shard_2["services"] = {"rag-service": shard_1["services"]["rag-service"]}
    shard_1["services"].pop("rag-service")
    tonight = entry_from_report(sample_report(tmp_path, run_id=SECOND))
    result = compare(tonight, [shard_1, shard_2])
    assert result.regressions == [] and result.fixes == [] and len(result.unchanged) == 5


def test_cli_compare_lists_regressions_and_fixes_and_exits_1(tmp_path: Path) -> None:
    _two_nights(tmp_path)
    latest = _sandbox(tmp_path, "--compare")
    assert latest.returncode == 1, latest.stderr
    assert "Regressions: 1\n  rag-service: verified -> failed at build" in latest.stdout
    assert "Fixes: 1\n  weather-api: failed at health -> verified" in latest.stdout
    explicit = _sandbox(tmp_path, "--compare", FIRST, SECOND, "--format", "json")
    document = json.loads(explicit.stdout)
    assert document["against"] == FIRST and [c["service"] for c in document["regressions"]] == ["rag-service"]
    backwards = _sandbox(tmp_path, "--compare", SECOND, FIRST)
    assert backwards.returncode == 1 and "weather-api: verified -> failed at health" in backwards.stdout


def test_cli_formats_seeds_json_junit_md(tmp_path: Path) -> None:
    _two_nights(tmp_path)
    seeds = json.loads(_sandbox(tmp_path, FIRST, "--format", "seeds").stdout)
    assert seeds["rag-service"]["overall_success"] is True and "stages" not in seeds["rag-service"]
    assert json.loads(_sandbox(tmp_path, "-f", "json").stdout)["run_id"] == SECOND
    assert _sandbox(tmp_path, "-f", "junit").stdout.startswith("<?xml")
    assert _sandbox(tmp_path, "-f", "md").stdout.startswith(f"# Sandbox run {SECOND}")
    bad = _sandbox(tmp_path, "-f", "yaml")
    assert bad.returncode == 2 and "expected one of text, json, md, junit, seeds" in bad.stderr
    missing = _sandbox(tmp_path, "no-such-run")
    assert missing.returncode == 2 and "no report for run no-such-run" in missing.stderr
    assert _sandbox(tmp_path, FIRST, SECOND).returncode == 2


def test_merge_of_shards_keeps_real_results_over_not_run(tmp_path: Path) -> None:
    shard_a = sample_report(tmp_path, run_id=FIRST)
    shard_b = copy.deepcopy(shard_a)
    for name in ("rag-service", "data-retention", "websocket-ingestion", "weather-api"):
        shard_b["services"].pop(name)
    shard_b["services"]["admin-api"].update(status="verified", overall_success=True, reason="")
    shard_b["services"]["admin-api"]["migrations"] = {"influxdb3": True}
    _write(tmp_path, FIRST, shard_a)
    _write(tmp_path, SECOND, shard_b)
    merged = _sandbox(tmp_path, "--merge", FIRST, SECOND, "-f", "json")
    assert merged.returncode == 1, merged.stderr
    document = json.loads(merged.stdout)
    assert document["merged_from"] == [FIRST, SECOND] and document["run_id"] == f"{SECOND}-merged"
    assert document["services"]["admin-api"]["status"] == "verified"
    assert document["totals"] == {"services": 5, "verified": 2, "failed": 3, "not_run": 0, "reused": 0}
    assert (tmp_path / ".sandbox" / "runs" / f"{SECOND}-merged" / "junit.xml").is_file()
    assert load(tmp_path / ".sandbox")[-1]["run_id"] == f"{SECOND}-merged"
    assert _sandbox(tmp_path, "--merge", FIRST).returncode == 2
