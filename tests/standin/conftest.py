"""Servers for the conformance tests: the resolved `influxdb3` image in a container, or a real
InfluxDB 3 Core given by environment variables (then the module doubles as a fidelity check):

- INFLUXDB3_CONFORMANCE_URL: a server started with `--without-auth`;
- INFLUXDB3_CONFORMANCE_AUTH_URL: a server with auth on whose admin token was not yet created.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from testcontainers.core.network import Network

from sandbox.deps import container_ip
from sandbox.deps.influxdb3 import INFLUX_ARGS, INFLUX_PORT, InfluxDB3Container
from sandbox.engine import Resolver, labels_for


@dataclass
class Influx:
    url: str
    auth: bool

    def database(self) -> str:
        return f"conf_{uuid.uuid4().hex[:10]}"


def _start(docker_client, request, args: list[str]) -> str:
    image = Resolver(docker_client).resolve("influxdb3")
    labels = labels_for(f"test-{uuid.uuid4().hex[:8]}", "deps")
    network = Network(docker_network_kw={"labels": labels})
    network.create()
    request.addfinalizer(network.remove)
    container = InfluxDB3Container(image, network, labels, args=args)
    container.start()
    request.addfinalizer(container.stop)
    return f"http://{container_ip(container, network.name)}:{INFLUX_PORT}"


@pytest.fixture(scope="session")
def influx(docker_client, request) -> Influx:
    url = os.environ.get("INFLUXDB3_CONFORMANCE_URL") or _start(docker_client, request, INFLUX_ARGS)
    return Influx(url, auth=False)


@pytest.fixture(scope="session")
def influx_auth(docker_client, request) -> Influx:
    args = [a for a in INFLUX_ARGS if a != "--without-auth"]
    url = os.environ.get("INFLUXDB3_CONFORMANCE_AUTH_URL") or _start(docker_client, request, args)
    return Influx(url, auth=True)
