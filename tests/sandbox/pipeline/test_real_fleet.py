"""`sandbox verify` on a copy of the real fleet (`services/`): the four upgrades end to end.

weather-api (pytest-asyncio + influxdb-client with Flux `last`/`pivot`/`aggregateWindow`, shared
`fleet_common`) and api-automation-edge (tenacity 8 + v2 writes) must come out verified against the
InfluxDB 3 stand-in. data-retention's one blocker (IX-9: `delete_api` has no InfluxDB 3 equivalent)
is crossed by its shipped hand fix (`services/data-retention/migration-fixes/`), applied by the fix
stage, and the service must verify like the others. api-automation-edge's diff promotes; weather-api's
changes `services/common`, which data-retention, energy-forecasting and websocket-ingestion also build
with, so it promotes only once each of them verified with the same change: this run does not verify
the last two, and the refusal names who holds the shared change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.sandbox.pipeline.fixture_fleet import run_report, sandbox, snapshot

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    repo = tmp_path_factory.mktemp("real-repo")
    shutil.copytree(
        ROOT / "services", repo / "services", ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
    )
    before = snapshot(repo / "services")
    # --max-failure-rate 1: a failure in phase C must not hide phase D's result.
    result = sandbox(
        repo,
        "verify",
        "weather-api",
        "data-retention",
        "api-automation-edge",
        "-j",
        "3",
        "--max-failure-rate",
        "1",
    )
    return repo, result, run_report(repo), before


@pytest.mark.parametrize(
    "name,migrations",
    [("weather-api", {"influxdb3", "pytest-asyncio"}), ("api-automation-edge", {"influxdb3", "tenacity"})],
)
def test_influx_services_are_migrated_and_verified(real_run, name, migrations) -> None:
    repo, result, report, _ = real_run
    service = report["services"][name]
    assert service["overall_success"], result.stdout + result.stderr
    assert set(service["migrations"]) >= migrations
    test_stage = next(s for s in service["stages"] if s["name"] == "test")
    assert test_stage["details"]["tests"] > 0 and test_stage["details"]["failures"] == 0


def test_data_retention_crosses_its_blocker_with_the_shipped_fix(real_run) -> None:
    repo, result, report, before = real_run
    service = report["services"]["data-retention"]
    stages = {s["name"]: s for s in service["stages"]}
    assert stages["migrate"]["status"] == "passed", stages["migrate"]["reason"]
    fix = stages["fix"]
    assert fix["status"] == "passed", fix["reason"]
    assert fix["details"]["fixes"] == ["retention-period"] and fix["details"]["markers"] == []
    assert fix["details"]["resolved_by_fixes"] == 2 and fix["details"]["fixes_diff"]["files"] == 3
    for name in ("build", "test"):
        assert stages[name]["status"] == "passed", stages[name]["reason"]
    assert snapshot(repo / "services") == before


def test_data_retention_is_verified(real_run) -> None:
    _, result, report, _ = real_run
    service = report["services"]["data-retention"]
    assert service["overall_success"], f"{service['failed_stage']}: {service['reason']}"


def test_shared_code_diff_waits_for_every_dependent(real_run) -> None:
    repo, _, _, before = real_run
    refused = sandbox(repo, "promote", "weather-api")
    assert refused.returncode == 1
    assert "services/common" in refused.stderr and "has no verified diff" in refused.stderr
    assert snapshot(repo / "services") == before


def _own_copy(repo: Path, into: Path) -> Path:
    """The run's repo (services and verified records, not the run folders) for a test that writes to it:
    the tests above compare the shared repo with its snapshot, in whatever order they run."""
    shutil.copytree(repo / "services", into / "services")
    shutil.copytree(repo / ".sandbox", into / ".sandbox", ignore=shutil.ignore_patterns("runs"))
    return into


def test_promoted_api_automation_edge_uses_influxdb3_python_and_tenacity_9(real_run, tmp_path) -> None:
    shared, _, _, before = real_run
    repo = _own_copy(shared, tmp_path / "repo")
    promoted = sandbox(repo, "promote", "api-automation-edge")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    service = repo / "services" / "api-automation-edge"
    requirements = (service / "requirements.txt").read_text()
    assert "influxdb3-python" in requirements and "influxdb-client" not in requirements
    assert "tenacity==9.2.1" in requirements
    code = "".join(p.read_text() for p in (service / "app").rglob("*.py"))
    assert "influxdb_client_3" in code and "from influxdb_client " not in code
    assert snapshot(shared / "services") == before  # the shared run's repo is untouched
