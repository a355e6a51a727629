"""The fleet's schedule (sandbox.pipeline.schedule) as pure logic: the next phase prepares while this
phase is checked, its checks wait for this phase's stop rule, a stop drops every later phase, and
phase D is checked one service at a time. verify_fleet runs with stand-ins for the engine and for a
service's stages (prepare, then the schedule's turn, then the checks), as in test_phase_stop.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sandbox.config import ServiceConfig
from sandbox.pipeline.run import ServiceOutcome
from sandbox.pipeline.schedule import Schedule
from tests.sandbox.pipeline.fixture_fleet import FLEET_TEST_TIMEOUT, run_fleet, stand_in_engine

pytestmark = pytest.mark.timeout(FLEET_TEST_TIMEOUT)

PREPARE, CHECK = 0.15, 0.3


@pytest.fixture
def spans(monkeypatch) -> dict[str, dict[str, tuple[float, float]]]:
    """Per service, the spans of its 'prepare' and 'check' parts; 'bad*' fails its checks,
    'cached*' is a reused result (no prepare, no check)."""
    seen: dict[str, dict[str, tuple[float, float]]] = {}
    lock = threading.Lock()

    def part(name: str, kind: str, seconds: float) -> None:
        begin = time.monotonic()
        time.sleep(seconds)
        with lock:
            seen.setdefault(name, {})[kind] = (begin, time.monotonic())

    def fake_verify(run, config: ServiceConfig, slots=None, index=None) -> ServiceOutcome:
        outcome = ServiceOutcome(config.name, config.priority, config.phase, [])
        slots[index] = outcome
        if config.name.startswith("cached"):
            outcome.verified = True
            return outcome
        part(config.name, "prepare", PREPARE)
        go, waits = run.schedule.wait_turn(config)
        if not go:
            outcome.dropped = True
            return outcome
        part(config.name, "check", CHECK)
        outcome.verified = not config.name.startswith("bad")
        return outcome

    stand_in_engine(monkeypatch, fake_verify)
    return seen


def test_the_next_phase_prepares_while_this_phase_is_checked(tmp_path, spans) -> None:
    result = run_fleet(tmp_path, [("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")], jobs=2)
    assert [o.name for o in result.outcomes] == ["a1", "a2", "b1", "b2"] and result.stopped_after is None
    a_checks_end = max(spans[n]["check"][1] for n in ("a1", "a2"))
    # B's preparation ran during A's checks ...
    assert min(spans[n]["prepare"][0] for n in ("b1", "b2")) < a_checks_end
    # ... but no check of B started before every check of A had ended (the stop rule was decided).
    assert min(spans[n]["check"][0] for n in ("b1", "b2")) >= a_checks_end


def test_a_stopped_phase_drops_the_prepared_next_phase_and_never_starts_the_one_after(
    tmp_path, spans
) -> None:
    result = run_fleet(tmp_path, [("bad-a", "a"), ("b1", "b"), ("c1", "c")], jobs=2)
    assert result.stopped_after == "a"
    assert [o.name for o in result.outcomes] == ["bad-a"]  # b1 and c1: listed as not run by the report
    assert "prepare" in spans["b1"] and "check" not in spans["b1"]  # prepared ahead, never checked
    assert "c1" not in spans  # one phase of look-ahead only: C waited for A's decision
    assert not (tmp_path / ".sandbox/runs/r1/b1").exists()


def test_two_phases_ahead_waits_for_the_decision(tmp_path, spans) -> None:
    run_fleet(tmp_path, [("a1", "a"), ("b1", "b"), ("c1", "c")], jobs=4)
    assert spans["c1"]["prepare"][0] >= spans["a1"]["check"][1]


def test_a_later_phase_of_reused_results_is_decided_after_the_phase_before(tmp_path, spans) -> None:
    # cached-b finishes first, but its phase is only decided once A is: A's failure stops it.
    result = run_fleet(tmp_path, [("bad-a", "a"), ("cached-b", "b"), ("c1", "c")], jobs=2)
    assert result.stopped_after == "a" and [o.name for o in result.outcomes] == ["bad-a"]


def test_phase_d_is_checked_one_at_a_time_while_the_next_one_prepares(tmp_path, spans) -> None:
    run_fleet(tmp_path, [("d1", "d"), ("d2", "d"), ("d3", "d")], jobs=2)
    checks = sorted(spans[n]["check"] for n in ("d1", "d2", "d3"))
    assert all(first[1] <= second[0] for first, second in zip(checks, checks[1:], strict=False))
    second = next(n for n in ("d1", "d2", "d3") if spans[n]["check"] == checks[1])
    assert spans[second]["prepare"][1] <= checks[0][1]  # prepared during the first one's check


def test_with_every_phase_decided_at_once_phase_d_starts_first(tmp_path, spans) -> None:
    # --max-failure-rate 1: no stop rule can bind, so D's one-at-a-time checks (the longest chain)
    # start first instead of running alone after everything else; the report keeps phase order.
    fleet = [("a1", "a"), ("a2", "a"), ("b1", "b"), ("d1", "d"), ("d2", "d")]
    result = run_fleet(tmp_path, fleet, jobs=2, max_failure_rate=1.0)
    assert [o.name for o in result.outcomes] == ["a1", "a2", "b1", "d1", "d2"]
    first_two = sorted(spans, key=lambda n: spans[n]["prepare"][0])[:2]
    assert sorted(first_two) == ["d1", "d2"]
    checks = sorted(spans[n]["check"] for n in ("d1", "d2"))
    assert checks[0][1] <= checks[1][0]  # still one at a time


def test_with_a_stop_rule_that_can_bind_phases_start_in_order(tmp_path, spans) -> None:
    run_fleet(tmp_path, [("a1", "a"), ("d1", "d")], jobs=1, max_failure_rate=0.2)
    assert spans["a1"]["prepare"][0] < spans["d1"]["prepare"][0]


def test_jobs_bounds_preparation_and_checks_separately(tmp_path, spans) -> None:
    names = [f"a{i}" for i in range(4)]
    run_fleet(tmp_path, [(n, "a") for n in names], jobs=2)
    for kind in ("prepare", "check"):
        for moment in (spans[n][kind][0] + 0.01 for n in names):
            assert sum(spans[n][kind][0] <= moment < spans[n][kind][1] for n in names) <= 2


def test_a_cancelled_run_stops_waiting_for_a_turn() -> None:
    cancelled = threading.Event()
    schedule = Schedule([("a", 1), ("b", 1)], 2, 0.2, cancelled)
    config = ServiceConfig(name="b1", path=Path("/nowhere"), priority="MEDIUM", needs=())
    assert schedule.acquire_prepare("b1")
    threading.Timer(0.3, cancelled.set).start()
    begin = time.monotonic()
    go, waits = schedule.wait_turn(config)  # phase A never finishes: only the cancel ends the wait
    assert go and time.monotonic() - begin < 2.0
    assert not schedule.may_launch("b")


def test_the_stop_rule_counts_failures_above_the_limit_only() -> None:
    stops: list[tuple[str, float]] = []
    schedule = Schedule([("a", 4), ("b", 1)], 2, 0.25, threading.Event(), lambda p, r: stops.append((p, r)))
    configs = [ServiceConfig(name=f"a{i}", path=Path("/x"), priority="LOW", needs=()) for i in range(4)]
    for config, ok in zip(configs, (False, True, True, True), strict=True):
        schedule.finish(config, ok)
    assert schedule.turn_open(ServiceConfig(name="b1", path=Path("/x"), priority="MEDIUM", needs=()))
    assert schedule.stopped_after is None and not stops
