"""`sandbox verify` flags on a real engine: --keep, --promote, --shard, and the phase stop through the
CLI. Each test writes its own repo (nothing here changes a repo another test reads)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sandbox.config import shard
from sandbox.engine.cleanup import remove_labelled
from sandbox.engine.labels import RUN_KEY
from tests.sandbox.docker_objects import leftovers
from tests.sandbox.pipeline.fixture_fleet import run_report, sandbox, snapshot, write_fleet


def _leftovers(client, run_id: str) -> list[str]:
    return leftovers(client, {"label": f"{RUN_KEY}={run_id}"})


def test_keep_leaves_the_run_up_and_promote_applies_the_verified_diff(tmp_path: Path, docker_client) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    server = repo / "services" / "ok-svc" / "app" / "server.py"
    result = sandbox(repo, "verify", "ok-svc", "--keep", "--promote", "-j", "1")
    report = run_report(repo)
    run_id = report["run_id"]
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert report["services"]["ok-svc"]["overall_success"]
        # --promote: the verified diff is in the repo now, and the gate says so
        assert "ping.statistics" in server.read_text() and "ping.retry.statistics" not in server.read_text()
        assert "tenacity==9.2.1" in (repo / "services/ok-svc/requirements.txt").read_text()
        gate = sandbox(repo, "gate", "ok-svc")
        assert gate.returncode == 0 and "promoted" in gate.stdout + gate.stderr
        # --keep: what the run held at its end is not swept (its containers, networks and images stay
        # for inspection), and the output (stderr: stdout stays the report) says how to remove them.
        assert _leftovers(docker_client, run_id), "--keep swept the run's objects anyway"
        assert f"sandbox clean --run {run_id}" in result.stderr, result.stderr
    finally:
        # the cleanup `sandbox clean` does, scoped to this run (the engine is shared with other runs)
        done = remove_labelled(docker_client, run_id)
    assert done.errors == [] and done.total > 0
    assert _leftovers(docker_client, run_id) == []


def test_verify_without_promote_leaves_the_repo_untouched(tmp_path: Path) -> None:
    """The control for --promote: a blocker fails fast, and nothing is written either way."""
    repo = write_fleet(tmp_path, ["blocker-svc"])
    before = snapshot(repo / "services")
    result = sandbox(repo, "verify", "blocker-svc", "--promote")
    assert result.returncode == 1, result.stdout + result.stderr
    assert snapshot(repo / "services") == before


def _blocker_fleet(repo: Path, count: int) -> list[str]:
    """`count` copies of blocker-svc: each fails at migrate, the quickest stage with a container."""
    write_fleet(repo, ["blocker-svc"])
    names = ["blocker-svc"]
    for k in range(2, count + 1):
        shutil.copytree(repo / "services/blocker-svc", repo / f"services/blocker{k}-svc")
        names.append(f"blocker{k}-svc")
    return sorted(names)


def test_shards_split_the_fleet_without_overlap(tmp_path: Path) -> None:
    repo = tmp_path
    names = _blocker_fleet(repo, 3)
    seen: list[str] = []
    for k in (1, 2):
        result = sandbox(repo, "verify", "--all", "--shard", f"{k}/2", "--max-failure-rate", "1")
        assert result.returncode == 1, result.stdout + result.stderr
        ran = sorted(run_report(repo)["services"])
        assert ran == sorted(shard(names, f"{k}/2")) and ran
        seen += ran
    assert sorted(seen) == names


def test_a_failing_phase_stops_the_run_before_the_next_phase(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["blocker-svc", "ok-svc"])
    toml = repo / "services/ok-svc/sandbox.toml"
    toml.write_text(toml.read_text().replace('priority = "LOW"', 'priority = "MEDIUM"'))  # phase B
    result = sandbox(repo, "verify", "--all", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = run_report(repo)
    assert report["stopped_after_phase"] == "A"
    # ok-svc (phase B) never ran: it is listed as not run, with the reason, never missing.
    assert list(report["services"]) == ["blocker-svc", "ok-svc"]
    assert report["services"]["ok-svc"]["overall_success"] is False
    assert report["totals"]["not_run"] == 1
