"""Writes yield the cores to queries (influxdb3_lite/priority.py): on the stand-in's server
in-process, the thread that stores an HTTP write runs at the lower priority, once lowered stays
there without another system call, and the Flight query threads keep the default priority."""

from __future__ import annotations

import os
import sys
import threading

import pyarrow.flight as fl
import pytest
import requests

from tests.standin.standin import import_standin

priority, server_module = import_standin("priority", "server")

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_thread_is_lowered_once_and_stays_lowered() -> None:
    def lowered_twice() -> tuple[int, int]:
        priority.serve_writes_behind_queries()
        first = _nice()
        priority.serve_writes_behind_queries()
        return first, _nice()

    seen: list[tuple[int, int]] = []
    thread = threading.Thread(target=lambda: seen.append(lowered_twice()))
    thread.start()
    thread.join(10)
    base = _nice()  # this thread was never lowered
    assert seen == [(base + priority.WRITE_NICE, base + priority.WRITE_NICE)]


@pytest.fixture()
def server():
    instance = server_module.Server(server_module.Options(host="127.0.0.1", port=0, without_auth=True))
    threading.Thread(target=instance.serve_forever, daemon=True).start()
    yield instance
    instance.shutdown()
    if instance._pump is not None:
        instance._pump.process.kill()


def test_writes_are_stored_behind_queries_and_queries_keep_the_default_priority(server) -> None:
    seen: dict[str, list[int]] = {"write": [], "query": []}
    store, execute = server.catalog.write, server.flight.executor.run

    def spying_write(*args, **kwargs):
        seen["write"].append(_nice())
        return store(*args, **kwargs)

    def spying_run(*args, **kwargs):
        seen["query"].append(_nice())
        return execute(*args, **kwargs)

    server.catalog.write, server.flight.executor.run = spying_write, spying_run
    port = server.address[1]
    answer = requests.post(
        f"http://127.0.0.1:{port}/api/v3/write_lp", params={"db": "w"}, data=b"m,t=a v=1 1", timeout=10
    )
    assert answer.status_code == 204, answer.text
    ticket = fl.Ticket(b'{"database": "w", "sql_query": "SELECT * FROM m", "query_type": "sql"}')
    table = fl.connect(f"grpc://127.0.0.1:{port}").do_get(ticket).read_all()
    assert table.num_rows == 1
    base = _nice()
    assert seen == {"write": [base + priority.WRITE_NICE], "query": [base]}
