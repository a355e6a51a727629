"""The fleet's one migrator container (sandbox.pipeline.shared_migrator), real: two services' codemods
in one container, each with the exit code and report of its own run; one service's failure (a path
that is not there, a child killed at its timeout) stays that service's; the container has no network,
a read-only root, only the working copies and the exchange folder of the host, the run's labels; a
container that stopped is reported as such (the stage then runs the service in a container of its own)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest

from sandbox.engine import Resolver
from sandbox.engine.containers import NOBODY
from sandbox.engine.labels import RUN_KEY, labels_for
from sandbox.pipeline.shared_migrator import EXCHANGE_DIR, OnDemand, SharedMigrator, SharedMigratorGone
from tests.sandbox.docker_objects import containers

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["data-retention", "common"]


@pytest.fixture
def shared(docker_client, tmp_path):
    """A run folder with two services' working copies and its shared migrator, started."""
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    for name in NAMES:
        shutil.copytree(
            ROOT / "services" / name,
            tmp_path / name / "work" / "services" / name,
            ignore=shutil.ignore_patterns("__pycache__", "migration-fixes"),
        )
    if os.getuid() == 0:  # as the migrate stage does: the container writes as nobody, never root
        for path in tmp_path.rglob("*"):
            os.lchown(path, *(int(part) for part in NOBODY.split(":")))
    image = Resolver(docker_client).resolve("migrator").ref
    slot = OnDemand(
        lambda: SharedMigrator.start(
            docker_client, image, tmp_path, [*NAMES, "never-copied"], labels_for(run_id, "migrator"), 2
        ),
        [tmp_path / name / "work" for name in [*NAMES, "never-copied"]],
    )
    yield slot, run_id, tmp_path
    slot.close()


def _request(migrator: SharedMigrator, name: str, timeout: float = 300) -> list[dict]:
    argv = [[f"{migrator.work_roots[name]}/services/{name}", "--json", "-j", "2"]]
    return migrator.migrate(name, argv, timeout, threading.Event())


def test_two_services_in_one_container_each_with_its_own_result(shared, docker_client) -> None:
    slot, run_id, folder = shared
    migrator = slot.get()
    assert slot.get() is migrator  # one container for the run
    results: dict[str, list[dict]] = {}
    threads = [threading.Thread(target=lambda n=n: results.update({n: _request(migrator, n)})) for n in NAMES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[name][0]["code"] for name in NAMES] == [1, 0]  # data-retention leaves blockers
    report = json.loads(results["data-retention"][0]["stdout"])
    assert report["summary"]["files_changed"] > 0
    assert "MIGRATION-BLOCKER(" in "".join(
        p.read_text() for p in (folder / "data-retention" / "work").rglob("*.py")
    )
    missing = migrator.migrate("common", [["/work/common/no-such-folder", "--json"]], 60, threading.Event())
    assert missing[0]["code"] == 2 and "no such file" in missing[0]["stderr"]
    attrs = docker_client.containers.get(migrator.container.id).attrs
    # No network, and none of the engine's network set-up (no libnetwork-setkey hook at its start).
    assert attrs["HostConfig"]["NetworkMode"] == "none" and attrs["Config"]["NetworkDisabled"] is True
    assert attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert attrs["HostConfig"]["CapDrop"] == ["ALL"] and "/tmp" in attrs["HostConfig"]["Tmpfs"]
    assert "no-new-privileges" in attrs["HostConfig"]["SecurityOpt"]
    assert attrs["Config"]["Labels"][RUN_KEY] == run_id
    mounted = sorted(mount["Destination"] for mount in attrs["Mounts"])
    assert mounted == sorted(["/exchange", "/work/data-retention", "/work/common", "/work/never-copied"])
    assert attrs["Config"]["User"] not in ("", "root", "0")


def test_a_service_past_its_timeout_fails_alone(shared) -> None:
    slot, _, _ = shared
    migrator = slot.get()
    late = migrator.migrate(
        "data-retention", [["/work/data-retention/services/data-retention"]], 0.01, threading.Event()
    )
    assert late[0]["code"] is None  # killed at its timeout: the stage says "timeout"
    assert _request(migrator, "common")[0]["code"] == 0  # the container serves the next one


def test_a_stopped_container_is_reported_and_replaced_and_nothing_is_left(shared, docker_client) -> None:
    slot, run_id, folder = shared
    first = slot.get()
    first.container.kill()
    with pytest.raises(SharedMigratorGone):
        _request(first, "common")
    slot.discard(first)
    second = slot.get()
    assert second is not first
    assert _request(second, "common")[0]["code"] == 0
    slot.close()
    left = containers(docker_client, {"label": f"{RUN_KEY}={run_id}"})
    assert left == []
    assert not (folder / "never-copied").exists()  # made for its mount, never used: gone
    assert not (folder / EXCHANGE_DIR).exists()
