"""ServiceDeps: the dependencies one service needs, fresh, on a private network; a context manager.

Every container and network carry the run's labels, so `sandbox clean` and the run's own cleanup
find them even after a crash. Two networks per ServiceDeps:

- the private network: `internal` and without any address of the host on its bridge
  (inhibit_ipv4), so a container on it has no route to the host, the default bridge or another
  run. The service and its tests sit on it alone and reach their dependencies by alias (their
  `needs` name) and nothing else.
- the access network (`internal`, so nothing on it reaches outside the engine): the host reaches
  the dependencies on it for readiness waits and smoke steps. The service is never on it; the host
  reaches the service through the run's relay (sandbox.deps.relay), which joins the private network
  of a set that asks for it (the health check's) while the set lives. A run creates one access
  network for all its dependency sets (SharedAccess): only dependencies and the relay are on it,
  never a service or its tests, so a service still reaches nothing but its own dependencies (by
  their private network), and each network creation and removal it saves was ~0.06 s of the
  engine's CPU (iptables rules).

A set without dependencies that no relay joins (the tests of a service without needs) has no
network at all (NO_NETWORK).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from sandbox.deps.base import Dependency, container_ip
from sandbox.deps.registry import DEFAULT_NEEDS, dependencies
from sandbox.deps.relay import RunRelay
from sandbox.engine.cleanup import is_kept
from sandbox.engine.images import ResolvedImage, Resolver

# Where a dependency the service does not need "is" for host-side checks: nothing answers there.
ABSENT_HOST = "127.0.0.1"
# The `network` of a set without dependencies that no relay joins: the engine's network mode of a
# container without any network (loopback only).
NO_NETWORK = "none"
# The bridge driver option that leaves the host without an address on the network's bridge.
INHIBIT_HOST_ADDRESS = "com.docker.network.bridge.inhibit_ipv4"


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
    # the private network: the service, its tests and the dependencies' aliases (NO_NETWORK: none)
    network: str = ""
    access_network: str = ""  # where the host reaches the dependencies and the relays
    containers: dict[str, DockerContainer] = field(default_factory=dict)
    started_in: dict[str, float] = field(default_factory=dict)
    known: dict[str, Dependency] = field(default_factory=dependencies)
    # the run's cancel event: a wait for a free address pool ends on it (Ctrl-C), not 90 s later
    cancelled: threading.Event = field(default_factory=threading.Event)
    # the run's one access network (created by the first set that asks); None: one of its own
    shared_access: SharedAccess | None = None
    # the run's relay, on the private network while the set lives (the health check reaches its
    # service through it); None: the stage needs no way from the host to the service
    relay: RunRelay | None = None
    _relay_joined: bool = False
    # what __exit__ removes: every container created (started or not) and both networks
    _owned_containers: list[DockerContainer] = field(default_factory=list)
    _owned_networks: list[Network] = field(default_factory=list)

    def __enter__(self) -> ServiceDeps:
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._teardown()

    def _teardown(self) -> None:
        """The containers at once, then the networks at once (a network goes only once empty): on a
        loaded engine each removal takes a second or more, and a stage's end waits for them."""
        containers, self._owned_containers = self._owned_containers, []
        networks, self._owned_networks = self._owned_networks, []
        leaving = [self._leave_relay] if self._relay_joined else []
        self._relay_joined = False
        _each_at_once(_call, [*(partial(_stop_quietly, c) for c in containers), *leaving])
        _each_at_once(_remove_network_quietly, networks)

    def _leave_relay(self) -> None:
        """The relay off the private network: a network with an endpoint left cannot be removed."""
        try:
            self.relay.leave(self.client, self.network)
        except Exception:  # the engine hiccuped: the run's end removes the relay, then the network
            pass

    def _start(self) -> None:
        unknown = [name for name in self.needs if name not in self.known]
        if unknown:
            raise ValueError(f"unknown dependency {', '.join(unknown)}; known: {', '.join(self.known)}")
        if not self.images:
            resolver = Resolver(self.client)
            self.images = {name: resolver.resolve(self.known[name].image) for name in self.needs}
        if not self.needs and self.relay is None:
            # Nothing to reach and no one to reach it (the tests of a service without needs): no
            # network at all, which isolates more and spares the engine a network's creation and
            # removal, an endpoint and the embedded DNS's setup (~0.3 s of its CPU per set).
            self.network = NO_NETWORK
            return
        private, access = self._networks()
        self.network, self.access_network = private.name, access.name
        # Each dependency starts on the access network (its readiness wait runs from the host) and
        # joins the private network under its alias once it is ready.
        pending = {
            name: self.known[name].create_container(self.images[name], access, dict(self.labels))
            for name in self.needs
        }
        self._owned_containers.extend(pending.values())
        # Started side by side: each waits for its own readiness. A container a worker creates
        # after an interrupt is still caught by the run's label sweep (sandbox.engine.cleanup).
        # The relay joins the private network meanwhile (the run's first join starts it).
        with ThreadPoolExecutor(max_workers=len(pending) + 1) as pool:
            joined = pool.submit(self._join_relay, access.name, private.name) if self.relay else None
            futures = {name: pool.submit(_start_timed, container) for name, container in pending.items()}
            for name, future in futures.items():
                self.started_in[name] = future.result()
                self.containers[name] = pending[name]
            if joined is not None:
                joined.result()
        for name, container in self.containers.items():
            private.connect(container.get_wrapped_container().id, [name])

    def _join_relay(self, access: str, private: str) -> None:
        self._relay_joined = True  # set first: a join the engine made before an error is left too
        self.relay.join(self.client, access, private, self.cancelled)

    def _networks(self) -> tuple[Network, Network]:
        """(private, access), made at once: each creation waits for the engine's network lock and its
        iptables rules (0.2-1 s on a loaded engine), and neither needs the other."""
        private = {"internal": True, "options": {INHIBIT_HOST_ADDRESS: "true"}}
        shared = self.shared_access
        with ThreadPoolExecutor(max_workers=2) as pool:
            made = pool.submit(self._network, private)
            access = (
                pool.submit(shared.get, self.client, self.cancelled)
                if shared is not None
                else pool.submit(self._network, {"internal": True})
            )
            return made.result(), access.result()

    def _network(self, options: dict) -> Network:
        net = create_labelled_network(self.client, self.labels, options, self.cancelled)
        self._owned_networks.append(net)
        return net

    def ip(self, name: str) -> str:
        """The dependency's address from the host (on the access network)."""
        return container_ip(self.containers[name], self.access_network)

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


@dataclass
class SharedAccess:
    """A run's one access network, created when a dependency set first asks for it and removed by the
    run once every set is gone (close); labelled with the run, so an interrupted run's sweep takes it."""

    labels: dict[str, str]
    _network: Network | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, client: docker.DockerClient, cancelled: threading.Event) -> Network:
        """The network, created now when no set made it yet (a failed creation is tried again by the
        next set that asks)."""
        with self._lock:
            if self._network is None:
                self._network = create_labelled_network(client, self.labels, {"internal": True}, cancelled)
            return self._network

    def close(self) -> None:
        with self._lock:
            network, self._network = self._network, None
        if network is not None:
            _remove_network_quietly(network)


POOL_EXHAUSTED = "non-overlapping ipv4 address pool"  # the engine's answer when no subnet is free
POOL_WAIT_SECONDS = 90.0


POOL_RETRY_SECONDS = 1.0


def create_labelled_network(
    client: docker.DockerClient, labels: dict[str, str], options: dict, cancelled: threading.Event
) -> Network:
    """A network carrying the run's labels (so an interrupted run's sweep finds it), waiting for a
    free address pool (create_network_waiting)."""
    kw = {"labels": dict(labels), **options}
    return create_network_waiting(lambda: Network(docker_network_kw=kw).create(), client, cancelled=cancelled)


class NoNetworkAddresses(RuntimeError):
    """The engine had no free address pool for another network for as long as a stage waits."""


class NetworkWaitCancelled(RuntimeError):
    """The run was interrupted while it waited for a free address pool."""


def create_network_waiting(
    create: Callable[[], Network],
    client: docker.DockerClient,
    seconds: float = POOL_WAIT_SECONDS,
    cancelled: threading.Event | None = None,
) -> Network:
    """`create()`, waiting while the engine's address pools are all taken: other runs' stages give
    theirs back within seconds, so a busy engine is a wait, not a failed service. Past `seconds`, an
    error that says what is full and what to do. The wait ends as soon as `cancelled` is set: an
    interrupted run must not sit out the 90 s before its cleanup."""
    cancelled = cancelled or threading.Event()
    deadline = time.monotonic() + seconds
    while True:
        try:
            return create()
        except docker.errors.APIError as exc:
            if POOL_EXHAUSTED not in str(exc).lower():
                raise
            if cancelled.is_set():
                raise NetworkWaitCancelled("run interrupted while waiting for a free network") from exc
            if time.monotonic() >= deadline:
                raise NoNetworkAddresses(
                    f"the Docker engine has no free address pool for another network after waiting "
                    f"{seconds:.0f}s ({len(client.networks.list())} networks exist): lower -j, remove "
                    "leftovers with `sandbox clean`, or give the engine smaller pools "
                    '(`"default-address-pools": [{"base": "172.16.0.0/12", "size": 24}]` in '
                    "/etc/docker/daemon.json, as scripts/setup.sh starts it)"
                ) from exc
            cancelled.wait(POOL_RETRY_SECONDS)  # returns at once on an interrupt


def _each_at_once(remove: Callable[[Any], None], objects: list) -> None:
    if len(objects) <= 1:
        for item in objects:
            remove(item)
        return
    with ThreadPoolExecutor(max_workers=len(objects)) as pool:
        list(pool.map(remove, objects))


def _call(work: Callable[[], None]) -> None:
    work()


def _start_timed(container: DockerContainer) -> float:
    begin = time.monotonic()
    container.start()
    return time.monotonic() - begin


def _remove_network_quietly(net: Network) -> None:
    try:
        if is_kept(net._docker.client, net._network.attrs.get("Labels")):
            return  # `verify --keep`: left for inspection, `sandbox clean` removes it
        net.remove()
    except Exception:  # already removed by an interrupt's sweep: nothing to do
        pass


def _stop_quietly(container: DockerContainer) -> None:
    try:
        wrapped = container.get_wrapped_container()
        if wrapped is not None and is_kept(wrapped.client, wrapped.labels):
            return  # `verify --keep`: left running for inspection, `sandbox clean` removes it
        container.stop()
    except Exception:  # already gone (killed by a signal handler's cleanup): nothing to do
        pass
