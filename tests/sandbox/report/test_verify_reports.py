"""The reports of a real `sandbox verify` (Docker): a verified service and one stopped at migrate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from sandbox.report.document import STAGE_NAMES
from tests.sandbox.pipeline.fixture_fleet import run_report, sandbox, write_fleet
from tests.sandbox.report.samples import junit_errors, schema_errors

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def verified_run(tmp_path_factory):
    repo = write_fleet(tmp_path_factory.mktemp("reports-repo"), ["ok-svc", "blocker-svc"])
    result = sandbox(repo, "verify", "ok-svc", "blocker-svc", "-j", "2")
    report = run_report(repo)
    return repo, result, report, repo / ".sandbox" / "runs" / report["run_id"]


def test_report_json_and_junit_of_a_real_run_validate(verified_run) -> None:
    _, result, report, folder = verified_run
    assert result.returncode == 1, result.stdout + result.stderr
    assert schema_errors(report) == []
    assert junit_errors((folder / "junit.xml").read_bytes()) == []
    assert report["repo"]["commit"] is None  # the test repo is not a git repository


def test_the_blocked_service_verified_no_migration(verified_run) -> None:
    _, result, report, _ = verified_run
    assert report["services"]["ok-svc"]["migrations"] == {"tenacity": True}
    assert report["services"]["blocker-svc"]["migrations"] == {"tenacity": False}
    assert report["by_migration"]["tenacity"] == {"total": 2, "verified": 1, "stopped_at": {"fix": 1}}
    assert "tenacity        1/2 verified (1 stopped at fix)" in result.stdout


def test_junit_holds_every_stage_and_the_services_own_tests(verified_run) -> None:
    _, _, _, folder = verified_run
    root = etree.parse(str(folder / "junit.xml")).getroot()
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    own = [
        c.get("name") for c in suites["ok-svc"].iter("testcase") if c.get("classname").startswith("ok-svc.")
    ]
    assert sorted(own) == ["test_ping_answers", "test_statistics_count_attempts"]
    blocked = {c.get("name"): c for c in suites["blocker-svc"].iter("testcase")}
    # Blockers are judged by the fix stage, after the hand fixes (none here).
    assert blocked["migrate"].find("failure") is None and blocked["fix"].find("failure") is not None
    assert all(blocked[s].find("skipped") is not None for s in ("build", "test", "health", "gate"))


def test_summary_and_history_of_a_real_run(verified_run) -> None:
    repo, _, report, folder = verified_run
    summary = (folder / "summary.md").read_text()
    assert str(repo) not in summary
    assert f"- log: `.sandbox/runs/{report['run_id']}/blocker-svc/fix.log`" in summary
    lines = (repo / ".sandbox" / "history.jsonl").read_text().splitlines()
    entry = json.loads(lines[-1])
    assert len(lines) == 1 and entry["run_id"] == report["run_id"]
    assert entry["services"]["blocker-svc"]["stage"] == "fix"
    assert entry["services"]["ok-svc"]["status"] == "verified" and entry["services"]["ok-svc"]["seconds"] > 0
    page = sandbox(repo, "report", "--html")
    assert page.returncode == 0 and (folder / "report.html").is_file(), page.stderr
    assert Path(folder / "ok-svc" / "diff.patch").is_file()


def test_a_phase_never_started_is_reported_not_run_not_missing(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["blocker-svc", "ok-svc"])
    toml = repo / "services" / "ok-svc" / "sandbox.toml"
    toml.write_text(toml.read_text().replace('priority = "LOW"', 'priority = "MEDIUM"'))
    result = sandbox(repo, "verify", "blocker-svc", "ok-svc")
    report = run_report(repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert report["stopped_after_phase"] == "A" and schema_errors(report) == []
    skipped = report["services"]["ok-svc"]
    assert skipped["status"] == "not-run" and "phase A failed above --max-failure-rate" in skipped["reason"]
    assert report["totals"] == {"services": 2, "verified": 0, "failed": 1, "not_run": 1, "reused": 0}
    folder = repo / ".sandbox" / "runs" / report["run_id"]
    suite = next(s for s in etree.parse(str(folder / "junit.xml")).getroot() if s.get("name") == "ok-svc")
    assert suite.get("skipped") == suite.get("tests") == str(len(STAGE_NAMES))
