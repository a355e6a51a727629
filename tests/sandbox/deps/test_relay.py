"""The run's relay against real containers: the host reaches a server on a private network through a
route, bytes arrive intact both ways (more than one read's worth), connections are served side by
side, and the end of one side ends the other (the host's read returns instead of hanging). One relay
serves two private networks at once, and a container on one of them reaches no route and no control
port of the relay (neither its own network's route nor the other's); once it left a network, that
network can be removed while the relay lives on."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from sandbox.deps.relay import CONTROL_PORT, RunRelay
from sandbox.engine import Resolver
from sandbox.engine.containers import LIMITS, NO_HEALTHCHECK, NOBODY, TEST_LIMITS, remove, wait_exit
from sandbox.engine.labels import labels_for

PORT = 8099
# Upstream: echoes what it reads; a connection that sends "bye" first is closed by the server.
ECHO = """
import socket, threading
def serve(conn):
    first = True
    while data := conn.recv(65536):
        if first and data.startswith(b"bye"):
            break
        first = False
        conn.sendall(data)
    conn.close()
server = socket.create_server(("0.0.0.0", PORT))
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
""".replace("PORT", str(PORT))
# From a container on a private network: which of the relay's ports on that network answer, after
# its own network's echo server did (the positive control: the probe's network works).
PROBE = """
import socket, sys
host, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False
if not reach("echo-0", PORT):
    print("the echo server on its own network did not answer")
    sys.exit(2)
answered = [port for port in ports if reach(host, port)]
print("answered", answered)
sys.exit(1 if answered else 0)
""".replace("PORT", str(PORT))


@dataclass
class Relayed:
    client: docker.DockerClient
    relay: RunRelay
    base: str
    labels: dict[str, str]
    private: list[str]  # two private networks, an echo server "echo-<i>" on each
    access: str


def _network(client: docker.DockerClient, name: str, labels: dict[str, str], private: bool):
    options = {"com.docker.network.bridge.inhibit_ipv4": "true"} if private else {}
    return client.networks.create(name, labels=labels, internal=True, options=options)


def _container(client, base: str, command: list[str], network: str, labels, aliases=(), limits=LIMITS):
    return client.containers.create(
        base,
        command,
        network=network,
        labels=labels,
        user=NOBODY,
        **{**limits, **NO_HEALTHCHECK},
        networking_config={network: client.api.create_endpoint_config(aliases=list(aliases))},
    )


@pytest.fixture
def relayed(docker_client) -> Iterator[Relayed]:
    """The run's relay joined to two private networks, each with an echo server."""
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    labels = labels_for(run_id, "relay")
    networks = [_network(docker_client, f"relaytest-p{i}-{run_id}", labels, True) for i in range(2)]
    access = _network(docker_client, f"relaytest-a-{run_id}", labels, False)
    base = Resolver(docker_client).resolve("base").ref
    upstreams = [
        _container(docker_client, base, ["python3", "-c", ECHO], net.name, labels, [f"echo-{i}"])
        for i, net in enumerate(networks)
    ]
    relay = RunRelay(lambda: base, labels)
    try:
        for container in upstreams:
            container.start()
        for net in networks:
            relay.join(docker_client, access.name, net.name, threading.Event())
        yield Relayed(docker_client, relay, base, labels, [net.name for net in networks], access.name)
    finally:
        relay.close()
        for container in upstreams:
            remove(container)
        for net in (*networks, access):
            net.remove()


def _connect(address: tuple[str, int], seconds: float = 30.0) -> socket.socket:
    """A connection that has been answered: the server starts on its own time."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            sock = socket.create_connection(address, timeout=5)
            sock.sendall(b"ping")
            if sock.recv(4) == b"ping":
                return sock
            sock.close()
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _echo(sock: socket.socket, payload: bytes) -> bytes:
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    got = bytearray()
    while len(got) < len(payload):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        got += chunk
    sender.join()
    return bytes(got)


def test_bytes_pass_both_ways_intact_on_connections_side_by_side(relayed: Relayed) -> None:
    route = relayed.relay.route("echo-0", PORT)
    try:
        address = (route.host, route.port)
        payloads = [uuid.uuid4().bytes * 40_000 for _ in range(4)]  # 640 kB each: many reads of 64 kB
        sockets = [_connect(address) for _ in payloads]
        answers: list[bytes] = [b""] * len(payloads)

        def one(index: int) -> None:
            answers[index] = _echo(sockets[index], payloads[index])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(payloads))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for sock in sockets:
            sock.close()
        assert answers == payloads
    finally:
        route.close()


def test_the_server_closing_ends_the_hosts_connection(relayed: Relayed) -> None:
    route = relayed.relay.route("echo-1", PORT)
    try:
        _connect((route.host, route.port)).close()  # the server answers
        sock = socket.create_connection((route.host, route.port), timeout=10)
        sock.sendall(b"bye")
        assert sock.recv(10) == b""  # the server closed: the relay passed the end on (no hang)
        sock.close()
    finally:
        route.close()


def test_a_closed_route_stops_listening(relayed: Relayed) -> None:
    route = relayed.relay.route("echo-0", PORT)
    _connect((route.host, route.port)).close()
    route.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((route.host, route.port), timeout=2).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.1)
    pytest.fail("the route still listens after its control connection closed")


def test_a_container_on_a_private_network_reaches_no_port_of_the_relay(relayed: Relayed) -> None:
    """Both networks' routes open: from network 0, the relay's address there answers on no route
    port and not on its control port (what the relay listens on is on the access network only)."""
    routes = [relayed.relay.route(f"echo-{i}", PORT) for i in range(2)]
    client, relay_id = relayed.client, relayed.relay._container.id
    try:
        for route in routes:
            _connect((route.host, route.port)).close()  # both work from the host
        inspected = client.api.inspect_container(relay_id)["NetworkSettings"]["Networks"]
        on_private = inspected[relayed.private[0]]["IPAddress"]
        ports = [CONTROL_PORT, *(route.port for route in routes)]
        command = ["python3", "-c", PROBE, on_private, *map(str, ports)]
        probe = _container(
            client, relayed.base, command, relayed.private[0], relayed.labels, limits=TEST_LIMITS
        )
        try:
            probe.start()
            code = wait_exit(probe, 60)
            output = probe.logs().decode(errors="replace")
        finally:
            remove(probe)
        assert code == 0, output
        assert "answered []" in output
    finally:
        for route in routes:
            route.close()


def test_a_network_the_relay_left_can_be_removed(relayed: Relayed) -> None:
    run_id = relayed.labels["sandbox.run"]
    extra = _network(relayed.client, f"relaytest-x-{run_id}", relayed.labels, True)
    relayed.relay.join(relayed.client, relayed.access, extra.name, threading.Event())
    relayed.relay.leave(relayed.client, extra.name)
    extra.remove()  # raises while an endpoint is left on it
    route = relayed.relay.route("echo-0", PORT)  # the relay lives on for the other networks
    try:
        _connect((route.host, route.port)).close()
    finally:
        route.close()
