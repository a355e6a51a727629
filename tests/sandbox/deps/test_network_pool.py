"""A busy engine with every address pool taken is a wait, then a clear error; never a cryptic 404."""

from __future__ import annotations

import threading
import time

import docker
import pytest
from docker.errors import APIError, NotFound

from sandbox.deps.service import NetworkWaitCancelled, NoNetworkAddresses, create_network_waiting

# The engine's own words (moby libnetwork), as docker-py raises them for POST /networks/create.
FULL = "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"


class Engine:
    """Network creation that fails `full` times with the engine's pool answer, then succeeds."""

    def __init__(self, full: int) -> None:
        self.full, self.calls = full, 0

    def create(self) -> str:
        self.calls += 1
        if self.calls <= self.full:
            raise NotFound("404 Client Error", explanation=FULL)
        return "network"


def test_a_full_engine_is_waited_for(docker_client: docker.DockerClient) -> None:
    engine = Engine(full=2)
    assert create_network_waiting(engine.create, docker_client, seconds=30) == "network"
    assert engine.calls == 3


def test_a_full_engine_past_the_wait_says_what_is_full_and_what_to_do(
    docker_client: docker.DockerClient,
) -> None:
    engine = Engine(full=1000)
    with pytest.raises(NoNetworkAddresses) as raised:
        create_network_waiting(engine.create, docker_client, seconds=0)
    text = str(raised.value)
    assert "no free address pool" in text and "networks exist" in text and "default-address-pools" in text


def test_other_engine_errors_are_not_waited_for(docker_client: docker.DockerClient) -> None:
    def refuse() -> str:
        raise APIError("500 Server Error", explanation="driver failed")

    with pytest.raises(APIError, match="500"):
        create_network_waiting(refuse, docker_client, seconds=30)


def test_an_interrupt_ends_the_wait_at_once() -> None:
    """Ctrl-C while every pool is taken: the wait ends within a retry, not after its 90 s."""
    engine, cancelled = Engine(full=10**9), threading.Event()
    threading.Timer(0.3, cancelled.set).start()
    begin = time.monotonic()
    with pytest.raises(NetworkWaitCancelled):
        create_network_waiting(engine.create, None, seconds=90, cancelled=cancelled)
    assert time.monotonic() - begin < 1.0
    assert engine.calls >= 1


def test_an_interrupted_run_does_not_start_waiting() -> None:
    engine, cancelled = Engine(full=10**9), threading.Event()
    cancelled.set()
    with pytest.raises(NetworkWaitCancelled):
        create_network_waiting(engine.create, None, seconds=90, cancelled=cancelled)
    assert engine.calls == 1  # asked once (the engine may have had room), never again


class _FullNetwork:
    """testcontainers' Network on an engine whose every address pool is taken."""

    def __init__(self, docker_network_kw: dict) -> None:
        self.kw = docker_network_kw

    def create(self) -> None:
        raise NotFound("404 Client Error", explanation=FULL)


def test_a_service_deps_network_wait_ends_on_the_runs_interrupt(monkeypatch) -> None:
    """The run's cancel event reaches the wait through ServiceDeps (the stages pass ctx.cancelled)."""
    from sandbox.deps import service

    monkeypatch.setattr(service, "Network", _FullNetwork)
    cancelled = threading.Event()
    deps = service.ServiceDeps(client=None, labels={}, needs=(), known={}, cancelled=cancelled)
    threading.Timer(0.3, cancelled.set).start()
    begin = time.monotonic()
    with pytest.raises(NetworkWaitCancelled):
        deps._network({"internal": True})
    assert time.monotonic() - begin < 1.0
