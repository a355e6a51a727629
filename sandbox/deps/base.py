"""What a throwaway dependency is, in the shape of testcontainers-python's modules.

A `Dependency` declares everything the sandbox needs to run it for one service: the logical image
it runs (resolved by `sandbox.engine.images`), the container class that starts it, the readiness
wait that proves it serves, the environment it gives the service (the env contract of DESIGN.md),
the smoke step kinds it owns, and how its log is collected when a stage fails. Adding one is a new
module with a `Dependency(...)` and one line in `sandbox.deps.registry.DEPENDENCIES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from sandbox.engine.containers import capped_logs
from sandbox.engine.images import ResolvedImage

# (resolved image, private network, labels) -> a container not yet started
ContainerFactory = Callable[[ResolvedImage, Network, dict[str, str]], DockerContainer]
# private network name -> the readiness proof the container's start() waits for
WaitFactory = Callable[[str], WaitStrategy]
# (host the service reaches it by, per-service database name) -> environment variables
EnvFactory = Callable[[str, str], dict[str, str]]
# (step options, service base URL, host-side environment) -> "passed" or what went wrong
SmokeRunner = Callable[[dict[str, Any], str, Mapping[str, str]], str]


def container_ip(container: DockerContainer, network: str) -> str:
    """The address of a testcontainers container on `network`, freshly loaded."""
    container.get_wrapped_container().reload()
    return container.get_wrapped_container().attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def container_logs(container: DockerContainer) -> str:
    """The dependency's log, head and tail only (sandbox.engine.containers.capped_logs)."""
    return capped_logs(container.get_wrapped_container()).text


@dataclass(frozen=True)
class Dependency:
    """One kind of throwaway dependency; `name` is its `needs` entry and its alias on the network."""

    name: str
    image: str
    container: ContainerFactory
    wait: WaitFactory
    env: EnvFactory
    smoke: Mapping[str, SmokeRunner] = field(default_factory=dict)
    logs: Callable[[DockerContainer], str] = container_logs

    def create_container(
        self, image: ResolvedImage, network: Network, labels: dict[str, str]
    ) -> DockerContainer:
        """The container on `network` under this dependency's alias, waiting for its readiness."""
        container = self.container(image, network, labels)
        container.with_network(network).with_network_aliases(self.name)
        return container.waiting_for(self.wait(network.name))


def http_smoke(options: dict[str, Any], base_url: str, host_env: Mapping[str, str]) -> str:
    """The generic smoke step: an HTTP request to the service itself."""
    url = base_url + options.get("path", "/")
    # A request that exercises retries against an unreachable peer may legitimately take a while.
    answer = requests.request(
        options.get("method", "GET"), url, json=options.get("json"), timeout=float(options.get("timeout", 10))
    )
    expected = options.get("expect_status")
    ok = answer.status_code == expected if expected else 200 <= answer.status_code < 300
    return "passed" if ok else f"HTTP {answer.status_code} {answer.text[:200]}"
