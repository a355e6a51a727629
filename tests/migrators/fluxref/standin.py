"""The InfluxDB 3 stand-in (images/influxdb3-lite) as a local subprocess, reached through the real
influxdb3-python client: what the execution tests run translated SQL against."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
STANDIN = ROOT / "images" / "influxdb3-lite" / "influxdb3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def standin_client(database: str = "db") -> Iterator[Any]:
    """A started stand-in (in-memory, no auth) and an InfluxDBClient3 on ``database``."""
    from influxdb_client_3 import InfluxDBClient3

    assert STANDIN.exists(), f"the InfluxDB 3 stand-in {STANDIN} is missing"
    port = _free_port()
    serve = ["serve", "--node-id", "t", "--object-store", "memory", "--without-auth"]
    proc = subprocess.Popen(
        [sys.executable, str(STANDIN), *serve, "--http-bind", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        for out in proc.stdout:
            if "startup time" in out or time.monotonic() > deadline:
                break
        # Keep reading what the server logs: a full pipe would block its writes, then its shutdown.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        client = InfluxDBClient3(host=f"http://127.0.0.1:{port}", token="t", database=database)
        try:
            yield client
        finally:
            client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: the test's verdict is already in
            proc.kill()
            proc.wait(timeout=30)


def time_ns_of(value: Any) -> Any:
    """A ``time`` cell from ``to_pylist()`` (pandas Timestamp or datetime) as nanoseconds."""
    if value is None or isinstance(value, int):
        return value
    if hasattr(value, "value"):  # pandas Timestamp keeps nanoseconds
        return int(value.value)
    return int(value.timestamp()) * 10**9 + value.microsecond * 1000
