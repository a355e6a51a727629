"""compose.sandbox.yml from the README works on this machine: Debian's docker-compose (installed by
scripts/setup.sh) brings up Mosquitto and the InfluxDB 3 stand-in, both answer on their host ports,
and `down` removes them. The official-images override resolves to the official names."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

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


@pytest.mark.docker
def test_compose_up_answers_on_both_ports_and_down_removes_it() -> None:
    project = f"sandbox-compose-test-{uuid.uuid4().hex[:8]}"
    mqtt, influx = _free_port(), _free_port()
    env = {**os.environ, "SANDBOX_MQTT_PORT": str(mqtt), "SANDBOX_INFLUXDB_PORT": str(influx)}
    base = [*_compose(), "-p", project, "-f", str(ROOT / "compose.sandbox.yml")]
    try:
        up = subprocess.run(
            [*base, "up", "-d"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
        )
        assert up.returncode == 0, up.stderr
        assert _wait(lambda: requests.get(f"http://127.0.0.1:{influx}/health", timeout=2).ok)
        assert _wait(lambda: _mqtt_connack(mqtt))
    finally:
        down = subprocess.run(
            [*base, "down", "-v"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
        )
    assert down.returncode == 0, down.stderr
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert left.stdout.strip() == ""


def test_official_override_uses_the_official_images() -> None:
    files = ["-f", str(ROOT / "compose.sandbox.yml"), "-f", str(ROOT / "compose.sandbox.official.yml")]
    config = subprocess.run(
        [*_compose(), *files, "config"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert config.returncode == 0, config.stderr
    assert "image: eclipse-mosquitto:2" in config.stdout and "image: influxdb:3-core" in config.stdout
    assert "/mosquitto-no-auth.conf" in config.stdout
