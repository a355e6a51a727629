"""The readiness waits against real containers: they ask the engine for a starting dependency's state
only now and then (sandbox.deps.influxdb3.STATE_EVERY), yet a dependency that exits during start-up
still fails its start within seconds, with its log, not at the 60 s start-up timeout."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from testcontainers.core.network import Network

from sandbox.deps.influxdb3 import STATE_EVERY, InfluxDB3Container, _accepts
from sandbox.engine import Resolver
from sandbox.engine.labels import labels_for


@pytest.fixture
def network(docker_client):
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    net = Network(docker_network_kw={"labels": labels_for(run_id, "deps"), "internal": True}).create()
    yield net, run_id
    net.remove()


def test_an_influxdb_that_exits_during_start_up_fails_at_once_with_its_log(docker_client, network) -> None:
    net, run_id = network
    image = Resolver(docker_client).resolve("influxdb3")
    # The image's entrypoint runs any other command as given: this one prints and exits.
    container = InfluxDB3Container(
        image, net, labels_for(run_id, "deps"), args=["sh", "-c", "echo cannot-start >&2; exit 3"]
    )
    begin = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="exited during start-up") as failure:
            container.start()
    finally:
        container.get_wrapped_container().remove(force=True)
    assert time.monotonic() - begin < 10 + 2 * STATE_EVERY  # not the 60 s start-up timeout
    assert "cannot-start" in str(failure.value)


def test_the_port_check_before_each_health_request_tells_open_from_closed() -> None:
    """The wait asks /health only once the port accepts: a refused connection costs ~0.05 ms of the
    sandbox's CPU, a refused HTTP request ~1 ms, ten times a second while InfluxDB starts."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    assert _accepts(f"http://127.0.0.1:{port}/health")
    listener.close()
    assert not _accepts(f"http://127.0.0.1:{port}/health")
