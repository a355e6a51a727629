"""The one way the host reaches a container that must not reach the host: a relay.

The service under test sits on the run's private network only, which is `internal` and has no
address of the host on it (inhibit_ipv4): it has no route to the host, the default bridge or any
other network. The host's health checks and smoke steps still need to reach it, so a relay
container of our own (python from the base image, hardened like every other container) sits on
both the private network and the host-reachable access network and forwards one TCP port to one
alias on the private network. Nothing else is forwarded; the service cannot use the relay to reach
anything it could not already reach.
"""

from __future__ import annotations

import docker
from docker.models.containers import Container

from sandbox.engine.containers import CPU_SHARES, LIMITS, NO_HEALTHCHECK, NOBODY, ip_on, remove

# Listens on 0.0.0.0:<port> and pipes each connection to <target>:<port>. Kept tiny and stdlib-only
# so it runs in the base image. A thread per direction: the relay carries a handful of probe and
# smoke connections, and `python3 -I -S` with socket and threading starts in ~35 ms of CPU where
# site and asyncio took ~120 ms (one relay per health check; a fleet on 2 cores is CPU-bound).
# Either side ending (EOF or error) shuts both sockets down, which also wakes the other direction.
RELAY_CODE = """
import socket, sys, threading
target, port = sys.argv[1], int(sys.argv[2])
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
def handle(client):
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
server = socket.create_server(("0.0.0.0", port), backlog=64)
print("relay ready", flush=True)
while True:
    client, _ = server.accept()
    threading.Thread(target=handle, args=(client,), daemon=True).start()
"""
RELAY_PYTHON = ["python3", "-I", "-S"]  # isolated, no site: the relay imports nothing of it


def start_relay(
    client: docker.DockerClient,
    image: str,
    target: str,
    port: int,
    private: str,
    access: str,
    labels: dict[str, str],
    cpu_shares: int = CPU_SHARES,
) -> Container:
    """A started relay forwarding `access` address:port to `target`:port on the `private` network."""
    container = client.containers.create(
        image,
        [*RELAY_PYTHON, "-c", RELAY_CODE, target, str(port)],
        network=access,
        labels={**labels, "sandbox.relay": f"{target}:{port}"},
        user=NOBODY,
        cpu_shares=cpu_shares,
        **LIMITS,
        **NO_HEALTHCHECK,
    )
    try:
        client.networks.get(private).connect(container)
        container.start()
        container.reload()
    except BaseException:
        remove(container)
        raise
    return container


def relay_address(container: Container, access: str) -> str:
    return ip_on(container, access)
