"""`verify --keep` keeps the run's containers and networks on the engine, labelled, until
`sandbox clean --run ID` removes them; build-step containers run with the build limits."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from sandbox.deps import ServiceDeps
from sandbox.engine.cleanup import kept_objects, run_scope
from sandbox.engine.containers import BUILD_LIMITS, remove
from sandbox.engine.images import Resolver, build_mapped
from sandbox.engine.labels import labels_for, project_filter
from tests.sandbox.docker_objects import containers

ROOT = Path(__file__).resolve().parents[3]


def _objects(client: docker.DockerClient, run_id: str) -> dict[str, list[str]]:
    selector = project_filter(run_id)
    return {
        "containers": [c.name for c in containers(client, selector)],
        "networks": [n.name for n in client.networks.list(filters=selector)],
        "volumes": [v.name for v in client.volumes.list(filters=selector)],
    }


def _a_run(client: docker.DockerClient, run_id: str, keep: bool) -> str:
    """What a service's stages do: dependencies on private networks, a stage container removed
    with the engine helper when the stage ends. Returns the stage container's name."""
    resolver = Resolver(client, pull_timeout=0)
    with run_scope(client, run_id, keep=keep):
        images = {"mosquitto": resolver.resolve("mosquitto")}
        labels = labels_for(run_id, "dependency", "svc")
        with ServiceDeps(client, labels, needs=("mosquitto",), images=images) as deps:
            assert deps.containers["mosquitto"].get_wrapped_container().status in ("created", "running")
        stage = client.containers.create(
            resolver.resolve("base").ref, ["sleep", "300"], labels=labels_for(run_id, "test", "svc")
        )
        stage.start()
        remove(stage)
    return stage.name


def _clean(run_id: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli", "clean", "--run", run_id],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


@pytest.mark.docker
def test_a_kept_run_keeps_its_containers_and_networks_until_clean(docker_client: docker.DockerClient) -> None:
    run_id = f"test-keep-{uuid.uuid4().hex[:8]}"
    try:
        stage = _a_run(docker_client, run_id, keep=True)
        left = _objects(docker_client, run_id)
        # The dependency (still running), the stage container, both private networks, the marker.
        assert stage in left["containers"] and len(left["containers"]) == 2, left
        assert len(left["networks"]) == 2 and left["volumes"] == [f"sandbox-keep-{run_id}"], left
        running = containers(docker_client, project_filter(run_id), stopped=False)
        assert len(running) == 2, "kept containers stay up for inspection"
        kept = kept_objects(docker_client, run_id)
        lines = kept.lines(run_id)
        assert sorted(kept.containers) == sorted(left["containers"]) and sorted(kept.networks) == sorted(
            left["networks"]
        )
        assert lines[-1] == f"remove them with: sandbox clean --run {run_id}"
        assert all(f"container {name}" in "\n".join(lines) for name in left["containers"])
        cleaned = _clean(run_id)
        assert cleaned.returncode == 0, cleaned.stderr
    finally:
        _clean(run_id)
    assert _objects(docker_client, run_id) == {"containers": [], "networks": [], "volumes": []}


@pytest.mark.docker
def test_a_run_without_keep_leaves_nothing(docker_client: docker.DockerClient) -> None:
    run_id = f"test-nokeep-{uuid.uuid4().hex[:8]}"
    try:
        stage = _a_run(docker_client, run_id, keep=False)
        assert _objects(docker_client, run_id) == {"containers": [], "networks": [], "volumes": []}, stage
    finally:
        _clean(run_id)


@pytest.mark.docker
def test_build_steps_run_with_the_build_memory_limit(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    base = Resolver(docker_client, pull_timeout=0).resolve("base").ref
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base}\n"
        "RUN echo limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null "
        "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\n"
    )
    run_id = f"test-buildlimit-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    image_id = build_mapped(
        docker_client,
        tmp_path,
        tmp_path / "Dockerfile",
        f"sandbox-test/build-limit:{run_id}",
        {},
        labels_for(run_id, "test"),
        on_log=lines.append,
    )
    try:
        assert f"limit={BUILD_LIMITS['memory']}" in lines, lines
    finally:
        docker_client.images.remove(image_id, force=True)
