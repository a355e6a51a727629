"""A run's one access network on a real engine: its dependency sets share it (each keeps a private
network of its own), it is made once however many sets ask at the same moment, it outlives the sets
and goes when the run closes it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from sandbox.deps.mosquitto import mqtt_round_trip
from sandbox.deps.service import NO_NETWORK, ServiceDeps, SharedAccess
from sandbox.engine.labels import labels_for


@pytest.fixture
def shared(docker_client: docker.DockerClient):
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    access = SharedAccess(labels_for(run_id, "deps"))
    yield access, run_id
    access.close()
    for network in docker_client.networks.list(filters={"label": f"sandbox.run={run_id}"}):
        network.remove()  # a failed test's leftovers


def _networks(client: docker.DockerClient, run_id: str) -> set[str]:
    return {network.name for network in client.networks.list(filters={"label": f"sandbox.run={run_id}"})}


def test_sets_share_the_access_network_and_keep_their_private_ones(docker_client, shared) -> None:
    access, run_id = shared
    sets = [
        ServiceDeps(
            docker_client, labels_for(run_id, "deps", name), needs=("mosquitto",), shared_access=access
        )
        for name in ("one", "two")
    ]
    with sets[0], sets[1]:
        assert sets[0].access_network == sets[1].access_network
        assert sets[0].network != sets[1].network
        for deps in sets:  # each broker answers the host on the shared network
            asyncio.run(mqtt_round_trip(deps.ip("mosquitto"), 1883))
        # the brokers are on their own private network each, under the alias the service uses
        for deps, other in ((sets[0], sets[1]), (sets[1], sets[0])):
            wrapped = deps.containers["mosquitto"].get_wrapped_container()
            wrapped.reload()
            networks = set(wrapped.attrs["NetworkSettings"]["Networks"])
            assert networks == {deps.network, deps.access_network}
            assert other.network not in networks
    # the sets are gone with their private networks; the access network waits for the run's close
    assert _networks(docker_client, run_id) == {sets[0].access_network}
    access.close()
    assert _networks(docker_client, run_id) == set()


def test_the_access_network_is_made_once_for_sets_asking_at_once(docker_client, shared) -> None:
    access, run_id = shared
    cancelled = threading.Event()
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda _: access.get(docker_client, cancelled).id, range(4)))
    assert len(set(made)) == 1
    assert len(_networks(docker_client, run_id)) == 1
    access.close()
    access.close()  # a second close removes nothing twice
    assert _networks(docker_client, run_id) == set()


def test_a_set_without_dependencies_or_relay_has_no_network(docker_client, shared) -> None:
    """The tests of a service without needs run with no network at all: nothing is made for them."""
    access, run_id = shared
    with ServiceDeps(
        docker_client, labels_for(run_id, "deps", "alone"), needs=(), shared_access=access
    ) as deps:
        assert deps.network == NO_NETWORK
        assert _networks(docker_client, run_id) == set()
