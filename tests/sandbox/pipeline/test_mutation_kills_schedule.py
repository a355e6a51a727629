"""The fleet schedule's promises, one Schedule at a time (no fleet, no Docker): the slots it hands
out, the one phase of look-ahead, when a phase is decided, the stop rule and what it stops, how long
a service waited, and that a cancelled run never leaves a caller waiting. Written against the mutants
`scripts/mutation.py --module pipeline --names 'sandbox.pipeline.schedule.*'` left alive.

A call that may block runs on a daemon thread: "waits" means it is still blocked after BLOCKED
seconds (more than two POLLs), "goes on" that it returned within SOON (generous: the machine is
shared). Each test cancels its schedule at the end, so nothing it left waiting outlives it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox.config import ServiceConfig
from sandbox.pipeline.schedule import Schedule, Waits
from tests.sandbox.pipeline.fixture_fleet import FLEET_TEST_TIMEOUT, phase_config

pytestmark = pytest.mark.timeout(FLEET_TEST_TIMEOUT)

BLOCKED = 0.5
SOON = 5.0


@dataclass
class _Call:
    """A schedule call on a daemon thread and, once it returned, what it returned."""

    thread: threading.Thread
    result: list[Any] = field(default_factory=list)

    def waits(self) -> bool:
        self.thread.join(BLOCKED)
        return self.thread.is_alive()

    def goes_on(self) -> bool:
        self.thread.join(SOON)
        return not self.thread.is_alive()

    @property
    def value(self) -> Any:
        assert self.goes_on(), "the call is still blocked"
        return self.result[0]


def _call(fn: Callable[..., Any], *args: Any) -> _Call:
    call = _Call(threading.Thread(target=lambda: call.result.append(fn(*args)), daemon=True))
    call.thread.start()
    return call


def _config(name: str) -> ServiceConfig:
    """A service named after its phase: 'b2' is the second service of phase B."""
    return phase_config(Path("/nowhere"), name, phase=name[0])


@dataclass
class _Fleet:
    schedule: Schedule
    cancelled: threading.Event
    stops: list[tuple[str, float]]

    def finish(self, name: str, success: bool = True) -> None:
        self.schedule.finish(_config(name), success)

    def turn(self, name: str) -> _Call:
        return _call(self.schedule.wait_turn, _config(name))

    def open(self, name: str) -> bool:
        return self.schedule.turn_open(_config(name))


@pytest.fixture
def fleet() -> Iterator[Callable[..., _Fleet]]:
    """Builds a schedule: phases as {"a": members, ...}, jobs, the failure-rate limit."""
    made: list[_Fleet] = []

    def build(phases: dict[str, int], jobs: int = 2, limit: float = 0.2) -> _Fleet:
        cancelled, stops = threading.Event(), []
        schedule = Schedule(list(phases.items()), jobs, limit, cancelled, lambda p, r: stops.append((p, r)))
        made.append(_Fleet(schedule, cancelled, stops))
        return made[-1]

    yield build
    for each in made:  # release whatever a test left waiting
        each.cancelled.set()


# --- slots ------------------------------------------------------------------------------------------


def test_a_phase_has_jobs_test_slots_and_phase_d_one(fleet) -> None:
    run = fleet({"a": 3, "d": 2}, jobs=2)
    first, second = run.turn("a1"), run.turn("a2")
    assert first.value[0] and second.value[0]
    third = run.turn("a3")
    assert third.waits()  # both slots taken
    run.finish("a1")  # its test slot comes free
    assert third.value[0]
    run.finish("a2")
    run.finish("a3")
    d1 = run.turn("d1")
    assert d1.value[0]
    d2 = run.turn("d2")
    assert d2.waits()  # phase D is checked one service at a time, whatever -j says
    run.finish("d1")
    assert d2.value[0]


def test_jobs_1_prepares_one_service_at_a_time(fleet) -> None:
    run = fleet({"a": 3}, jobs=1)
    assert _call(run.schedule.acquire_prepare, "a1").value is True
    second = _call(run.schedule.acquire_prepare, "a2")
    assert second.waits()
    assert run.turn("a1").value[0]  # the service's checks begin: its preparation slot comes free
    assert second.value is True
    third = _call(run.schedule.acquire_prepare, "a3")
    assert third.waits()
    run.finish("a2")  # a service that ends while preparing (a failed build) frees its slot too
    assert third.value is True


def test_jobs_0_still_prepares_and_checks_one_service(fleet) -> None:
    run = fleet({"a": 1}, jobs=0)
    assert _call(run.schedule.acquire_prepare, "a1").value is True
    assert run.turn("a1").value[0]  # a test slot too: no slot at all would wait for ever


def test_a_phase_with_no_services_is_refused(fleet) -> None:
    with pytest.raises(ValueError, match="no services: b, c$"):
        fleet({"a": 1, "b": 0, "c": 0})


def test_a_cancel_ends_the_wait_for_a_preparation_slot(fleet) -> None:
    run = fleet({"a": 2}, jobs=1)
    assert _call(run.schedule.acquire_prepare, "a1").value is True
    waiting = _call(run.schedule.acquire_prepare, "a2")
    assert waiting.waits()
    run.cancelled.set()
    assert waiting.value is False


def test_a_cancel_ends_the_wait_for_a_test_slot(fleet) -> None:
    run = fleet({"d": 2}, jobs=2)
    assert run.turn("d1").value[0]
    waiting = run.turn("d2")
    assert waiting.waits()
    run.cancelled.set()
    go, waits = waiting.value
    assert go  # the stage loop, not the schedule, reports the interrupt


# --- launching: one phase of look-ahead --------------------------------------------------------------


def test_a_phase_launches_once_the_phase_two_before_it_is_decided(fleet) -> None:
    run = fleet({"a": 1, "b": 1, "c": 1, "d": 1})
    assert _call(run.schedule.may_launch, "a").value is True
    assert _call(run.schedule.may_launch, "b").value is True  # prepares while A is checked
    c_launch, d_launch = _call(run.schedule.may_launch, "c"), _call(run.schedule.may_launch, "d")
    assert c_launch.waits() and d_launch.waits()
    run.finish("a1")
    assert c_launch.value is True
    assert d_launch.waits()  # waits for B
    run.finish("b1")
    assert d_launch.value is True


def test_a_cancel_ends_the_wait_to_launch_and_refuses_every_launch(fleet) -> None:
    run = fleet({"a": 1, "b": 1, "c": 1})
    waiting = _call(run.schedule.may_launch, "c")
    assert waiting.waits()
    run.cancelled.set()
    assert waiting.value is False
    assert _call(run.schedule.may_launch, "a").value is False


# --- deciding a phase -------------------------------------------------------------------------------


def test_a_phase_is_decided_once_every_service_of_it_finished(fleet) -> None:
    run = fleet({"a": 2, "b": 1})
    assert run.open("a1")  # the first phase never waits for a decision
    assert run.schedule.stopped_after is None
    run.finish("a1")
    assert not run.open("b1")
    b_turn = run.turn("b1")
    assert b_turn.waits()
    run.finish("a2")
    assert run.open("b1") and b_turn.value[0]


def test_each_phase_is_decided_in_turn(fleet) -> None:
    run = fleet({"a": 1, "b": 1, "c": 1})
    run.finish("a1")
    run.finish("b1")  # A was decided before: B is decided now
    assert run.open("c1") and run.turn("c1").value[0]


def test_a_phase_that_finished_first_is_decided_after_the_one_before(fleet) -> None:
    run = fleet({"a": 1, "b": 1, "c": 1})
    run.finish("b1")  # a reused result: finished before A, not decided before A
    assert not run.open("c1")
    run.finish("a1")
    assert run.open("c1")


def test_a_phase_is_decided_once_its_running_services_cannot_change_the_answer(fleet) -> None:
    run = fleet({"a": 4, "b": 1}, limit=0.5)
    run.finish("a1")
    assert not run.open("b1")  # 3 of 4 may still fail: 0.75 > 0.5
    run.finish("a2")
    assert run.open("b1") and run.turn("b1").value[0]  # even 2 of 4 failing is within the limit
    run.finish("a3", False)
    run.finish("a4", False)
    assert run.schedule.stopped_after is None and run.stops == []


def test_a_limit_no_phase_can_exceed_decides_every_phase_at_once(fleet) -> None:
    run = fleet({"a": 2, "b": 1, "c": 1}, limit=1.0)
    assert run.open("b1") and run.open("c1")
    assert _call(run.schedule.may_launch, "c").value is True


def test_no_early_decision_after_a_stop(fleet) -> None:
    run = fleet({"a": 1, "b": 2, "c": 1}, limit=0.6)
    run.finish("a1", False)  # 1.0 > 0.6: stop
    run.finish("b1", True)  # B could pass whatever b2 does, but A stopped the run: B is not decided go
    assert not run.open("c1") and run.schedule.stopped_before("c")


# --- the stop rule ----------------------------------------------------------------------------------


def test_failures_are_counted_over_the_whole_phase(fleet) -> None:
    run = fleet({"a": 4, "b": 1}, limit=0.25)
    # the last one fails: a count that kept only the last outcome, or counted the passes, says 0.25
    for name, ok in (("a1", False), ("a2", True), ("a3", False), ("a4", False)):
        run.finish(name, ok)
    assert run.schedule.stopped_after == "a" and run.stops == [("a", 0.75)]


def test_a_stop_refuses_the_checks_and_launches_of_every_later_phase(fleet) -> None:
    run = fleet({"a": 2, "b": 1, "c": 1}, limit=0.2)
    b_turn = run.turn("b1")  # prepared ahead, waiting for A's decision
    run.finish("a1", False)
    run.finish("a2", True)
    assert run.schedule.stopped_after == "a" and run.stops == [("a", 0.5)]
    assert b_turn.value[0] is False and run.turn("b1").value[0] is False
    assert not run.open("b1")
    assert _call(run.schedule.may_launch, "b").value is False
    assert _call(run.schedule.may_launch, "c").value is False
    assert run.schedule.stopped_before("b") and run.schedule.stopped_before("c")
    assert not run.schedule.stopped_before("a")  # before A, nothing stopped
    assert _call(run.schedule.may_launch, "a").value is True
    run.finish("b1", False)  # dropped, never checked: B is decided as stopped too, not judged again
    assert run.schedule.stopped_after == "a" and run.stops == [("a", 0.5)]
    assert not run.open("c1")


def test_a_stop_decided_with_an_early_finished_phase_stops_it_too(fleet) -> None:
    run = fleet({"a": 1, "b": 1, "c": 1})
    run.finish("b1", True)  # a reused, verified result
    run.finish("a1", False)
    assert run.stops == [("a", 1.0)]
    assert not run.open("c1") and run.turn("c1").value[0] is False


def test_no_stop_while_no_phase_fails_above_the_limit(fleet) -> None:
    run = fleet({"a": 1, "b": 1, "c": 1})
    assert _call(run.schedule.may_launch, "b").value is True  # nothing decided yet: nothing stopped
    assert not run.schedule.stopped_before("b")
    run.finish("a1")
    assert not run.schedule.stopped_before("c") and _call(run.schedule.may_launch, "c").value is True


def test_the_last_phase_stops_nothing_and_the_one_before_it_does(fleet) -> None:
    run = fleet({"a": 1, "b": 1}, limit=0.0)
    run.finish("a1")
    run.finish("b1", False)
    assert run.schedule.stopped_after is None and run.stops == []
    run = fleet({"a": 1, "b": 1}, limit=0.0)
    run.finish("a1", False)
    assert run.schedule.stopped_after == "a" and run.stops == [("a", 1.0)]


def test_a_stop_without_an_on_stop_hook_is_still_a_stop() -> None:
    schedule = Schedule([("a", 1), ("b", 1)], 2, 0.2, threading.Event())
    schedule.finish(_config("a1"), False)
    assert schedule.stopped_after == "a" and not schedule.turn_open(_config("b1"))


# --- what a service waited for ----------------------------------------------------------------------


def test_the_waits_measure_the_previous_phase_and_the_test_slot(fleet) -> None:
    # each wait lasts HELD; at least MEASURED of it is seen, whatever a loaded machine's thread start-up
    held, measured = 0.5, 0.1
    run = fleet({"a": 1, "b": 2}, jobs=1)
    first = run.turn("b1")
    time.sleep(held)
    run.finish("a1")
    go, waits = first.value
    assert go and measured <= waits.previous_phase < SOON and 0.0 <= waits.check_slot < waits.previous_phase
    second = run.turn("b2")  # A is decided; B's one test slot is b1's
    time.sleep(held)
    run.finish("b1")
    go, waits = second.value
    assert go and 0.0 <= waits.previous_phase < waits.check_slot and measured <= waits.check_slot < SOON


def test_the_waits_are_reported_to_the_hundredth() -> None:
    assert Waits(1.234, 5.678).to_details() == {
        "waited_for_previous_phase": 1.23,
        "waited_for_test_slot": 5.68,
    }
