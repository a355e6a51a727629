"""The one way the host reaches a container that must not reach the host: the run's relay.

The service under test sits on its private network only, which is `internal` and has no address of
the host on it (inhibit_ipv4): it has no route to the host, the default bridge or any other network.
The host's health checks and smoke steps still need to reach it, so a relay container of our own
(python from the base image, hardened like every other container) forwards TCP from the host to
the service. One relay serves a whole run (RunRelay): it starts on the run's access network only,
joins a health check's private network while that check runs (ServiceDeps) and leaves it before the
network goes; each check asks it for a route, a listener forwarding to the alias of that check's
service. A container start was the bulk of the engine's CPU per relay (~0.35 s, runc, shim and two
endpoints); a join and a leave are one endpoint.

Why the shared relay gives a service nothing: it listens only on its address on the access network
(control port and routes alike, chosen by the relay, never by a request), where no service or test
container is (they are on their private network only, without a route to the access network and
without the capability to add one). A service reaches the relay's address on its own private
network, where nothing listens; so no service reaches a route, let alone another service's.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from sandbox.engine.containers import CPU_SHARES, LIMITS, NO_HEALTHCHECK, NOBODY, ip_on, remove

CONTROL_PORT = 7070  # where the relay takes route requests, on its access address only
READY_SECONDS = 60.0  # how long the first check waits for the relay to listen
STATE_EVERY = 1.0  # seconds between looks at the starting relay's state (an engine call)

# Listens for route requests on <its access address>:<control port>. A request is one line,
# "<target> <port>": the relay opens a listener on its access address (a free port), answers its
# port, and pipes each connection to it to <target>:<port>; the listener closes when the request's
# connection does (the check ended, or the sandbox died). Kept tiny and stdlib-only so it runs in
# the base image: `python3 -I -S` with socket and threading starts in ~35 ms of CPU. A thread per
# direction; either side ending (EOF or error) shuts both sockets down, which wakes the other.
# Its access address is the one its hostname resolves to (/etc/hosts): it starts on that network
# alone, before it joins any private network.
RELAY_CODE = """
import socket, sys, threading
me, control_port = socket.gethostbyname(socket.gethostname()), int(sys.argv[1])
def pipe(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for sock in (src, dst):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def handle(client, target, port):
    try:
        upstream = socket.create_connection((target, port))
    except OSError:
        client.close()
        return
    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()
def serve(server, target, port):
    while True:
        try:
            client, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(client, target, port), daemon=True).start()
def route(control):
    try:
        target, port = control.makefile().readline().split()
        server = socket.create_server((me, 0), backlog=64)
    except (OSError, ValueError):
        control.close()
        return
    threading.Thread(target=serve, args=(server, target, int(port)), daemon=True).start()
    control.sendall(b"%d\\n" % server.getsockname()[1])
    try:
        while control.recv(1024):
            pass
    except OSError:
        pass
    server.close()
    control.close()
listener = socket.create_server((me, control_port), backlog=64)
print("relay ready on", me, flush=True)
while True:
    control, _ = listener.accept()
    threading.Thread(target=route, args=(control,), daemon=True).start()
"""
RELAY_PYTHON = ["python3", "-I", "-S"]  # isolated, no site: the relay imports nothing of it


class RelayUnavailable(RuntimeError):
    """The run's relay did not start, exited, or refused a route."""


@dataclass
class Route:
    """A listener of the relay forwarding to one service; open while its control connection is."""

    host: str
    port: int
    _control: socket.socket

    def close(self) -> None:
        self._control.close()


@dataclass
class RunRelay:
    """The run's one relay, started when a health check's dependencies first need it and removed by
    the run after its last check (close); labelled with the run, so an interrupted run's sweep takes
    it. A relay that failed to start is tried again by the next check that asks."""

    image: Callable[[], str]  # the base image's reference, asked when the relay first starts
    labels: dict[str, str]
    cpu_shares: int = CPU_SHARES
    _container: Container | None = None
    _address: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def join(
        self, client: docker.DockerClient, access: str, network: str, cancelled: threading.Event
    ) -> None:
        """The relay (started now if needed, on `access`) on `network` too, until `leave`."""
        container = self._started(client, access, cancelled)
        client.api.connect_container_to_network(container.id, network)

    def leave(self, client: docker.DockerClient, network: str) -> None:
        """Off `network` (before the network is removed: a network with an endpoint cannot be)."""
        if self._container is None:
            return
        try:
            client.api.disconnect_container_from_network(self._container.id, network, force=True)
        except NotFound:  # the network or the relay is gone already (an interrupt's sweep)
            pass

    def route(self, target: str, port: int, seconds: float = 10.0) -> Route:
        """A listener of the relay piping to `target`:`port` (an alias on a network it joined)."""
        if not self._address:
            raise RelayUnavailable("the run's relay is not started")
        answer, control = "", None
        try:
            control = socket.create_connection((self._address, CONTROL_PORT), timeout=seconds)
            control.sendall(f"{target} {port}\n".encode())
            answer = _read_line(control)
        except OSError as exc:
            answer = f"{type(exc).__name__}: {exc}"
        if not answer.isdigit():
            if control is not None:
                control.close()
            raise RelayUnavailable(
                f"the run's relay gave no route to {target}:{port} ({answer or 'refused'})"
            )
        control.settimeout(None)
        return Route(self._address, int(answer), control)

    def close(self) -> None:
        with self._lock:
            container, self._container, self._address = self._container, None, ""
        if container is not None:
            remove(container)

    def _started(self, client: docker.DockerClient, access: str, cancelled: threading.Event) -> Container:
        with self._lock:
            if self._container is None:
                container = self._create(client, access)
                try:
                    container.start()
                    self._address = _wait_listening(container, access, cancelled)
                except BaseException:
                    remove(container)
                    raise
                self._container = container
            return self._container

    def _create(self, client: docker.DockerClient, access: str) -> Container:
        return client.containers.create(
            self.image(),
            [*RELAY_PYTHON, "-c", RELAY_CODE, str(CONTROL_PORT)],
            network=access,
            labels=self.labels,
            user=NOBODY,
            cpu_shares=self.cpu_shares,
            **LIMITS,
            **NO_HEALTHCHECK,
        )


def _wait_listening(container: Container, access: str, cancelled: threading.Event) -> str:
    """The relay's access address once its control port accepts (a refused connect is ~0.05 ms of
    CPU; the engine is asked for the container's state once a second)."""
    deadline = time.monotonic() + READY_SECONDS
    address, next_look = "", 0.0
    while time.monotonic() < deadline and not cancelled.is_set():
        if time.monotonic() >= next_look:
            address = _look(container, access)
            next_look = time.monotonic() + STATE_EVERY
        if _accepts(address, CONTROL_PORT):
            return address
        time.sleep(0.05)
    raise RelayUnavailable(f"the run's relay did not listen within {READY_SECONDS:.0f}s")


def _look(container: Container, access: str) -> str:
    try:
        container.reload()
    except (NotFound, APIError) as exc:
        raise RelayUnavailable(f"the run's relay is gone: {exc}") from exc
    if container.status in ("exited", "dead"):
        raise RelayUnavailable(f"the run's relay exited: {container.logs(tail=20).decode(errors='replace')}")
    return ip_on(container, access)


def _read_line(sock: socket.socket) -> str:
    """One answer line (the relay sends nothing else on the connection)."""
    data = b""
    while not data.endswith(b"\n") and (chunk := sock.recv(64)):
        data += chunk
    return data.decode(errors="replace").strip()


def _accepts(host: str, port: int) -> bool:
    if not host:
        return False
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True
