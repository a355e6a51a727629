"""An interrupt while a service is still running: the run waits (bounded) for it, reports its stages, and
ends even when the service never returns. Pure logic, no Docker: the engine, the resolver and the
services are stand-ins, because these rules decide only what an interrupted run waits for and reports.

Written against mutants of the launcher that survived the older tests (scripts/mutation.py, group
`pipeline`): `_start_and_join` returning instead of breaking once interrupted (the bounded wait for the
services in flight skipped), and the wait for a free slot without a timeout (an interrupt then waits for
a service that may never return).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.config import ServiceConfig
from sandbox.engine.cleanup import CleanupReport
from sandbox.pipeline import run as run_mod
from sandbox.pipeline.run import FleetInterrupted, FleetResult, Options, ServiceOutcome, new_run, verify_fleet
from sandbox.pipeline.schedule import Schedule
from sandbox.pipeline.stage import StageResult
from tests.sandbox.pipeline.fixture_fleet import FLEET_TEST_TIMEOUT, phase_config, stand_in_engine

pytestmark = pytest.mark.timeout(FLEET_TEST_TIMEOUT)


@dataclass
class _Fleet:
    """What happened, in order, and how long the first service's in-flight call lasts."""

    log: list[str] = field(default_factory=list)
    in_flight: float = 1.0  # seconds the first service's stage goes on after the signal
    release: threading.Event = field(default_factory=threading.Event)  # ends a call that hangs
    # where the launcher is when the signal comes: "asking" (before it asks whether the next service may
    # start) or "waiting" (while it waits for a free preparation slot)
    when: str = "waiting"
    signalled: threading.Event = field(default_factory=threading.Event)
    waiting: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def fleet(monkeypatch) -> Iterator[_Fleet]:
    """verify_fleet whose first service sends the process a real SIGINT (the path of Ctrl-C) in the middle
    of a stage, which then goes on for `in_flight` seconds (a Docker call draining) and reports itself
    interrupted; the engine's calls are stand-ins, and the run scope's exit (the cleanup) is logged."""
    seen = _Fleet()

    @contextmanager
    def scope(client, run_id, keep=False, built=None):
        yield CleanupReport()
        seen.log.append("cleanup")

    def fake_verify(run, config, slots=None, index=None) -> ServiceOutcome:
        outcome = ServiceOutcome(config.name, config.priority, config.phase, [])
        slots[index] = outcome
        seen.log.append(f"{config.name} started")
        outcome.stages.append(StageResult("copy", "passed"))
        if seen.when == "waiting":
            seen.waiting.wait(5)
        os.kill(os.getpid(), signal.SIGINT)
        run.cancelled.wait(5)
        seen.signalled.set()
        seen.release.wait(seen.in_flight)
        outcome.stages.append(StageResult("build", "failed", reason="run interrupted"))
        seen.log.append(f"{config.name} done")
        return outcome

    # spies on the real schedule that only order the launcher against the signal, as `when` says
    may_launch, acquire_prepare = Schedule.may_launch, Schedule.acquire_prepare

    def asking(self, phase: str) -> bool:
        if seen.log and seen.when == "asking":  # the next service, once the first has started
            seen.signalled.wait(5)
        return may_launch(self, phase)

    def waiting(self, name: str) -> bool:
        if seen.log:
            seen.waiting.set()
        return acquire_prepare(self, name)

    monkeypatch.setattr(Schedule, "may_launch", asking)
    monkeypatch.setattr(Schedule, "acquire_prepare", waiting)
    stand_in_engine(monkeypatch, fake_verify, scope=scope)
    monkeypatch.setattr(run_mod, "stop_run_containers", lambda client, run_id: None)
    monkeypatch.setattr(run_mod, "remove_labelled", lambda client, run_id: CleanupReport())
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])
    monkeypatch.setattr(run_mod, "SETTLE_SECONDS", 3.0)
    yield seen
    seen.release.set()  # a call left hanging ends now, so it never writes into the next test's log
    for thread in threading.enumerate():
        if thread.name.startswith("verify-") or thread.name.endswith("(_reap)"):
            thread.join(10)  # the reaper lives DRAIN_SECONDS from the signal


def _services(tmp_path: Path) -> list[ServiceConfig]:
    # one preparation slot (-j 1): the second service waits for it when the signal comes
    return [phase_config(tmp_path, name) for name in ("first", "second")]


def _interrupted(tmp_path: Path) -> FleetResult:
    run = new_run(tmp_path, "r1", Options(jobs=1), lambda *event: None)
    with pytest.raises(FleetInterrupted) as raised:
        verify_fleet(run, _services(tmp_path))
    return raised.value.result


def _stages(result: FleetResult) -> dict[str, list[tuple[str, str, str]]]:
    return {o.name: [(s.name, s.status, s.reason) for s in o.stages] for o in result.outcomes}


@pytest.mark.parametrize("when", ["asking", "waiting"])
def test_a_service_in_flight_at_the_interrupt_reports_its_last_stage_before_the_cleanup(
    tmp_path, monkeypatch, fleet, when
) -> None:
    """The run waits for the service still running (within the drain) before it cleans up, so the
    service's stage that ended after the signal is in the report, and no cleanup pulls its containers
    out from under a call still draining."""
    assert threading.current_thread() is threading.main_thread()  # signal handlers live there
    fleet.when = when
    # longer than the call in flight (1 s) with room for a loaded machine, short enough that the reaper
    # (which stops the run's containers until the drain ends) is gone by the teardown
    monkeypatch.setattr(run_mod, "DRAIN_SECONDS", 6.0)
    result = _interrupted(tmp_path)
    assert fleet.log == ["first started", "first done", "cleanup"]
    assert _stages(result) == {
        "first": [("copy", "passed", ""), ("build", "failed", "run interrupted")],
        "second": [("not started", "failed", "run interrupted")],
    }


def test_an_interrupted_run_ends_after_the_drain_even_when_a_service_never_returns(
    tmp_path, monkeypatch, fleet
) -> None:
    """A service stuck in a call (a hung Docker request) does not hold the run: it ends once the drain is
    over, reporting that service's stages so far; the fixture frees the stuck call afterwards."""
    monkeypatch.setattr(run_mod, "DRAIN_SECONDS", 1.0)
    fleet.in_flight = 30.0  # "never", for this test; the fixture's teardown releases it
    begin = time.monotonic()
    result = _interrupted(tmp_path)
    elapsed = time.monotonic() - begin
    # drain 1 s + one settle sweep after 1 s, with room for a loaded machine; far below the stuck call
    assert elapsed < 15.0, f"the interrupted run took {elapsed:.1f} s"
    assert fleet.log == ["first started", "cleanup"]
    assert _stages(result) == {
        "first": [("copy", "passed", "")],
        "second": [("not started", "failed", "run interrupted")],
    }
