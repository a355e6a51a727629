"""`sandbox verify` end to end on a real engine, over the fixture fleet (tests/sandbox/pipeline/fixture_fleet.py).

One run verifies the healthy service and every failure mode side by side; the gate, promote and
stale-diff refusal follow on its results. Interrupts and concurrent runs get runs of their own.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from docker.errors import ImageNotFound

from sandbox.engine.cleanup import CACHE_REPO
from sandbox.engine.labels import RUN_KEY
from tests.sandbox.docker_objects import leftovers
from tests.sandbox.pipeline.fixture_fleet import SANDBOX, env_for, run_report, sandbox, snapshot, write_fleet


def _leftovers(client, run_id: str) -> list[str]:
    return leftovers(client, {"label": f"{RUN_KEY}={run_id}"})


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory, docker_client):
    """One `sandbox verify` over the whole fixture fleet; (repo, result, report, before-snapshot,
    named caches: role -> the id, last step and labels of ok-svc's image named by the run)."""
    repo = write_fleet(tmp_path_factory.mktemp("repo"))
    before = snapshot(repo / "services")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(sandbox, repo, "verify", "--all", "-j", "3")
        caches: dict[str, dict] = {}
        while not running.done():
            _read_caches(docker_client, repo, caches)
            time.sleep(0.2)
        result = running.result()
    return repo, result, run_report(repo), before, caches


def _read_caches(client, repo: Path, caches: dict[str, dict]) -> None:
    """ok-svc's images named by the run, read while the run is live: a bound keeps a live run's
    names, while a name of a finished run may go with any later run's bound (another test
    module's run of a service of that name, side by side under -n)."""
    runs = repo / ".sandbox" / "runs"
    for run_id in (folder.name for folder in runs.iterdir()) if runs.is_dir() else ():
        for role in {"service-image", "test-image"} - set(caches):
            try:
                image = client.images.get(f"{CACHE_REPO}/ok-svc:{role}.{run_id}")
            except ImageNotFound:
                continue
            caches[role] = {"id": image.id, "last": image.history()[0]["CreatedBy"], "labels": image.labels}


def _service(report: dict, name: str) -> dict:
    return report["services"][name]


def test_fleet_run_exits_1_and_leaves_the_repo_untouched(fleet_run, docker_client) -> None:
    repo, result, report, before, _ = fleet_run
    assert result.returncode == 1, result.stdout + result.stderr
    assert snapshot(repo / "services") == before
    assert _leftovers(docker_client, report["run_id"]) == []
    assert "By Priority:" in result.stdout and "Failed Services:" in result.stdout


def test_the_builds_are_caches_named_by_the_run_from_the_start(fleet_run) -> None:
    """No LABEL step names the run on a build (a container created, committed and removed per build):
    the service and test images are the build caches of their service and role at once, and the run
    leaves no image of its own (the leftovers above)."""
    _, _, report, _, caches = fleet_run
    ok = _service(report, "ok-svc")
    built = next(s for s in ok["stages"] if s["name"] == "build")["details"]["image"]
    assert set(caches) == {"service-image", "test-image"}
    for role, image in caches.items():
        assert "LABEL sandbox." not in image["last"], role
        assert RUN_KEY not in image["labels"], role
    assert caches["service-image"]["id"] == built


def test_the_fleet_migrates_in_one_shared_container_each_service_with_its_own_result(fleet_run) -> None:
    _, _, report, _, _ = fleet_run
    migrated = {
        name: stage["details"]
        for name, service in report["services"].items()
        for stage in service["stages"]
        if stage["name"] == "migrate" and stage["status"] != "skipped"
    }
    assert len(migrated) >= 2
    assert {details["migrator"] for details in migrated.values()} == {"shared"}
    roots = {name: details["reports"][0].get("root", "") for name, details in migrated.items()}
    assert all(root.startswith(f"/work/{name}/") for name, root in roots.items()), roots


def test_complete_migration_is_verified(fleet_run) -> None:
    _, result, report, _, _ = fleet_run
    ok = _service(report, "ok-svc")
    assert ok["overall_success"], json.dumps(ok, indent=2)
    assert [s["name"] for s in ok["stages"]] == [
        "resolve",
        "copy",
        "migrate",
        "fix",
        "build",
        "test",
        "health",
        "gate",
    ]
    assert ok["tests"]["tests"] == 2 and ok["tests"]["failures"] == 0
    assert ok["migrations"] == {"tenacity": True}
    assert ok["diff"]["files"] >= 2


@pytest.mark.parametrize(
    "name, stage, reason",
    [
        ("blocker-svc", "fix", r"MIGRATION-BLOCKER marker.*services/blocker-svc/app/backoff\.py:\d+"),
        ("build-fail-svc", "build", r"docker build failed"),
        ("tests-fail-svc", "test", r"1 of 3 tests failed.*test_first_wait_can_be_below_min"),
        ("no-tests-svc", "test", r"no tests collected"),
        ("no-health-svc", "health", r"health check failed: not healthy within 8s"),
        ("hang-svc", "test", r"tests exceeded 25s; container killed"),
    ],
)
def test_each_defect_fails_at_its_stage_with_its_reason(fleet_run, name, stage, reason) -> None:
    _, result, report, _, _ = fleet_run
    outcome = _service(report, name)
    assert not outcome["overall_success"]
    assert outcome["failed_stage"] == stage, json.dumps(outcome["stages"], indent=2)
    assert re.search(reason, outcome["reason"]), outcome["reason"]
    assert f"{name} [{stage}]" in result.stdout
    log = next(s["log"] for s in outcome["stages"] if s["name"] == stage)
    assert (Path(outcome["folder"]) / log).is_file()


def test_run_folder_has_reports_diffs_and_dependency_logs(fleet_run) -> None:
    repo, _, report, _, _ = fleet_run
    folder = repo / ".sandbox" / "runs" / report["run_id"]
    for name in ("report.json", "junit.xml", "summary.md"):
        assert (folder / name).is_file()
    assert "tenacity==9.2.1" in (folder / "ok-svc" / "diff.patch").read_text()
    assert (folder / "tests-fail-svc" / "test-mosquitto.log").is_file()
    junit = (folder / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 7


def test_gate_and_promote_refuse_stale_then_apply_and_revert(fleet_run) -> None:
    repo, _, _, _, _ = fleet_run
    server = repo / "services" / "ok-svc" / "app" / "server.py"
    assert sandbox(repo, "gate", "ok-svc").returncode == 0
    gate_all = sandbox(repo, "gate")
    assert gate_all.returncode == 1 and "FAIL blocker-svc" in gate_all.stdout

    original = server.read_text()
    server.write_text(original + "\n# edited after verification\n")
    stale = sandbox(repo, "promote", "ok-svc")
    assert stale.returncode == 1 and "stale diff" in stale.stderr
    assert "ping.retry.statistics" in server.read_text()
    server.write_text(original)

    applied = sandbox(repo, "promote", "ok-svc")
    assert applied.returncode == 0, applied.stderr
    assert "ping.statistics" in server.read_text() and "ping.retry.statistics" not in server.read_text()
    assert "tenacity==9.2.1" in (repo / "services" / "ok-svc" / "requirements.txt").read_text()
    assert sandbox(repo, "gate", "ok-svc").returncode == 0

    reverted = sandbox(repo, "promote", "--revert", "ok-svc")
    assert reverted.returncode == 0, reverted.stderr
    assert server.read_text() == original


def test_sigint_during_the_test_stage_leaves_nothing(tmp_path: Path, docker_client) -> None:
    repo = write_fleet(tmp_path, ["hang-svc"])
    before = snapshot(repo / "services")
    proc = subprocess.Popen(
        [*SANDBOX, "verify", "hang-svc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_for(repo),
    )
    run_id, lines = None, []
    try:
        deadline = time.monotonic() + 300
        for line in proc.stdout:
            lines.append(line)
            match = re.search(r"run\s+start\s+(\S+):", line)
            run_id = match.group(1) if match else run_id
            if re.search(r"hang-svc\s+test\s+started", line):
                break
            assert time.monotonic() < deadline, "".join(lines)
        time.sleep(4)  # inside the test stage: deps up, pytest running
        assert run_id and _leftovers(docker_client, run_id), "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    assert _leftovers(docker_client, run_id) == []
    assert snapshot(repo / "services") == before


def test_two_runs_at_the_same_time_do_not_interfere(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    procs = [
        subprocess.Popen(
            [*SANDBOX, "verify", "ok-svc"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env_for(repo),
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=900)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], "\n".join(outputs)
    run_ids = {re.search(r"run\s+start\s+(\S+):", out).group(1) for out in outputs}
    assert len(run_ids) == 2


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    unknown = sandbox(repo, "verify", "nope-svc")
    assert unknown.returncode == 2 and "unknown service nope-svc" in unknown.stderr
    bad_phase = sandbox(repo, "verify", "--phase", "z")
    assert bad_phase.returncode == 2 and "--phase" in bad_phase.stderr


def test_baseline_failures_are_listed_and_accepted_with_the_flag(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    broken = "def test_already_broken() -> None:\n    assert 1 == 2\n"
    (repo / "services" / "ok-svc" / "tests" / "test_known_bad.py").write_text(broken)
    result = sandbox(repo, "verify", "ok-svc", "--baseline", "--accept-preexisting")
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = run_report(repo)["services"]["ok-svc"]
    assert [s["name"] for s in outcome["stages"]] == [
        "resolve",
        "copy",
        "baseline",
        "migrate",
        "fix",
        "build",
        "test",
        "health",
        "gate",
    ]
    assert outcome["preexisting_failures"] == ["tests.test_known_bad::test_already_broken"]
    test = next(s for s in outcome["stages"] if s["name"] == "test")
    assert test["status"] == "passed" and "accepted 1 pre-existing failure(s)" in test["reason"]
