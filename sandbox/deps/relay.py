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
# so it runs in the base image; asyncio keeps many concurrent smoke connections cheap.
RELAY_CODE = """
import asyncio, sys
target, port = sys.argv[1], int(sys.argv[2])
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def handle(reader, writer):
    try:
        up_reader, up_writer = await asyncio.open_connection(target, port)
    except Exception:
        writer.close()
        return
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", port)
    print("relay ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


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
        ["python3", "-c", RELAY_CODE, target, str(port)],
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
