"""The gRPC relay process (influxdb3_lite/pump.py): Flight connections on the shared port are
handed to a child process that relays them, and the server relays them itself when that child
is gone. Runs the stand-in's server in-process on a free port, with the real pyarrow Flight
client and HTTP writes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pyarrow.flight as fl
import pytest
import requests

from tests.standin.standin import import_standin

(server_module,) = import_standin("server")


@pytest.fixture()
def server() -> Iterator[object]:
    instance = server_module.Server(server_module.Options(host="127.0.0.1", port=0, without_auth=True))
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    if instance._pump is not None:
        instance._pump.process.kill()
        instance._pump.process.wait(10)


def _query(instance, sql: str) -> list[dict]:
    host, port = instance.address
    client = fl.FlightClient(f"grpc+tcp://{host}:{port}")
    ticket = fl.Ticket(json.dumps({"database": "db", "sql_query": sql, "query_type": "sql"}).encode())
    try:
        return client.do_get(ticket).read_all().to_pylist()
    finally:
        client.close()


def test_flight_goes_through_the_pump_process_and_survives_its_loss(server):
    host, port = server.address
    written = requests.post(
        f"http://{host}:{port}/api/v3/write_lp", params={"db": "db"}, data="m f=1 1", timeout=10
    )
    assert written.status_code == 204
    assert server._pump is not None and server._pump.process.poll() is None
    assert _query(server, "SELECT f FROM m") == [{"f": 1.0}]
    # Without the child the server relays the connection itself (the in-process pump).
    server._pump.process.kill()
    server._pump.process.wait(10)
    assert not server._pump.hand_over(socket.socket())
    assert _query(server, "SELECT count(*) AS n FROM m") == [{"n": 1}]


def test_the_pump_process_exits_with_the_server(server):
    """The child reads the end of its Unix socket as the server being gone."""
    process = server._pump.process
    server._pump.control.close()
    assert process.wait(10) == 0


def test_relay_moves_every_byte_and_passes_the_end_on() -> None:
    """relay() (splice(2) through a pipe where the platform has it) copies a stream larger
    than its pipe intact and half-closes the far side at the end, as a gRPC stream needs."""
    import os

    (pump,) = import_standin("pump")
    payload = os.urandom(5 * pump.PIPE_BYTES + 12345)
    near, relay_in = socket.socketpair()
    relay_out, far = socket.socketpair()
    worker = threading.Thread(target=pump.relay, args=(relay_in, relay_out), daemon=True)
    worker.start()
    sender = threading.Thread(target=lambda: (near.sendall(payload), near.shutdown(socket.SHUT_WR)))
    sender.start()
    far.settimeout(30)  # a relay that stops forwarding fails the test instead of hanging it
    received = bytearray()
    while chunk := far.recv(1 << 20):
        received += chunk
    sender.join(10)
    worker.join(10)
    assert bytes(received) == payload and not worker.is_alive()
    for sock in (near, relay_in, relay_out, far):
        sock.close()
