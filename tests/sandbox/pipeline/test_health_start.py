"""The health check starts the service and opens the run's relay's route to it at once
(health._start_beside) and says how long each step took (health._Steps). Pure logic: stand-ins for
the container start and the route, no Docker (the real health stage runs in
tests/sandbox/pipeline/test_health_wait.py and the containment tests)."""

from __future__ import annotations

import threading

import pytest

from sandbox.pipeline.health import _start_beside, _Steps


def test_the_service_and_its_relay_start_at_the_same_time() -> None:
    both = threading.Barrier(2, timeout=5)  # broken unless the two starts run side by side
    relay = object()

    def start_service() -> None:
        both.wait()

    def start_relay() -> object:
        both.wait()
        return relay

    assert _start_beside(start_service, start_relay) == (relay, None)


def test_a_service_that_fails_to_start_still_hands_back_the_started_relay_for_removal() -> None:
    relay, boom = object(), RuntimeError("no such image")

    def start_service() -> None:
        raise boom

    made, error = _start_beside(start_service, lambda: relay)
    assert made is relay and error is boom


def test_a_relay_that_fails_to_start_is_the_error() -> None:
    boom = OSError("relay")

    def start_relay() -> object:
        raise boom

    assert _start_beside(lambda: None, start_relay) == (None, boom)


def test_each_step_is_timed_from_the_end_of_the_one_before(monkeypatch) -> None:
    clock = iter([10.5, 13.0, 13.25])
    monkeypatch.setattr("sandbox.pipeline.health.time.monotonic", lambda: next(clock))
    steps = _Steps(_last=10.0)  # the stage's start
    for step in ("dependencies", "started", "healthy"):
        steps.done(step)
    assert steps.seconds == {"dependencies": 0.5, "started": 2.5, "healthy": 0.25}


@pytest.mark.parametrize("fails", ["service", "relay"])
def test_both_starts_finish_before_the_answer(fails: str) -> None:
    """Whatever fails, the other start has returned: nothing is left starting behind the caller's
    removal."""
    finished: list[str] = []

    def start(name: str):
        def run() -> object:
            if name == fails:
                raise RuntimeError(name)
            threading.Event().wait(0.2)
            finished.append(name)
            return object()

        return run

    _start_beside(start("service"), start("relay"))
    assert finished == [name for name in ("service", "relay") if name != fails]
