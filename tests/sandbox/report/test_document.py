"""report.json: its schema, and per-migration counts that never overclaim."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

from sandbox.pipeline.run import ServiceOutcome
from sandbox.pipeline.stage import StageResult
from sandbox.report import SCHEMA_VERSION, seeds_results, summary_text
from tests.sandbox.report.samples import sample_report, schema_errors


def test_report_carries_version_tool_commit_times_and_machine(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True)
    report = sample_report(tmp_path, repo=tmp_path)
    assert schema_errors(report) == []
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["tool"]["name"] == "sandbox-migrate" and report["tool"]["version"]
    assert report["repo"] == {"commit": head.stdout.strip(), "dirty": False}
    assert report["started_at"] < report["ended_at"]
    assert report["machine"]["cores"] >= 1 and report["machine"]["hostname"]


def test_outside_a_git_repository_the_commit_is_null(tmp_path: Path) -> None:
    report = sample_report(tmp_path, repo=tmp_path)
    assert report["repo"] == {"commit": None, "dirty": None}
    assert schema_errors(report) == []


def test_a_service_stopped_at_migrate_verified_none_of_its_migrations(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    stopped = report["services"]["data-retention"]
    assert stopped["migrations"] == {"aiomqtt": False, "influxdb3": False}
    assert report["by_migration"]["aiomqtt"] == {
        "total": 2,
        "verified": 0,
        "stopped_at": {"migrate": 1, "test": 1},
    }
    assert report["by_migration"]["influxdb3"] == {
        "total": 3,
        "verified": 0,
        "stopped_at": {"health": 1, "migrate": 1, "not-run": 1},
    }
    assert report["by_migration"]["tenacity"] == {"total": 1, "verified": 1, "stopped_at": {}}
    text = summary_text(report, tmp_path)
    assert "aiomqtt         0/2 verified (1 stopped at migrate, 1 stopped at test)" in text
    assert "1/1 verified" not in text.split("By Migration Type:")[1].split("tenacity")[0]


def test_the_pipeline_outcome_counts_a_blocked_service_as_not_verified_for_every_migration() -> None:
    outcome = ServiceOutcome("data-retention", "HIGH", "c", ["aiomqtt", "influxdb3"])
    outcome.stages = [
        StageResult("resolve", "passed"),
        StageResult(
            "migrate",
            "failed",
            reason="1 marker",
            details={"markers": [{"path": "a.py"}], "blockers": [{"rule": "IX-9", "upgrade": "influxdb3"}]},
        ),
    ]
    assert outcome.to_dict({})["migrations"] == {"aiomqtt": False, "influxdb3": False}
    outcome.verified = True
    assert outcome.to_dict({})["migrations"] == {"aiomqtt": True, "influxdb3": True}


def test_services_never_run_are_listed_not_missing(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    skipped = report["services"]["admin-api"]
    assert skipped["status"] == "not-run" and not skipped["overall_success"]
    assert report["totals"] == {"services": 5, "verified": 1, "failed": 3, "not_run": 1, "reused": 0}


def test_the_schema_rejects_an_overclaim_and_unknown_top_level_keys(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    overclaim = copy.deepcopy(report)
    overclaim["services"]["data-retention"]["migrations"]["aiomqtt"] = True
    assert any("data-retention/migrations/aiomqtt" in e for e in schema_errors(overclaim))
    unversioned = copy.deepcopy(report)
    del unversioned["schema_version"]
    unversioned["extra"] = 1
    errors = schema_errors(unversioned)
    assert any("schema_version" in e for e in errors) and any("extra" in e for e in errors)


def test_seeds_export_has_their_shape_and_no_overclaim(tmp_path: Path) -> None:
    results = seeds_results(sample_report(tmp_path))
    assert results["rag-service"] == {
        "name": "rag-service",
        "priority": "LOW",
        "migrations": {"tenacity": True},
        "overall_success": True,
    }
    assert results["data-retention"]["migrations"] == {"aiomqtt": False, "influxdb3": False}
    assert results["admin-api"]["overall_success"] is False
    assert all(
        set(entry) == {"name", "priority", "migrations", "overall_success"} for entry in results.values()
    )
