"""Run ownership: `sandbox clean` removes only runs whose owner is gone (or `--run ID`), survives
objects vanishing under it, and removes the temp folders and report-less run folders of dead runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox.engine.labels import OWNER_PID_KEY, OWNER_START_KEY, labels_for
from tests.sandbox.containment.helpers import RUN_START, run_objects, start_verify, wait_for_line
from tests.sandbox.docker_objects import containers
from tests.sandbox.pipeline.fixture_fleet import sandbox, write_fleet

# A process that creates a labelled container, network, temp folder and report-less run folder as
# a run would, says READY and is then killed with SIGKILL: its objects are a dead run's leftovers.
DEAD_RUN = """
import sys, tempfile
from pathlib import Path
import docker
from sandbox.engine.cleanup import write_owner
from sandbox.engine.labels import labels_for, temp_prefix
run_id, repo = sys.argv[1], Path(sys.argv[2])
client = docker.from_env()
labels = labels_for(run_id, "probe")
client.networks.create(f"probe-{run_id}", labels=labels)
client.containers.run("sandbox/base:local", ["sleep", "600"], labels=labels, detach=True)
print(tempfile.mkdtemp(prefix=temp_prefix("probe")))
folder = repo / ".sandbox" / "runs" / run_id
folder.mkdir(parents=True)
write_owner(folder, run_id)
print("READY", flush=True)
import time; time.sleep(600)
"""


def _dead_run(repo: Path, run_id: str) -> Path:
    proc = subprocess.Popen(
        [sys.executable, "-c", DEAD_RUN, run_id, str(repo)], stdout=subprocess.PIPE, text=True
    )
    temp = Path(proc.stdout.readline().strip())
    assert proc.stdout.readline().strip() == "READY"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return temp


def test_clean_leaves_a_live_run_alone_and_removes_a_dead_one(docker_client, tmp_path: Path) -> None:
    repo = write_fleet(tmp_path / "repo", ["hang-svc"])
    dead_id = f"test-dead-{time.monotonic_ns()}"
    dead_temp = _dead_run(repo, dead_id)
    assert run_objects(docker_client, dead_id) and dead_temp.is_dir()
    live = start_verify(repo, "hang-svc")
    seen: list[str] = []
    try:
        live_id = wait_for_line(live, RUN_START.pattern, 60, seen)[1]
        wait_for_line(live, r"hang-svc\s+test\s+started", 300, seen)
        # The health check runs beside the (hanging) tests and removes its own objects when it ends,
        # so what must survive the clean is the test stage's: its container and its dependencies.
        # The test container comes once the dependencies answer: seconds, or a minute on a loaded machine.
        before = _wait_for_test_stage(docker_client, live_id, 180)
        assert any(item.startswith("container") for item in before), before
        done = sandbox(repo, "clean", timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"run {live_id}" in done.stdout and "kept" in done.stdout
        assert set(_test_stage_objects(docker_client, live_id)) >= set(before)
        assert live.poll() is None, "the live run must still be running"
    finally:
        live.send_signal(signal.SIGINT)
        live.wait(timeout=120)
    assert run_objects(docker_client, dead_id) == []
    assert not dead_temp.exists()
    assert not (repo / ".sandbox" / "runs" / dead_id).exists()
    assert run_objects(docker_client, live_id) == []


def _wait_for_test_stage(client, run_id: str, seconds: float) -> list[str]:
    """The test stage's objects once its test container exists (empty if it never came)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = _test_stage_objects(client, run_id)
        if found:
            return found
        time.sleep(1)
    return []


def _test_stage_objects(client, run_id: str) -> list[str]:
    """The run's test container and the containers on its network (the test stage's dependencies)."""
    wanted = {"label": [f"sandbox.run={run_id}", "sandbox.role=tests"]}
    found = []
    for container in containers(client, wanted):
        found.append(f"container {container.name}")
        for network in container.networks:
            found += [f"container {c.name}" for c in containers(client, {"network": network})]
    return sorted(set(found))


def test_clean_run_removes_that_run_even_with_a_live_owner(docker_client, tmp_path: Path) -> None:
    run_id = f"test-own-{time.monotonic_ns()}"
    docker_client.networks.create(f"probe-{run_id}", labels=labels_for(run_id, "probe"))  # owner: this test
    repo = write_fleet(tmp_path / "repo", ["ok-svc"])
    kept = sandbox(repo, "clean")
    assert kept.returncode == 0 and run_objects(docker_client, run_id), kept.stdout
    done = sandbox(repo, "clean", "--run", run_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_objects(docker_client, run_id) == []


def test_a_kept_run_outlives_a_plain_clean_after_its_owner_is_gone(docker_client, tmp_path: Path) -> None:
    """`verify --keep` leaves the run for inspection after its process ended: a plain clean (or a
    colleague's, or a test's beside it) lists it with the next step and leaves it; `--run` removes it."""
    run_id = f"test-kept-{time.monotonic_ns()}"
    gone = {OWNER_PID_KEY: "999999999", OWNER_START_KEY: "1"}
    docker_client.volumes.create(name=f"sandbox-keep-{run_id}", labels={**labels_for(run_id, "keep"), **gone})
    docker_client.networks.create(f"probe-{run_id}", labels={**labels_for(run_id, "probe"), **gone})
    repo = write_fleet(tmp_path / "repo", ["ok-svc"])
    try:
        kept = sandbox(repo, "clean")
        assert kept.returncode == 0, kept.stdout + kept.stderr
        assert f"run {run_id} (pid 999999999" in kept.stdout and "gone, kept by --keep" in kept.stdout
        assert f"`sandbox clean --run {run_id}` removes it" in kept.stdout
        assert f"network probe-{run_id}" in run_objects(docker_client, run_id)
    finally:
        done = sandbox(repo, "clean", "--run", run_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_objects(docker_client, run_id) == []
    assert not docker_client.volumes.list(filters={"name": f"sandbox-keep-{run_id}"})


def test_clean_tolerates_objects_vanishing_while_it_works(docker_client, tmp_path: Path) -> None:
    """Short-lived auto-removed containers of a dead owner come and go during the clean."""
    run_id = f"test-churn-{time.monotonic_ns()}"
    labels = {**labels_for(run_id, "churn"), OWNER_PID_KEY: "999999999", OWNER_START_KEY: "1"}
    repo = write_fleet(tmp_path / "repo", ["ok-svc"])
    churn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import docker, json, sys, time\n"
            "client, labels = docker.from_env(), json.loads(sys.argv[1])\n"
            "end = time.monotonic() + 25\n"
            "while time.monotonic() < end:\n"
            "    client.containers.run('sandbox/base:local', ['true'], labels=labels, detach=True, remove=True)\n",
            json.dumps(labels),
        ]
    )
    try:
        time.sleep(3)
        for _ in range(4):
            done = sandbox(repo, "clean", timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "Traceback" not in done.stderr
    finally:
        churn.wait(timeout=60)
    sandbox(repo, "clean")
    assert run_objects(docker_client, run_id) == []
    assert not list(Path(tempfile.gettempdir()).glob("sandbox-999999999-*"))
