"""Labels put on every container, network and image the sandbox creates.

Cleanup finds leftovers by these labels alone (Ryuk cannot be pulled offline), so every
create call in the project goes through `labels_for`. Each run's objects also name their owner
(host, pid, the pid's start time): `sandbox clean` removes a run only once that process is gone,
so a clean in one clone never kills a live run of another clone on the same engine.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

PROJECT_KEY = "sandbox.project"
PROJECT = "sandbox-migrate"
RUN_KEY = "sandbox.run"
ROLE_KEY = "sandbox.role"
SERVICE_KEY = "sandbox.service"
CACHE_KEY = "sandbox.cache"
# On a local Dockerfile build: the base it was built FROM (official or local), for people and tests.
BASE_LABEL = "sandbox.image.base"
OWNER_HOST_KEY = "sandbox.owner.host"
OWNER_PID_KEY = "sandbox.owner.pid"
OWNER_START_KEY = "sandbox.owner.start"


@dataclass(frozen=True)
class Owner:
    """The process that owns a run: a pid alone is reused, pid + start time is not."""

    host: str
    pid: int
    start: str  # the pid's start time in clock ticks since boot (/proc/<pid>/stat field 22)

    def labels(self) -> dict[str, str]:
        return {OWNER_HOST_KEY: self.host, OWNER_PID_KEY: str(self.pid), OWNER_START_KEY: self.start}

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> Owner | None:
        """The owner recorded on an object, or None for objects of runs from before ownership."""
        try:
            return cls(labels[OWNER_HOST_KEY], int(labels[OWNER_PID_KEY]), labels[OWNER_START_KEY])
        except (KeyError, ValueError):
            return None

    def state(self) -> str:
        """'alive', 'gone' or 'unknown' (another host: this one cannot look at its processes)."""
        if self.host != socket.gethostname():
            return "unknown"
        return "alive" if process_start(self.pid) == self.start else "gone"


def process_start(pid: int) -> str | None:
    """A process's start time (clock ticks since boot), or None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


def current_owner() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), process_start(os.getpid()) or "0")


def temp_prefix(kind: str) -> str:
    """The prefix of a temporary folder the sandbox creates: it names the owning process."""
    owner = current_owner()
    return f"sandbox-{owner.pid}-{owner.start}-{kind}-"


def labels_for(run_id: str, role: str, service: str | None = None) -> dict[str, str]:
    """Labels for an object that belongs to one run and is removed when the run ends."""
    labels = {PROJECT_KEY: PROJECT, RUN_KEY: run_id, ROLE_KEY: role, **current_owner().labels()}
    if service:
        labels[SERVICE_KEY] = service
    return labels


def cache_labels(logical: str, content_hash: str) -> dict[str, str]:
    """Labels for a reusable image built once and kept across runs (base, deps, migrator)."""
    return {
        PROJECT_KEY: PROJECT,
        CACHE_KEY: "true",
        "sandbox.image": logical,
        "sandbox.image.hash": content_hash,
    }


def project_filter(run_id: str | None = None) -> dict[str, list[str]]:
    """A Docker API filter selecting the project's objects, optionally of one run."""
    wanted = [f"{PROJECT_KEY}={PROJECT}"]
    if run_id:
        wanted.append(f"{RUN_KEY}={run_id}")
    return {"label": wanted}
