"""Connecting to the Docker engine, with an error that says what to do when none answers."""

from __future__ import annotations

import os
from dataclasses import dataclass

import docker
from docker.errors import DockerException

# testcontainers would try to pull its reaper (Ryuk) from Docker Hub; the sandbox removes what it
# creates itself (labels + cleanup on exit), so the reaper is off unless the user turned it on.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

SETUP_HINT = (
    "start a Docker engine: run ./scripts/setup.sh (as root on Debian it installs docker.io and "
    "starts dockerd), or point DOCKER_HOST at a running engine"
)


class EngineUnavailable(RuntimeError):
    """No Docker engine answers; the message carries the next step."""


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    storage_driver: str
    root_dir: str


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST or the default socket, checked with a ping."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise EngineUnavailable(f"no Docker engine answers at {where} ({exc}); {SETUP_HINT}") from exc
    return client


def engine_info(client: docker.DockerClient) -> EngineInfo:
    version = client.version()
    info = client.info()
    return EngineInfo(
        version=version.get("Version", "?"),
        api_version=version.get("ApiVersion", "?"),
        storage_driver=info.get("Driver", "?"),
        root_dir=info.get("DockerRootDir", "/"),
    )
