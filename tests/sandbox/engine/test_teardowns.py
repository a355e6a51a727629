"""Teardowns: removals handed off by the stages run in the background and the run waits for all of
them before its sweep. Pure logic, no Docker."""

from __future__ import annotations

import threading

from sandbox.engine.cleanup import Teardowns


def test_every_removal_handed_off_is_waited_for() -> None:
    done: list[int] = []
    gate = threading.Event()
    teardowns = Teardowns()
    for number in range(3):
        teardowns.later(lambda n=number: gate.wait(5) and done.append(n), f"removal-{number}")
    assert not teardowns.join(0.05) and done == []  # bounded: an interrupted run does not wait long
    gate.set()
    assert teardowns.join() and sorted(done) == [0, 1, 2]


def test_a_failed_removal_is_left_to_the_sweep_and_the_rest_still_run() -> None:
    done: list[str] = []
    teardowns = Teardowns()

    def fail() -> None:
        raise RuntimeError("engine hiccup")

    teardowns.later(fail)
    teardowns.later(lambda: done.append("second"))
    assert teardowns.join(5) and done == ["second"]


def test_nothing_handed_off_nothing_to_wait_for() -> None:
    assert Teardowns().join(0)
