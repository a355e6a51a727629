"""The pipeline's rules as pure logic (no Docker): phases in order, the failure-rate stop before the
next phase, D one at a time, and a service's stages run until a blocking one fails.

The engine (connect, the image resolver, the cleanup scope) and the stages are replaced by stand-ins
here, because the rules under test decide only *which* services and stages run; the Docker side of
the same rules is covered by test_verify_integration.py and test_phase_stop_cli.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sandbox.config import ServiceConfig
from sandbox.pipeline import run as run_mod
from sandbox.pipeline.run import Options, ServiceOutcome, new_run, verify_fleet, verify_service
from sandbox.pipeline.stage import Stage, StageResult
from tests.sandbox.pipeline.fixture_fleet import (
    FLEET_TEST_TIMEOUT,
    FakeResolver,
    phase_config,
    run_fleet,
    stand_in_engine,
)

pytestmark = pytest.mark.timeout(FLEET_TEST_TIMEOUT)


@pytest.fixture
def fleet_engine(monkeypatch):
    """verify_fleet without an engine; each service passes unless its name starts with 'bad'.
    A service prepares (0.1 s), then asks the schedule for its turn as the stage loop does before its
    first check, then is checked (0.2 s). Returns the checks: (service name, (start, end)) in the
    order they finished; a service the schedule refused a turn has no entry."""
    calls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def fake_verify(run, config: ServiceConfig, slots=None, index=None) -> ServiceOutcome:
        outcome = ServiceOutcome(config.name, config.priority, config.phase, [])
        if slots is not None:
            slots[index] = outcome
        time.sleep(0.1)  # preparation: may overlap the previous phase's checks
        go, _ = run.schedule.wait_turn(config)
        if not go:
            outcome.dropped = True
            return outcome
        start = time.monotonic()
        time.sleep(0.2)  # long enough that services checked side by side overlap
        with lock:
            calls.append((config.name, (start, time.monotonic())))
        outcome.verified = not config.name.startswith("bad")
        return outcome

    stand_in_engine(monkeypatch, fake_verify)
    return calls


def test_a_phase_above_the_failure_rate_stops_before_the_next_phase(tmp_path, fleet_engine) -> None:
    result = run_fleet(tmp_path, [("bad-a", "a"), ("ok-a", "a"), ("ok-b", "b"), ("ok-c", "c")])
    assert result.stopped_after == "a"
    assert sorted(name for name, _ in fleet_engine) == ["bad-a", "ok-a"]
    assert [o.name for o in result.outcomes] == ["bad-a", "ok-a"]


def test_a_rate_equal_to_the_limit_does_not_stop(tmp_path, fleet_engine) -> None:
    result = run_fleet(tmp_path, [("bad-a", "a"), ("ok-a", "a"), ("ok-b", "b")], max_failure_rate=0.5, jobs=1)
    assert result.stopped_after is None
    assert [o.name for o in result.outcomes] == ["bad-a", "ok-a", "ok-b"]


def test_a_rate_below_the_limit_goes_on(tmp_path, fleet_engine) -> None:
    services = [("bad-a", "a")] + [(f"ok-a{i}", "a") for i in range(4)] + [("ok-b", "b")]
    result = run_fleet(tmp_path, services, max_failure_rate=0.25, jobs=1)
    assert result.stopped_after is None and result.outcomes[-1].name == "ok-b"


def test_the_stop_waits_for_a_later_phase_that_has_services(tmp_path, fleet_engine) -> None:
    # a failing last phase, or a failing phase with no later services, stops nothing
    result = run_fleet(tmp_path, [("ok-a", "a"), ("bad-d", "d")])
    assert result.stopped_after is None
    result = run_fleet(tmp_path, [("bad-b", "b"), ("ok-a", "a")])
    assert result.stopped_after is None and [o.name for o in result.outcomes] == ["ok-a", "bad-b"]


def test_a_failure_in_b_stops_before_d_even_with_c_empty(tmp_path, fleet_engine) -> None:
    result = run_fleet(tmp_path, [("ok-a", "a"), ("bad-b", "b"), ("ok-d", "d")])
    assert result.stopped_after == "b"
    assert [o.name for o in result.outcomes] == ["ok-a", "bad-b"]


def test_phases_run_in_order_whatever_the_input_order(tmp_path, fleet_engine) -> None:
    services = [("ok-d", "d"), ("ok-c", "c"), ("ok-b", "b"), ("ok-a", "a")]
    result = run_fleet(tmp_path, services)
    assert [o.name for o in result.outcomes] == ["ok-a", "ok-b", "ok-c", "ok-d"]


def test_phase_d_runs_one_at_a_time_and_a_c_in_parallel(tmp_path, fleet_engine) -> None:
    services = [("ok-a1", "a"), ("ok-a2", "a"), ("ok-d1", "d"), ("ok-d2", "d")]
    result = run_fleet(tmp_path, services, jobs=2)
    spans = dict(fleet_engine)
    assert _overlap(spans["ok-a1"], spans["ok-a2"])
    assert not _overlap(spans["ok-d1"], spans["ok-d2"])
    assert [o.name for o in result.outcomes] == ["ok-a1", "ok-a2", "ok-d1", "ok-d2"]


def test_jobs_1_runs_a_phase_one_service_at_a_time(tmp_path, fleet_engine) -> None:
    run_fleet(tmp_path, [("ok-a1", "a"), ("ok-a2", "a")], jobs=1)
    spans = dict(fleet_engine)
    assert not _overlap(spans["ok-a1"], spans["ok-a2"])


def _overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return first[0] < second[1] and second[0] < first[1]


def test_the_run_resolves_the_migrator_base_and_needed_images_first(
    tmp_path, monkeypatch, fleet_engine
) -> None:
    seen: list[FakeResolver] = []
    monkeypatch.setattr(
        run_mod, "Resolver", lambda c, on_log: seen.append(FakeResolver(c, on_log)) or seen[-1]
    )
    run = new_run(tmp_path, "r1", Options(), lambda *a: None)
    config = phase_config(tmp_path, "ok", needs=("mosquitto",))
    verify_fleet(run, [config])
    assert set(seen[0].resolved) >= {"migrator", "base"} and len(seen[0].resolved) == 3
    assert seen[0].resolved == sorted(seen[0].resolved)


# --- one service: the stage loop ----------------------------------------------------------------------


def _stage(name: str, status: str | None, log: list[str], blocking: bool = True, details=None) -> Stage:
    def body(ctx) -> StageResult | None:
        log.append(name)
        return None if status is None else StageResult(name, status, details=dict(details or {}))

    return Stage(name, body, blocking=blocking)


def _service_run(tmp_path: Path, monkeypatch, stages, **options) -> tuple[ServiceOutcome, list]:
    events: list[tuple[str, str, str]] = []
    monkeypatch.setattr(run_mod, "STAGES", tuple(stages))
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [f"upgrade-of-{config.name}"])
    run = new_run(tmp_path, "r1", Options(**options), lambda *e: events.append(e))
    return verify_service(run, phase_config(tmp_path, "svc", "a")), events


def test_the_first_failed_blocking_stage_ends_the_service(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    stages = [_stage("one", "passed", ran), _stage("two", "failed", ran), _stage("three", "passed", ran)]
    outcome, events = _service_run(tmp_path, monkeypatch, stages)
    assert ran == ["one", "two"]
    assert not outcome.verified and outcome.failed_stage.name == "two"
    assert [e[1] for e in events] == ["one", "two"]


def test_a_timeout_is_a_failure_too(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    outcome, _ = _service_run(
        tmp_path, monkeypatch, [_stage("t", "timeout", ran), _stage("x", "passed", ran)]
    )
    assert ran == ["t"] and not outcome.verified and outcome.failed_stage.name == "t"


def test_a_non_blocking_failure_is_recorded_and_the_service_goes_on(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    stages = [_stage("base", "failed", ran, blocking=False), _stage("two", "passed", ran)]
    outcome, _ = _service_run(tmp_path, monkeypatch, stages)
    assert ran == ["base", "two"] and outcome.verified
    assert [s.name for s in outcome.stages] == ["base", "two"]


def test_a_stage_that_does_not_apply_leaves_no_result(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    outcome, _ = _service_run(
        tmp_path, monkeypatch, [_stage("skip", None, ran), _stage("two", "passed", ran)]
    )
    assert ran == ["skip", "two"] and [s.name for s in outcome.stages] == ["two"] and outcome.verified


def test_every_stage_passing_verifies_the_service(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    outcome, _ = _service_run(tmp_path, monkeypatch, [_stage("one", "passed", ran)])
    assert outcome.verified and outcome.success and outcome.failed_stage is None
    assert (
        outcome.migrations == ["upgrade-of-svc"] and Path(outcome.folder) == tmp_path / ".sandbox/runs/r1/svc"
    )
    assert (outcome.name, outcome.priority, outcome.phase) == ("svc", "LOW", "a")
    assert Path(outcome.folder).is_dir()


def test_an_interrupted_run_skips_the_container_stages(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    container = Stage("build", lambda ctx: ran.append("build"), timeout="build")
    monkeypatch.setattr(run_mod, "STAGES", (_stage("one", "passed", ran), container))
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])
    run = new_run(tmp_path, "r1", Options(), lambda *e: None)
    run.cancelled.set()
    outcome = verify_service(run, phase_config(tmp_path, "svc", "a"))
    assert ran == ["one"] and not outcome.verified
    assert outcome.stages[-1].name == "build" and outcome.stages[-1].reason == "run interrupted"
    assert outcome.stages[-1].status == "failed" and outcome.failed_stage is outcome.stages[-1]


def _baseline(failures: list[str], log: list[str]) -> Stage:
    def body(ctx) -> StageResult:
        log.append("baseline")
        ctx.preexisting_failures = list(failures)
        return StageResult("baseline", "failed", details={"failed_tests": failures})

    return Stage("baseline", body, blocking=False)


@pytest.mark.parametrize(
    ("accept", "preexisting", "failed", "verified"),
    [
        (True, ["t::a", "t::b"], ["t::a"], True),  # a subset of the baseline's failures: accepted
        (True, ["t::a"], ["t::a"], True),
        (True, ["t::a"], ["t::a", "t::new"], False),  # a new failure is never accepted
        (False, ["t::a"], ["t::a"], False),  # without the flag nothing is accepted
        (True, [], ["t::a"], False),  # no baseline failures: nothing to accept
        (True, ["t::a"], [], False),  # a test stage failing without failed tests (e.g. collection)
    ],
)
def test_accept_preexisting_only_forgives_the_baselines_failures(
    tmp_path, monkeypatch, accept, preexisting, failed, verified
) -> None:
    ran: list[str] = []
    stages = [_baseline(preexisting, ran), _stage("test", "failed", ran, details={"failed_tests": failed})]
    stages.append(_stage("after", "passed", ran))
    outcome, _ = _service_run(tmp_path, monkeypatch, stages, baseline=True, accept_preexisting=accept)
    assert outcome.verified is verified
    assert outcome.preexisting_failures == preexisting
    test = outcome.stages[1]
    assert test.status == ("passed" if verified else "failed")
    if verified:
        assert ran[-1] == "after" and test.reason.startswith(
            f"accepted {len(failed)} pre-existing failure(s)"
        )
    else:
        assert "after" not in ran


def test_accept_preexisting_only_applies_to_the_test_stage(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    stages = [_baseline(["t::a"], ran), _stage("build", "failed", ran, details={"failed_tests": ["t::a"]})]
    outcome, _ = _service_run(tmp_path, monkeypatch, stages, baseline=True, accept_preexisting=True)
    assert not outcome.verified and outcome.stages[1].status == "failed"


def test_a_failure_in_c_stops_before_d(tmp_path, fleet_engine) -> None:
    result = run_fleet(tmp_path, [("bad-c", "c"), ("ok-d", "d")])
    assert result.stopped_after == "c" and [o.name for o in result.outcomes] == ["bad-c"]


def test_a_test_stage_without_a_failed_tests_list_is_not_accepted(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    stages = [_baseline(["t::a"], ran), _stage("test", "failed", ran)]
    outcome, _ = _service_run(tmp_path, monkeypatch, stages, baseline=True, accept_preexisting=True)
    assert not outcome.verified and outcome.stages[1].status == "failed"


def test_the_accepted_reason_names_the_first_three_failures(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    failed = ["t::d", "t::c", "t::b", "t::a"]
    stages = [_baseline(failed, ran), _stage("test", "failed", ran, details={"failed_tests": failed})]
    outcome, _ = _service_run(tmp_path, monkeypatch, stages, baseline=True, accept_preexisting=True)
    assert outcome.stages[1].reason == "accepted 4 pre-existing failure(s): t::a, t::b, t::c"
