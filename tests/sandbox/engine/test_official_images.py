"""The "official images present" path, on the real engine.

Docker Hub is out of reach here, so the official images are played by local images tagged with the
official names under a namespace unique to the test (SANDBOX_OFFICIAL_PREFIX): the engine is shared
with other runs and other engineers' tests at the same moment, and the literal names
(`python:3.11-slim`, `eclipse-mosquitto:2`, `influxdb:3-core`) would switch every one of them to the
official path in mid-run. Everything tagged or built here is removed after the test.

The stand-in for python:3.11-slim is the local base plus one LABEL: another image id, so the
migrator built FROM it is told apart from the migrator built FROM the local base by that label.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import ImageNotFound, NotFound

from sandbox.deps import ServiceDeps
from sandbox.engine.images import SPECS, Resolver, ensure_local, read_env_file
from sandbox.engine.labels import BASE_LABEL, labels_for

ROOT = Path(__file__).resolve().parents[3]
MARK = "sandbox.test.official-stand-in"


@dataclass
class Namespace:
    prefix: str
    refs: dict[str, str]  # logical -> the namespaced official name


def _tag(client: docker.DockerClient, image_id: str, ref: str) -> None:
    repository, tag = ref.rsplit(":", 1)
    assert client.images.get(image_id).tag(repository, tag)


def _base_stand_in(client: docker.DockerClient, local_base: str, ref: str, prefix: str) -> None:
    dockerfile = f"FROM {local_base}\nLABEL {MARK}={prefix}\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=ref, rm=True, forcerm=True)


@pytest.fixture
def official(docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[Namespace]:
    """The three official names, present in the engine under a unique namespace."""
    prefix = f"sandbox-official-test-{uuid.uuid4().hex[:10]}/"
    refs = {name: f"{prefix}{SPECS[name].official}" for name in ("base", "mosquitto", "influxdb3")}
    local_base = ensure_local(docker_client, "base")
    _base_stand_in(docker_client, local_base.ref, refs["base"], prefix)
    for name in ("mosquitto", "influxdb3"):
        _tag(docker_client, ensure_local(docker_client, name, base=local_base).digest, refs[name])
    monkeypatch.setenv("SANDBOX_OFFICIAL_PREFIX", prefix)
    try:
        yield Namespace(prefix, refs)
    finally:
        _remove_namespace(docker_client, prefix, refs)


def _remove_namespace(client: docker.DockerClient, prefix: str, refs: dict[str, str]) -> None:
    """Builds made FROM the stand-in base go first (they carry its label), then the namespaced tags
    (for the shared local mosquitto/influxdb builds only the tag goes)."""
    for image in client.images.list(filters={"label": f"{MARK}={prefix}"}):
        if image.tags != [refs["base"]]:
            _remove_quietly(client, image.id, force=True)
    for ref in refs.values():
        _remove_quietly(client, ref, force=False)


def _remove_quietly(client: docker.DockerClient, ref: str, force: bool) -> None:
    try:
        client.images.remove(ref, force=force)
    except (ImageNotFound, NotFound):
        pass


def _images_build(repo: Path) -> subprocess.CompletedProcess[str]:
    """`sandbox images build` as setup.sh runs it, where a Debian bootstrap cannot happen: no
    debootstrap on the PATH and a mirror that refuses connections."""
    env = {
        **os.environ,
        "SANDBOX_REPO": str(repo),
        "PYTHONPATH": str(ROOT),
        "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin",
        "SANDBOX_DEBIAN_MIRROR": "http://127.0.0.1:9/debian",
    }
    return subprocess.run(
        [sys.executable, "-m", "sandbox.cli", "images", "build"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.mark.docker
def test_images_build_uses_the_official_images_and_builds_the_migrator_from_the_official_base(
    docker_client: docker.DockerClient, official: Namespace, tmp_path: Path
) -> None:
    (tmp_path / "services").mkdir()
    alias_before = docker_client.images.get(SPECS["migrator"].local_tag).id
    result = _images_build(tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line.split() for line in result.stdout.splitlines() if line.startswith("ready")}
    for name in ("base", "mosquitto", "influxdb3"):
        assert rows[name][2:4] == ["official", official.refs[name]], result.stdout
    assert rows["migrator"][2] == "local", result.stdout
    log = tmp_path / ".sandbox" / "images-build.log"
    assert "debootstrap" not in result.stderr + (log.read_text() if log.exists() else "")
    migrator = docker_client.images.get(rows["migrator"][3])
    # Built FROM the official base: its label came through, and the build names its base.
    assert migrator.labels[MARK] == official.prefix
    assert migrator.labels[BASE_LABEL] == official.refs["base"]
    # The alias people and compose use still names the build on the local base.
    assert docker_client.images.get(SPECS["migrator"].local_tag).id == alias_before
    recorded = read_env_file(tmp_path / ".sandbox" / "images.env")
    assert recorded["SANDBOX_BASE_IMAGE"] == official.refs["base"]
    assert recorded["SANDBOX_MOSQUITTO_IMAGE"] == official.refs["mosquitto"]
    assert recorded["SANDBOX_INFLUXDB3_IMAGE"] == official.refs["influxdb3"]
    assert recorded["SANDBOX_MIGRATOR_IMAGE"] == rows["migrator"][3]
    assert recorded["SANDBOX_BASE_SOURCE"] == "official"
    # A migrator built FROM the official base migrates: the codemods import and answer.
    out = docker_client.containers.run(migrator.id, ["--help"], remove=True, network_disabled=True)
    assert b"usage" in out.lower()


@pytest.mark.docker
def test_the_image_map_and_dependencies_follow_the_official_images(
    docker_client: docker.DockerClient, official: Namespace
) -> None:
    resolver = Resolver(docker_client, pull_timeout=0)
    assert resolver.image_map() == {"python:3.11-slim": official.refs["base"]}
    for name in ("mosquitto", "influxdb3"):
        assert resolver.resolve(name).source == "official"
    # The dependencies start the official way (the official Mosquitto command line, user 1883)
    # and answer their readiness checks.
    run_id = f"test-official-{uuid.uuid4().hex[:8]}"
    images = {"mosquitto": resolver.resolve("mosquitto"), "influxdb3": resolver.resolve("influxdb3")}
    with ServiceDeps(docker_client, labels_for(run_id, "test"), images=images) as deps:
        mosquitto = deps.containers["mosquitto"].get_wrapped_container()
        mosquitto.reload()
        assert mosquitto.attrs["Config"]["Cmd"] == ["mosquitto", "-c", "/mosquitto-no-auth.conf"]
        assert mosquitto.attrs["Config"]["User"] == "1883:1883"
        assert set(deps.started_in) == {"mosquitto", "influxdb3"}
