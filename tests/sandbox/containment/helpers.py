"""Shared pieces of the containment tests: a verify run in the background, and what a run left."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from sandbox.engine.labels import PROJECT, PROJECT_KEY, RUN_KEY
from tests.sandbox.docker_objects import leftovers
from tests.sandbox.pipeline.fixture_fleet import SANDBOX, env_for

RUN_START = re.compile(r"run\s+start\s+(\S+):")


def start_verify(repo: Path, *services: str) -> subprocess.Popen:
    """`sandbox verify` in the background, its stdout readable line by line."""
    return subprocess.Popen(
        [*SANDBOX, "verify", *services, "-j", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_for(repo),
    )


def wait_for_line(proc: subprocess.Popen, pattern: str, seconds: float, seen: list[str]) -> re.Match:
    """Read the run's output until a line matches `pattern`; every line read goes into `seen`."""
    wanted = re.compile(pattern)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = wanted.search(line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r} within {seconds}s:\n{''.join(seen)}")


def run_objects(client: docker.DockerClient, run_id: str) -> list[str]:
    """Every container, network and image labelled with the run."""
    wanted = {"label": [f"{PROJECT_KEY}={PROJECT}", f"{RUN_KEY}={run_id}"]}
    return leftovers(client, wanted)


def temp_folders_of(pid: int) -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob(f"sandbox-{pid}-*"))
