"""compose.sandbox.yml from the README works on this machine: Debian's docker-compose (installed by
scripts/setup.sh) brings up Mosquitto and InfluxDB 3, both answer on their host ports, and `down`
removes them. The images are what `sandbox images build` resolved (.sandbox/images.env): the local
builds here, the official images where the engine holds them (simulated under a test namespace)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from sandbox.engine.images import read_env_file
from tests.sandbox.engine.official_names import Namespace, official_fixture  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except (OSError, requests.RequestException):
            pass
        time.sleep(1)
    return False


def _mqtt_connack(port: int) -> bool:
    # A bare MQTT 3.1.1 CONNECT (clean session, keep-alive 10 s, client id "t"); CONNACK code 0 = accepted.
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 1]) + b"t"
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(connect)
        return sock.recv(4) == bytes([0x20, 2, 0, 0])


def _images_env(repo: Path, *names: str) -> Path:
    """`sandbox images build NAMES` in `repo`: the resolution, recorded for compose."""
    (repo / "services").mkdir(exist_ok=True)
    env = {**os.environ, "SANDBOX_REPO": str(repo), "PYTHONPATH": str(ROOT)}
    built = subprocess.run(
        [sys.executable, "-m", "sandbox.cli", "images", "build", *names],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    return repo / ".sandbox" / "images.env"


def _up_answers_and_down_removes(env_file: Path) -> None:
    project = f"sandbox-compose-test-{uuid.uuid4().hex[:8]}"
    mqtt, influx = _free_port(), _free_port()
    env = {**os.environ, "SANDBOX_MQTT_PORT": str(mqtt), "SANDBOX_INFLUXDB_PORT": str(influx)}
    base = [*_compose(), "--env-file", str(env_file), "-p", project, "-f", str(ROOT / "compose.sandbox.yml")]
    try:
        up = subprocess.run(
            [*base, "up", "-d"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
        )
        assert up.returncode == 0, up.stderr
        assert _wait(lambda: requests.get(f"http://127.0.0.1:{influx}/health", timeout=2).ok)
        assert _wait(lambda: _mqtt_connack(mqtt))
        # The compose health checks (no python or curl needed in the images) pass too.
        assert _wait(lambda: _healthy(project) == 2, 120), _states(project)
    finally:
        down = subprocess.run(
            [*base, "down", "-v"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
        )
    assert down.returncode == 0, down.stderr
    assert _states(project) == ""


def _states(project: str) -> str:
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={project}",
            "--format",
            "{{.Status}}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return listed.stdout.strip()


def _healthy(project: str) -> int:
    return _states(project).count("(healthy)")


def _config_images(env_file: Path) -> list[str]:
    files = ["--env-file", str(env_file), "-f", str(ROOT / "compose.sandbox.yml")]
    config = subprocess.run(
        [*_compose(), *files, "config"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert config.returncode == 0, config.stderr
    return sorted(
        line.split("image:", 1)[1].strip() for line in config.stdout.splitlines() if "image:" in line
    )


@pytest.mark.docker
def test_compose_up_with_the_local_resolution(tmp_path: Path) -> None:
    env_file = _images_env(tmp_path, "mosquitto", "influxdb3")
    recorded = read_env_file(env_file)
    assert recorded["SANDBOX_MOSQUITTO_SOURCE"] == "local"
    assert _config_images(env_file) == sorted(
        [recorded["SANDBOX_INFLUXDB3_IMAGE"], recorded["SANDBOX_MOSQUITTO_IMAGE"]]
    )
    _up_answers_and_down_removes(env_file)


@pytest.mark.docker
def test_compose_follows_the_official_resolution(tmp_path: Path, official: Namespace) -> None:
    """Where the engine holds the official images, compose runs them, with the same command lines
    and health checks (the official Mosquitto's /mosquitto-no-auth.conf is in the local one too)."""
    env_file = _images_env(tmp_path, "mosquitto", "influxdb3")
    assert _config_images(env_file) == sorted([official.refs["influxdb3"], official.refs["mosquitto"]])
    _up_answers_and_down_removes(env_file)
