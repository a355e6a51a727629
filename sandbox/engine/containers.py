"""Container helpers shared by the stages and the health check: limits, waiting, reading, removal.

Every container the sandbox starts runs with LIMITS (dependencies with DEP_LIMITS): all
capabilities dropped, no-new-privileges, memory/CPU/pid limits, a read-only root file system with a
tmpfs /tmp, no Docker socket (nothing is ever bind-mounted but the migrator's workspace), a
non-root user (the image's own, or nobody when the image would run as root), and capped logs.

The containers `docker build` runs for RUN steps get BUILD_LIMITS: what the Engine API's build
endpoint lets a client set (memory without swap, a CPU share, /dev/shm size). It has no way to drop
capabilities, cap pids or make the root read-only for build steps; they run as the Dockerfile's
USER on the default bridge (a build needs PyPI) and never get the Docker socket.

`remove` leaves the containers of a run made with `verify --keep` in place (sandbox.engine.cleanup
marks such a run on the engine); `sandbox clean` removes them.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections import deque
from dataclasses import dataclass

import requests
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from sandbox.engine.cleanup import is_kept

# dns_opt: the private network resolves only its own containers; a name outside it would
# otherwise take 10 s per lookup to fail (two 5 s resolver timeouts), slowing every retry.
HARDENING = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "privileged": False,
    "read_only": True,
    "pids_limit": 512,
    "nano_cpus": 1_000_000_000,
    # The engine keeps at most this much log per container; the sandbox reads head and tail of it.
    "log_config": {"type": "json-file", "config": {"max-size": "64m", "max-file": "1"}},
}
# The sandbox proves readiness and health itself (its readiness waits, the health stage's probe), so
# an image's own HEALTHCHECK only costs: the engine runs it as a `runc exec` every interval (the
# Mosquitto image: every 2 s), and in a fleet on 2 cores those execs (runc, dockerd, a process in
# the container) took CPU from the services' stages. Off for every container that does not need it.
NO_HEALTHCHECK = {"healthcheck": {"test": ["NONE"]}}
# The one writable place of a read-only container (testcontainers takes it as its own `tmpfs`).
TMPFS = {"/tmp": "rw,nosuid,nodev,size=256m"}
LIMITS = {**HARDENING, "tmpfs": TMPFS, "mem_limit": "1g", "dns_opt": ["timeout:1", "attempts:1"]}
# The test container keeps a writable layer: pytest's JUnit XML is read from it after the container
# exits (a tmpfs is gone by then). Everything else of LIMITS holds.
TEST_LIMITS = {**LIMITS, **NO_HEALTHCHECK, "read_only": False, "tmpfs": {}}
# docker-py's `container_limits` of a build (bytes; memswap == memory: no swap). cpushares 1024 is
# the engine's default weight, written out so a build never outweighs a test container.
BUILD_LIMITS = {"memory": 2 << 30, "memswap": 2 << 30, "cpushares": 1024}
BUILD_SHM_BYTES = 64 << 20
# CPU weights (the engine's cpu_shares; 1024 is its default): on a machine the fleet keeps busy, work
# off the critical path (a service prepared ahead of its phase, a health check beside its tests)
# gets a lower weight, so what the run waits for gets the cores first. Weights only order work
# that competes for a core; an idle core still runs anything, so nothing waits on an idle machine.
CPU_SHARES = 1024
AHEAD_CPU_SHARES = 256  # the next phase's preparation: its checks wait for this phase anyway
BESIDE_CPU_SHARES = 512  # the health check's containers while the tests run beside it
# Phase D's checks, one service after another, are the run's longest chain: while other phases'
# checks share the cores with them, they get the cores first.
CHAIN_CPU_SHARES = 2048
# The sandbox's own containers that need no network (the migrator): loopback only ("none"), and none
# of the engine's network set-up either (network_disabled: no libnetwork sandbox and no
# libnetwork-setkey prestart hook, a start of the engine's own binary: ~0.13 s of CPU and ~0.1 s of
# start-up per container here). Their /etc/hosts is empty, without "localhost": never for a
# service's tests, which may resolve it.
OFFLINE = {"network_mode": "none", "network_disabled": True}
NOBODY = "65534:65534"
# What a service or its tests get when the image would run them as root: HOME on the tmpfs.
NOBODY_ENV = {"HOME": "/tmp"}


def host_cores() -> int:
    """The cores this process may run on (its CPU set), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS)
        return max(1, os.cpu_count() or 1)


def migrator_limits(cores: int) -> dict:
    """LIMITS with a CPU quota of `cores` for the migrator (its `-j` workers, one per core): it runs
    alone in its stage, and one CPU's worth of quota left its workers taking turns. Memory stays
    capped: forked workers share the parent's pages until they write them."""
    return {**LIMITS, **NO_HEALTHCHECK, "nano_cpus": max(1, cores) * 1_000_000_000}


def dependency_limits(memory: str) -> dict:
    """HARDENING for a dependency container (testcontainers passes these to `containers.run`; the
    container class adds TMPFS to its own `tmpfs`)."""
    return {**HARDENING, **NO_HEALTHCHECK, "mem_limit": memory}


def non_root(image_user: str | None) -> str:
    """The user to run an image as: its own when that is not root, otherwise nobody."""
    user = (image_user or "").strip()
    return NOBODY if user in ("", "root", "0") or user.startswith(("root:", "0:")) else user


# Logs: at most HEAD + TAIL bytes are kept whatever the container printed, read as a stream.
LOG_HEAD = 1 << 20
LOG_TAIL = 1 << 20


@dataclass(frozen=True)
class CappedLog:
    text: str
    cut: int  # bytes left out between head and tail


def capped_logs(container: Container, stdout: bool = True, stderr: bool = True) -> CappedLog:
    """The container's log, its head and tail only, never held whole in memory."""
    head, tail, size = bytearray(), deque(), 0
    tail_size = 0
    try:
        chunks = container.logs(stdout=stdout, stderr=stderr, stream=True, follow=False)
        for chunk in chunks:
            size += len(chunk)
            room = LOG_HEAD - len(head)
            if room > 0:
                head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                tail.append(chunk)
                tail_size += len(chunk)
                while tail and tail_size - len(tail[0]) >= LOG_TAIL:
                    tail_size -= len(tail.popleft())
    except (NotFound, APIError, requests.exceptions.RequestException):
        pass  # the container went away (an interrupt): what was read is what there is
    tail_bytes = b"".join(tail)[-LOG_TAIL:]
    cut = size - len(head) - len(tail_bytes)
    text = head.decode(errors="replace")
    if cut > 0:
        text += f"\n[... {cut} bytes of log cut by the sandbox: head and tail kept ...]\n"
    return CappedLog(text + tail_bytes.decode(errors="replace"), cut)


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
    """Force-remove with volumes; a container already gone is what we wanted. A container of a
    kept run (`verify --keep`) stays for inspection."""
    try:
        if is_kept(container.client, container.labels):
            return
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
