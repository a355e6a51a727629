"""A simulated night: the nightly workflow's steps run locally in its order (plan each phase's
shards, verify each shard with no per-shard stop, judge the stop rule over the whole phase with
`phase-status`, run the later phases with `--skip REASON`). A phase above the failure rate makes the
later phase's service appear in its shard's report as not run with the reason, never missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sandbox.engine.official_names import Namespace, official_fixture  # noqa: F401 (fixture)
from tests.sandbox.pipeline.fixture_fleet import sandbox, write_fleet


def _night(repo: Path) -> dict[str, dict]:
    """The workflow's jobs in order; returns every service entry of every shard report."""
    # The verify job's set-up: `sandbox images build` (setup.sh) resolves the images first.
    images = sandbox(repo, "-q", "images", "build")
    assert images.returncode == 0, images.stderr
    skip = ""
    for phase in "abcd":
        matrix = json.loads(sandbox(repo, "-q", "plan", "--phase", phase, "--matrix", "--shards", "2").stdout)
        for entry in matrix["include"]:
            args = ["--phase", phase, "--shard", entry["shard"]]
            if skip:
                result = sandbox(repo, "-q", "verify", *args, "--skip", skip)
            else:
                result = sandbox(repo, "-q", "verify", *args, "--max-failure-rate", "1")
            assert result.returncode in (0, 1), result.stderr
        if not skip:
            status = sandbox(
                repo, "phase-status", "--phase", phase, "--json", str(repo / ".sandbox" / "runs")
            )
            assert status.returncode in (0, 1), status.stderr
            skip = json.loads(status.stdout)["reason"]
    services: dict[str, dict] = {}
    shard_runs = sorted(path.parent.name for path in (repo / ".sandbox" / "runs").glob("*/report.json"))
    for run in shard_runs:
        services.update(
            json.loads((repo / ".sandbox" / "runs" / run / "report.json").read_text())["services"]
        )
    # The report job: one merged report of the night, shown as the newest run.
    merged = sandbox(repo, "-q", "report", "--merge", *shard_runs)
    assert merged.returncode in (0, 1), merged.stderr
    night = json.loads(sandbox(repo, "report", "--format", "json").stdout)
    assert night["services"].keys() == services.keys(), "the merged report lists every service"
    for name, entry in night["services"].items():
        assert entry["overall_success"] == services[name]["overall_success"], name
    return night["services"]


@pytest.mark.docker
@pytest.mark.slow
def test_a_failed_phase_reports_the_later_phase_as_skipped(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["blocker-svc", "ok-svc"])
    for name, priority in {"blocker-svc": "HIGH", "ok-svc": "CRITICAL"}.items():
        toml = repo / "services" / name / "sandbox.toml"
        toml.write_text(toml.read_text().replace('priority = "LOW"', f'priority = "{priority}"'))
    services = _night(repo)
    assert set(services) == {"blocker-svc", "ok-svc"}
    assert services["blocker-svc"]["overall_success"] is False
    assert services["blocker-svc"]["failed_stage"] == "fix"
    critical = services["ok-svc"]
    assert critical["overall_success"] is False
    assert critical["reason"].startswith("phase C: 1/1 failed (100% > 20%): blocker-svc")


def _priorities(repo: Path, priorities: dict[str, str]) -> None:
    for name, priority in priorities.items():
        toml = repo / "services" / name / "sandbox.toml"
        toml.write_text(toml.read_text().replace('priority = "LOW"', f'priority = "{priority}"'))


@pytest.mark.docker
@pytest.mark.slow
def test_a_night_on_the_official_images(tmp_path: Path, official: Namespace) -> None:
    """The nightly on a runner that holds the official images: nothing local but the migrator is
    built, the migrator and the service build FROM the official base, the dependencies run from the
    official images, and the CRITICAL service of phase D is verified."""
    repo = write_fleet(tmp_path, ["ok-svc"])
    _priorities(repo, {"ok-svc": "CRITICAL"})
    toml = repo / "services" / "ok-svc" / "sandbox.toml"  # both dependencies, both official
    toml.write_text(toml.read_text().replace('needs = ["mosquitto"]', 'needs = ["mosquitto", "influxdb3"]'))
    services = _night(repo)
    assert services["ok-svc"]["overall_success"] is True, services["ok-svc"]
    reports = [json.loads(path.read_text()) for path in (repo / ".sandbox" / "runs").glob("*/report.json")]
    report = next(r for r in reports if "ok-svc" in r["services"])
    used = {name: (image["source"], image["ref"]) for name, image in report["images"].items()}
    for name in ("base", "mosquitto", "influxdb3"):
        assert used[name] == ("official", official.refs[name]), used
    assert used["migrator"][0] == "local"
    recorded = (repo / ".sandbox" / "images.env").read_text()
    assert f"SANDBOX_BASE_IMAGE={official.refs['base']}" in recorded
