"""A busy engine with every address pool taken is a wait, then a clear error; never a cryptic 404."""

from __future__ import annotations

import docker
import pytest
from docker.errors import APIError, NotFound

from sandbox.deps.service import NoNetworkAddresses, create_network_waiting

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
