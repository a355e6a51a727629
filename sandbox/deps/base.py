"""Throwaway dependencies: a fresh Mosquitto and InfluxDB 3 per service, on a private network.

Built on testcontainers (one small class per dependency, readiness as a wait strategy). Every
container and the network carry the run's labels, so `sandbox clean` and the run's own cleanup
find them even after a crash. The network is `internal`: the service under test reaches its
dependencies by alias (`mosquitto`, `influxdb3`) and nothing else; the host reaches them through
their addresses on that network (a local Linux engine routes to its bridges).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import docker
import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from sandbox.engine import connect  # noqa: F401  (sets TESTCONTAINERS_RYUK_DISABLED before use)
from sandbox.images import ResolvedImage

MQTT_PORT = 1883
INFLUX_PORT = 8181
DEFAULT_TOKEN = "sandbox-token"
INFLUX_STARTUP = re.compile(rb"startup time: \d+ms")
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


def container_ip(container: DockerContainer, network: str) -> str:
    container.get_wrapped_container().reload()
    return container.get_wrapped_container().attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


async def mqtt_round_trip(host: str, port: int, timeout: float = 5.0) -> None:
    """Subscribe, publish and receive one message: proof that the broker carries traffic."""
    import aiomqtt

    topic = f"sandbox/ready/{uuid.uuid4().hex}"
    async with asyncio.timeout(timeout):
        async with aiomqtt.Client(host, port, identifier=f"ready-{uuid.uuid4().hex[:8]}") as client:
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"ping", qos=1)
            async for message in client.messages:
                if message.topic.matches(topic):
                    return


class MqttRoundTripWait(WaitStrategy):
    """Ready when an MQTT publish/subscribe round trip succeeds (a port check is not enough)."""

    def __init__(self, network: str) -> None:
        super().__init__()
        self._network = network

    def wait_until_ready(self, container) -> None:  # type: ignore[override]
        host = container_ip(container, self._network)
        deadline = time.monotonic() + self._startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                asyncio.run(mqtt_round_trip(host, MQTT_PORT))
                return
            except Exception as exc:  # broker not up yet: connection refused, timeout...
                last = exc
                time.sleep(self._poll_interval)
        raise TimeoutError(f"Mosquitto did not carry a round trip within {self._startup_timeout}s: {last}")


class InfluxReadyWait(WaitStrategy):
    """Ready when the log says `startup time: Nms` and GET /health answers (200, or 401 with auth).

    Both the real influxdb:3-core and the stand-in log that line once HTTP and Flight answer.
    """

    def __init__(self, network: str) -> None:
        super().__init__()
        self._network = network

    def wait_until_ready(self, container) -> None:  # type: ignore[override]
        deadline = time.monotonic() + self._startup_timeout
        url = ""
        while time.monotonic() < deadline:
            container.get_wrapped_container().reload()
            if container.get_wrapped_container().status == "exited":
                raise RuntimeError("InfluxDB 3 exited during start-up:\n" + _logs(container))
            if INFLUX_STARTUP.search(container.get_wrapped_container().logs()):
                url = f"http://{container_ip(container, self._network)}:{INFLUX_PORT}/health"
                try:
                    if requests.get(url, timeout=2).status_code in (200, 401):
                        return
                except requests.RequestException:
                    pass
            time.sleep(self._poll_interval)
        raise TimeoutError(f"InfluxDB 3 not ready within {self._startup_timeout}s ({url})")


def _logs(container: DockerContainer) -> str:
    return container.get_wrapped_container().logs().decode(errors="replace")


class MosquittoContainer(DockerContainer):
    """Mosquitto 2: official eclipse-mosquitto:2 (with its no-auth config) or the local build."""

    alias = "mosquitto"

    def __init__(self, image: ResolvedImage, network: Network, labels: dict[str, str]) -> None:
        command = "mosquitto -c /mosquitto-no-auth.conf" if image.source == "official" else None
        super().__init__(image.ref, command=command, labels=labels, mem_limit="256m")
        self.with_network(network).with_network_aliases(self.alias)
        self.waiting_for(MqttRoundTripWait(network.name).with_startup_timeout(60).with_poll_interval(0.2))


class InfluxDB3Container(DockerContainer):
    """InfluxDB 3 Core (official influxdb:3-core) or the influxdb3-lite stand-in; same flags."""

    alias = "influxdb3"

    def __init__(
        self, image: ResolvedImage, network: Network, labels: dict[str, str], args: list[str] | None = None
    ) -> None:
        super().__init__(image.ref, command=args or INFLUX_ARGS, labels=labels, mem_limit="1g")
        self.with_network(network).with_network_aliases(self.alias)
        self.waiting_for(InfluxReadyWait(network.name).with_startup_timeout(60).with_poll_interval(0.1))


@dataclass
class ServiceDeps:
    """A private network with the dependencies one service needs; a context manager.

    `container_env` is the contract environment for containers on the network (DESIGN.md);
    `host_env` the same settings reachable from the host, for host-side checks.
    """

    client: docker.DockerClient
    labels: dict[str, str]
    needs: tuple[str, ...] = ("influxdb3", "mosquitto")
    database: str = "sandbox"
    images: dict[str, ResolvedImage] = field(default_factory=dict)
    network: str = ""
    containers: dict[str, DockerContainer] = field(default_factory=dict)
    started_in: dict[str, float] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    def __enter__(self) -> ServiceDeps:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        if not self.images:
            from sandbox.images import Resolver

            resolver = Resolver(self.client)
            self.images = {name: resolver.resolve(name) for name in self.needs}
        net = Network(docker_network_kw={"labels": dict(self.labels), "internal": True})
        self._stack.enter_context(net)
        self.network = net.name
        classes = {"mosquitto": MosquittoContainer, "influxdb3": InfluxDB3Container}
        pending = {name: classes[name](self.images[name], net, dict(self.labels)) for name in self.needs}
        for container in pending.values():
            self._stack.callback(_stop_quietly, container)
        # Started side by side: each waits for its own readiness. A container a worker creates
        # after an interrupt is still caught by the run's label sweep (sandbox.cleanup).
        with ThreadPoolExecutor(max_workers=len(pending) or 1) as pool:
            futures = {name: pool.submit(_start_timed, container) for name, container in pending.items()}
            for name, future in futures.items():
                self.started_in[name] = future.result()
                self.containers[name] = pending[name]

    def ip(self, name: str) -> str:
        return container_ip(self.containers[name], self.network)

    def logs(self) -> dict[str, str]:
        """Each dependency's log, for the run folder when a stage fails."""
        return {name: _logs(container) for name, container in self.containers.items()}

    @property
    def container_env(self) -> dict[str, str]:
        return self._env(influx_host="influxdb3", mqtt_host="mosquitto")

    @property
    def host_env(self) -> dict[str, str]:
        influx = self.ip("influxdb3") if "influxdb3" in self.containers else "127.0.0.1"
        mqtt = self.ip("mosquitto") if "mosquitto" in self.containers else "127.0.0.1"
        return self._env(influx_host=influx, mqtt_host=mqtt)

    def _env(self, influx_host: str, mqtt_host: str) -> dict[str, str]:
        url = f"http://{influx_host}:{INFLUX_PORT}"
        return {
            "INFLUXDB_URL": url,
            "INFLUXDB_HOST": url,
            "INFLUXDB_TOKEN": DEFAULT_TOKEN,
            "INFLUXDB_ORG": "sandbox",
            "INFLUXDB_BUCKET": self.database,
            "INFLUXDB_DATABASE": self.database,
            "MQTT_HOST": mqtt_host,
            "MQTT_PORT": str(MQTT_PORT),
        }


def _start_timed(container: DockerContainer) -> float:
    begin = time.monotonic()
    container.start()
    return time.monotonic() - begin


def _stop_quietly(container: DockerContainer) -> None:
    try:
        container.stop()
    except Exception:  # already gone (killed by a signal handler's cleanup): nothing to do
        pass
