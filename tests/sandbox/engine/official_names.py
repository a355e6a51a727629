"""Official names present in the engine, simulated: local images tagged with the official names
under a namespace unique to the test (SANDBOX_OFFICIAL_PREFIX), removed after it.

The engine is shared with other runs and other engineers' tests at the same moment: the literal
names (`python:3.11-slim`, `eclipse-mosquitto:2`, `influxdb:3-core`) would switch every one of them
to the official path in mid-run, so they are never tagged. The stand-in for python:3.11-slim is the
local base plus one LABEL: another image id, so what is built FROM it is told apart by that label.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import ImageNotFound, NotFound

from sandbox.engine.images import SPECS, ensure_local

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


@pytest.fixture(name="official")
def official_fixture(
    docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Namespace]:
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
