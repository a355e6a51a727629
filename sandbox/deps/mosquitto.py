"""Mosquitto 2 as a throwaway dependency: official eclipse-mosquitto:2 or the local build.

Ready when an MQTT publish/subscribe round trip succeeds (a port check is not enough). Gives the
service MQTT_HOST/MQTT_PORT and owns the `mqtt-publish` smoke step.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from docker.errors import NotFound
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from sandbox.deps.base import Dependency, container_ip
from sandbox.engine.containers import TMPFS, dependency_limits
from sandbox.engine.images import ResolvedImage

MQTT_PORT = 1883
STATE_EVERY = 1.0  # seconds between looks at a starting broker's state (an engine call)


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
        next_look = time.monotonic() + STATE_EVERY
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                asyncio.run(mqtt_round_trip(host, MQTT_PORT))
                return
            except Exception as exc:  # broker not up yet: connection refused, timeout...
                last = exc
            # A broker that exited (or was removed by an interrupt's sweep) never comes up: stop now.
            # Asked of the engine every STATE_EVERY seconds, not every attempt (dockerd's CPU).
            if time.monotonic() >= next_look:
                self._check_alive(container, last)
                next_look = time.monotonic() + STATE_EVERY
            time.sleep(self._poll_interval)
        raise TimeoutError(f"Mosquitto did not carry a round trip within {self._startup_timeout}s: {last}")

    @staticmethod
    def _check_alive(container, last: Exception | None) -> None:
        try:
            container.get_wrapped_container().reload()
        except NotFound as exc:
            raise RuntimeError("Mosquitto container removed during start-up") from exc
        if container.get_wrapped_container().status in ("exited", "dead"):
            raise RuntimeError(f"Mosquitto exited during start-up: {last}")


def mqtt_wait(network: str) -> WaitStrategy:
    return MqttRoundTripWait(network).with_startup_timeout(60).with_poll_interval(0.2)


class MosquittoContainer(DockerContainer):
    """Mosquitto 2: official eclipse-mosquitto:2 (with its no-auth config) or the local build."""

    alias = "mosquitto"

    def __init__(self, image: ResolvedImage, network: Network, labels: dict[str, str]) -> None:
        official = image.source == "official"
        command = "mosquitto -c /mosquitto-no-auth.conf" if official else None
        # The official image starts as root and drops to uid 1883, which needs CAP_SETUID: start it
        # as 1883 instead, so every capability can go. The local build already runs as mosquitto.
        user = {"user": "1883:1883"} if official else {}
        super().__init__(image.ref, command=command, labels=labels, **user, **dependency_limits("256m"))
        self.tmpfs.update(TMPFS)
        self.with_network(network).with_network_aliases(self.alias)
        self.waiting_for(mqtt_wait(network.name))


def mqtt_env(host: str, database: str) -> dict[str, str]:
    return {"MQTT_HOST": host, "MQTT_PORT": str(MQTT_PORT)}


def mqtt_publish_smoke(options: dict[str, Any], base_url: str, host_env: Mapping[str, str]) -> str:
    """Publish to the service's topic; with `expect_topic`, wait for what the service sends back."""
    return asyncio.run(_mqtt_exchange(host_env["MQTT_HOST"], int(host_env["MQTT_PORT"]), options))


async def _mqtt_exchange(host: str, port: int, options: dict[str, Any]) -> str:
    import aiomqtt

    expect = options.get("expect_topic")
    payload = options.get("payload", "")
    payload = json.dumps(payload) if isinstance(payload, (dict, list)) else str(payload)
    async with aiomqtt.Client(host, port, identifier=f"smoke-{uuid.uuid4().hex[:8]}") as client:
        if expect:
            await client.subscribe(expect, qos=1)
        await client.publish(options["topic"], payload.encode(), qos=1)
        if not expect:
            return "passed"
        try:
            async with asyncio.timeout(float(options.get("timeout", 15))):
                async for message in client.messages:
                    if message.topic.matches(expect):
                        return "passed"
        except TimeoutError:
            return f"no message on {expect} within {options.get('timeout', 15)}s"
    return f"no message on {expect}"


MOSQUITTO = Dependency(
    name="mosquitto",
    image="mosquitto",
    container=MosquittoContainer,
    wait=mqtt_wait,
    env=mqtt_env,
    smoke={"mqtt-publish": mqtt_publish_smoke},
)
