"""InfluxDB 3 Core as a throwaway dependency: official influxdb:3-core or the influxdb3-lite stand-in.

Ready when the log says `startup time: Nms` and GET /health answers. Gives the service the
INFLUXDB_* variables and owns the `influx-query` smoke step.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from sandbox.deps.base import Dependency, container_logs
from sandbox.engine.containers import TMPFS, dependency_limits
from sandbox.engine.images import ResolvedImage

INFLUX_PORT = 8181
DEFAULT_TOKEN = "sandbox-token"
INFLUX_STARTUP = re.compile(rb"startup time: \d+ms")
STATE_EVERY = 1.0  # seconds between looks at a starting container's state (an engine call)
# The real server's throwaway flags (specs/influxdb3-mosquitto.md § 1.1); the stand-in accepts them.
INFLUX_ARGS = [
    "influxdb3",
    "serve",
    "--node-id",
    "sandbox",
    "--object-store",
    "memory",
    "--without-auth",
    "--wal-flush-interval",
    "10ms",
    "--disable-telemetry-upload",
    "--http-bind",
    f"0.0.0.0:{INFLUX_PORT}",
]


class InfluxReadyWait(WaitStrategy):
    """Ready when the log says `startup time: Nms` and GET /health answers (200, or 401 with auth).

    Both the real influxdb:3-core and the stand-in log that line once HTTP and Flight answer. The
    HTTP poll goes straight to the container; the engine is asked (its state, its log) only every
    STATE_EVERY seconds and once /health answers: in a fleet, two engine calls every 0.1 s per
    starting InfluxDB were CPU in dockerd taken from the services' stages.
    """

    def __init__(self, network: str) -> None:
        super().__init__()
        self._network = network

    def wait_until_ready(self, container) -> None:  # type: ignore[override]
        wrapped = container.get_wrapped_container()
        deadline = time.monotonic() + self._startup_timeout
        url, next_look = "", 0.0
        while time.monotonic() < deadline:
            if not url or time.monotonic() >= next_look:
                url = self._look(container, wrapped)
                next_look = time.monotonic() + STATE_EVERY
            # A closed port is refused in ~0.05 ms of CPU; a refused HTTP GET costs ~1 ms in the
            # sandbox (a requests session each time), 10 times a second for a start-up's seconds.
            if url and _accepts(url) and _health_answers(url) and INFLUX_STARTUP.search(wrapped.logs()):
                return
            time.sleep(self._poll_interval)
        raise TimeoutError(f"InfluxDB 3 not ready within {self._startup_timeout}s ({url})")

    def _look(self, container, wrapped) -> str:
        """The container's state from the engine: raise once it exited; its /health URL ("" while
        it has no address on the network yet)."""
        wrapped.reload()
        if wrapped.status == "exited":
            raise RuntimeError("InfluxDB 3 exited during start-up:\n" + container_logs(container))
        network = wrapped.attrs["NetworkSettings"]["Networks"].get(self._network) or {}
        address = network.get("IPAddress")
        return f"http://{address}:{INFLUX_PORT}/health" if address else ""


def _accepts(url: str) -> bool:
    """Whether the server at `url` accepts a TCP connection (its port is open)."""
    where = urlsplit(url)
    try:
        socket.create_connection((where.hostname, where.port), timeout=2).close()
    except OSError:
        return False
    return True


def _health_answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 401)
    except requests.RequestException:
        return False


def influx_wait(network: str) -> WaitStrategy:
    return InfluxReadyWait(network).with_startup_timeout(60).with_poll_interval(0.1)


class InfluxDB3Container(DockerContainer):
    """InfluxDB 3 Core (official influxdb:3-core) or the influxdb3-lite stand-in; same flags."""

    alias = "influxdb3"

    def __init__(
        self, image: ResolvedImage, network: Network, labels: dict[str, str], args: list[str] | None = None
    ) -> None:
        super().__init__(image.ref, command=args or INFLUX_ARGS, labels=labels, **dependency_limits("1g"))
        self.tmpfs.update(TMPFS)
        self.with_network(network).with_network_aliases(self.alias)
        self.waiting_for(influx_wait(network.name))


def influx_env(host: str, database: str) -> dict[str, str]:
    url = f"http://{host}:{INFLUX_PORT}"
    return {
        "INFLUXDB_URL": url,
        "INFLUXDB_HOST": url,
        "INFLUXDB_TOKEN": DEFAULT_TOKEN,
        "INFLUXDB_ORG": "sandbox",
        "INFLUXDB_BUCKET": database,
        "INFLUXDB_DATABASE": database,
    }


def influx_query_smoke(options: dict[str, Any], base_url: str, host_env: Mapping[str, str]) -> str:
    """Poll an SQL query until it returns `expect_min_rows` rows: the service really wrote."""
    from influxdb_client_3 import InfluxDBClient3

    deadline = time.monotonic() + float(options.get("timeout", 15))
    wanted = int(options.get("expect_min_rows", 1))
    rows, last_error = 0, ""
    with InfluxDBClient3(
        host=host_env["INFLUXDB_URL"],
        token=host_env["INFLUXDB_TOKEN"],
        database=host_env["INFLUXDB_DATABASE"],
    ) as client:
        while time.monotonic() < deadline:
            try:
                rows = client.query(options["sql"], language="sql").num_rows
                last_error = ""
            except Exception as exc:  # table not created yet: keep polling until the deadline
                last_error = str(exc).splitlines()[0][:200]
            if rows >= wanted:
                return "passed"
            time.sleep(0.5)
    return f"{rows} row(s) for {options['sql']!r}, wanted >= {wanted}" + (
        f" ({last_error})" if last_error else ""
    )


INFLUXDB3 = Dependency(
    name="influxdb3",
    image="influxdb3",
    container=InfluxDB3Container,
    wait=influx_wait,
    env=influx_env,
    smoke={"influx-query": influx_query_smoke},
)
