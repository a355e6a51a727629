"""Container helpers shared by the stages and the health check: limits, waiting, reading, removal.

Every container a stage creates runs with LIMITS: no privileges, no Docker socket, memory/CPU/pid
limits and the image's own user.
"""

from __future__ import annotations

import io
import tarfile

import requests
from docker.errors import APIError, NotFound
from docker.models.containers import Container

# dns_opt: the private network resolves only its own containers; a name outside it would
# otherwise take 10 s per lookup to fail (two 5 s resolver timeouts), slowing every retry.
LIMITS = {
    "mem_limit": "1g",
    "nano_cpus": 1_000_000_000,
    "pids_limit": 512,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "privileged": False,
    "dns_opt": ["timeout:1", "attempts:1"],
}


def wait_exit(container: Container, seconds: float) -> int | None:
    """The container's exit code, or None after killing it at the timeout."""
    try:
        return int(container.wait(timeout=seconds)["StatusCode"])
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        try:
            container.kill()
        except APIError:
            pass
        return None


def remove(container: Container) -> None:
    """Force-remove with volumes; a container already gone is what we wanted."""
    try:
        container.remove(force=True, v=True)
    except (NotFound, APIError):
        pass


def read_file(container: Container, path: str) -> bytes | None:
    """One file out of a (possibly stopped) container, or None when it is not there."""
    try:
        stream, _ = container.get_archive(path)
    except (NotFound, APIError):
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        extracted = tar.extractfile(member) if member else None
        return extracted.read() if extracted else None


def ip_on(container: Container, network: str) -> str:
    """The container's address on `network` (as last loaded; reload first when it may have changed)."""
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
