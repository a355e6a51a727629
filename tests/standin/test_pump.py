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
