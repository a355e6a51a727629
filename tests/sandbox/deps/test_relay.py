"""The relay against real containers: the host reaches a server on a private network through it, bytes
arrive intact both ways (more than one read's worth), connections are served side by side, and the
end of one side ends the other (the host's read returns instead of hanging)."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest

from sandbox.deps.relay import relay_address, start_relay
from sandbox.engine import Resolver
from sandbox.engine.containers import LIMITS, NO_HEALTHCHECK, NOBODY, remove
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


@pytest.fixture
def relayed(docker_client):
    """(host, port) of a relay in front of an echo server on a private internal network."""
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    labels = labels_for(run_id, "relay")
    private = docker_client.networks.create(
        f"relaytest-p-{run_id}",
        labels=labels,
        internal=True,
        options={"com.docker.network.bridge.inhibit_ipv4": "true"},
    )
    access = docker_client.networks.create(f"relaytest-a-{run_id}", labels=labels, internal=True)
    base = Resolver(docker_client).resolve("base").ref
    upstream = docker_client.containers.create(
        base,
        ["python3", "-c", ECHO],
        network=private.name,
        labels=labels,
        user=NOBODY,
        **LIMITS,
        **NO_HEALTHCHECK,
        networking_config={private.name: docker_client.api.create_endpoint_config(aliases=["echo"])},
    )
    relay = None
    try:
        upstream.start()
        relay = start_relay(docker_client, base, "echo", PORT, private.name, access.name, labels)
        yield relay_address(relay, access.name), PORT
    finally:
        for container in (relay, upstream):
            if container is not None:
                remove(container)
        private.remove()
        access.remove()


def _connect(address: tuple[str, int], seconds: float = 30.0) -> socket.socket:
    """A connection that has been answered: the relay and the server start on their own time."""
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


def test_bytes_pass_both_ways_intact_on_connections_side_by_side(relayed) -> None:
    first = _connect(relayed)
    payloads = [uuid.uuid4().bytes * 40_000 for _ in range(4)]  # 640 kB each: many reads of 64 kB
    sockets = [first, *(_connect(relayed) for _ in payloads[1:])]
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


def test_the_server_closing_ends_the_hosts_connection(relayed) -> None:
    _connect(relayed).close()  # the relay and the server answer
    sock = socket.create_connection(relayed, timeout=10)
    sock.sendall(b"bye")
    assert sock.recv(10) == b""  # the server closed: the relay passed the end on (no hang)
    sock.close()
