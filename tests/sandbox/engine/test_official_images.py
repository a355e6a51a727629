"""The "official images present" path, on the real engine (Docker Hub is out of reach here: the
official names are simulated by tests.sandbox.engine.official_names, and removed after)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from sandbox.deps import ServiceDeps
from sandbox.engine.doctor import check_image
from sandbox.engine.images import SPECS, Resolver, read_env_file
from sandbox.engine.labels import BASE_LABEL, labels_for
from tests.sandbox.engine.official_names import MARK, Namespace, official_fixture  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[3]


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
    for name in ("base", "mosquitto", "influxdb3"):  # `sandbox doctor` looks where resolution does
        check = check_image(docker_client, SPECS[name])
        assert check.status == "OK" and check.detail.startswith(f"{official.refs[name]} (official"), check
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
