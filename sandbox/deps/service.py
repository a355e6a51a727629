"""ServiceDeps: the dependencies one service needs, fresh, on a private network; a context manager.

Every container and the network carry the run's labels, so `sandbox clean` and the run's own
cleanup find them even after a crash. The network is `internal`: the service under test reaches its
dependencies by alias (their `needs` name) and nothing else; the host reaches them through their
addresses on that network (a local Linux engine routes to its bridges).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from sandbox.deps.base import Dependency, container_ip
from sandbox.deps.registry import DEFAULT_NEEDS, dependencies
from sandbox.engine.images import ResolvedImage, Resolver

# Where a dependency the service does not need "is" for host-side checks: nothing answers there.
ABSENT_HOST = "127.0.0.1"


@dataclass
class ServiceDeps:
    """A private network with the dependencies one service needs.

    `container_env` is the contract environment for containers on the network (DESIGN.md): every
    known dependency's variables, so a service reads the same settings whatever it needs;
    `host_env` the same settings reachable from the host, for host-side checks.
    """

    client: docker.DockerClient
    labels: dict[str, str]
    needs: tuple[str, ...] = DEFAULT_NEEDS
    database: str = "sandbox"
    images: dict[str, ResolvedImage] = field(default_factory=dict)  # by dependency name
    network: str = ""
    containers: dict[str, DockerContainer] = field(default_factory=dict)
    started_in: dict[str, float] = field(default_factory=dict)
    known: dict[str, Dependency] = field(default_factory=dependencies)
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
        unknown = [name for name in self.needs if name not in self.known]
        if unknown:
            raise ValueError(f"unknown dependency {', '.join(unknown)}; known: {', '.join(self.known)}")
        if not self.images:
            resolver = Resolver(self.client)
            self.images = {name: resolver.resolve(self.known[name].image) for name in self.needs}
        net = Network(docker_network_kw={"labels": dict(self.labels), "internal": True})
        self._stack.enter_context(net)
        self.network = net.name
        pending = {
            name: self.known[name].create_container(self.images[name], net, dict(self.labels))
            for name in self.needs
        }
        for container in pending.values():
            self._stack.callback(_stop_quietly, container)
        # Started side by side: each waits for its own readiness. A container a worker creates
        # after an interrupt is still caught by the run's label sweep (sandbox.engine.cleanup).
        with ThreadPoolExecutor(max_workers=len(pending) or 1) as pool:
            futures = {name: pool.submit(_start_timed, container) for name, container in pending.items()}
            for name, future in futures.items():
                self.started_in[name] = future.result()
                self.containers[name] = pending[name]

    def ip(self, name: str) -> str:
        return container_ip(self.containers[name], self.network)

    def logs(self) -> dict[str, str]:
        """Each dependency's log, for the run folder when a stage fails."""
        return {name: self.known[name].logs(container) for name, container in self.containers.items()}

    @property
    def container_env(self) -> dict[str, str]:
        return self._env({name: name for name in self.known})

    @property
    def host_env(self) -> dict[str, str]:
        hosts = {name: self.ip(name) if name in self.containers else ABSENT_HOST for name in self.known}
        return self._env(hosts)

    def _env(self, hosts: dict[str, str]) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, dependency in self.known.items():
            env.update(dependency.env(hosts[name], self.database))
        return env


def _start_timed(container: DockerContainer) -> float:
    begin = time.monotonic()
    container.start()
    return time.monotonic() - begin


def _stop_quietly(container: DockerContainer) -> None:
    try:
        container.stop()
    except Exception:  # already gone (killed by a signal handler's cleanup): nothing to do
        pass
