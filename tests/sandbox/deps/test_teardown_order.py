"""A ServiceDeps removes its containers side by side, then its networks (a network goes only once no
container is on it), also after a failed start. Pure logic: stand-ins for the testcontainers objects,
no Docker (the real removal is what tests/sandbox/engine/test_cleanup.py checks on an engine)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from sandbox.deps.service import ServiceDeps


class _Container:
    def __init__(self, log: list, both: threading.Barrier) -> None:
        self.log, self.both = log, both

    def get_wrapped_container(self) -> None:  # never started: nothing of a kept run to leave
        return None

    def stop(self) -> None:
        self.both.wait(5)  # returns only while the other container's removal runs too
        time.sleep(0.05)
        self.log.append(("container", time.monotonic()))


class _Network:
    def __init__(self, log: list) -> None:
        self.log = log
        self._docker = SimpleNamespace(client=None)
        self._network = SimpleNamespace(attrs={"Labels": {}})

    def remove(self) -> None:
        self.log.append(("network", time.monotonic()))


def _deps(log: list) -> ServiceDeps:
    deps = ServiceDeps(client=None, labels={}, needs=(), known={})
    both = threading.Barrier(2)
    deps._owned_containers.extend([_Container(log, both), _Container(log, both)])
    deps._owned_networks.extend([_Network(log), _Network(log)])
    return deps


def test_containers_go_side_by_side_then_the_networks() -> None:
    log: list = []
    deps = _deps(log)
    deps.__exit__(None, None, None)
    assert [kind for kind, _ in log] == ["container", "container", "network", "network"]
    assert deps._owned_containers == [] and deps._owned_networks == []
    deps.__exit__(None, None, None)  # a second exit removes nothing twice
    assert len(log) == 4


def test_a_failed_start_removes_what_it_made(monkeypatch) -> None:
    log: list = []
    deps = _deps(log)

    def fail() -> None:
        raise TimeoutError("broker never ready")

    monkeypatch.setattr(deps, "_start", fail)
    with pytest.raises(TimeoutError):
        deps.__enter__()
    assert [kind for kind, _ in log] == ["container", "container", "network", "network"]
