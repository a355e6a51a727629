"""A stage marked beside_previous (the health check) starts together with the stage before it (the
tests) and counts only when that stage passed; otherwise its result is dropped, as if it never ran.
Pure logic: stand-in stages, no Docker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sandbox.config import ServiceConfig
from sandbox.pipeline import run as run_mod
from sandbox.pipeline import stage as stage_mod
from sandbox.pipeline.run import Options, new_run, verify_service
from sandbox.pipeline.stage import Stage, StageResult


class _Client:
    def close(self) -> None:
        return None


def _timed_stage(name: str, status: str, spans: dict, beside: bool = False, seconds: float = 0.3) -> Stage:
    def body(ctx) -> StageResult:
        begin = time.monotonic()
        time.sleep(seconds)
        spans[name] = (begin, time.monotonic(), threading.current_thread().name)
        return StageResult(name, status)

    return Stage(name, body, beside_previous=beside)


def _verify(tmp_path: Path, monkeypatch, stages) -> run_mod.ServiceOutcome:
    monkeypatch.setattr(run_mod, "STAGES", tuple(stages))
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])
    monkeypatch.setattr(stage_mod, "connect", _Client)
    run = new_run(tmp_path, "r1", Options(), lambda *e: None)
    return verify_service(run, ServiceConfig(name="svc", path=tmp_path / "services" / "svc"))


def test_the_health_check_runs_beside_the_tests_and_counts_when_they_pass(tmp_path, monkeypatch) -> None:
    spans: dict = {}
    stages = [_timed_stage("test", "passed", spans), _timed_stage("health", "passed", spans, beside=True)]
    stages.append(_timed_stage("gate", "passed", spans, seconds=0.0))
    outcome = _verify(tmp_path, monkeypatch, stages)
    assert outcome.verified and [s.name for s in outcome.stages] == ["test", "health", "gate"]
    test, health = spans["test"], spans["health"]
    assert health[0] < test[1] and test[0] < health[1]  # side by side
    assert outcome.stages[1].details["ran_beside"] == "test"
    assert spans["gate"][0] >= max(test[1], health[1])  # what follows waits for both


def test_a_failed_test_drops_the_health_result(tmp_path, monkeypatch) -> None:
    spans: dict = {}
    stages = [_timed_stage("test", "failed", spans), _timed_stage("health", "passed", spans, beside=True)]
    stages.append(_timed_stage("gate", "passed", spans, seconds=0.0))
    outcome = _verify(tmp_path, monkeypatch, stages)
    assert not outcome.verified and [s.name for s in outcome.stages] == ["test"]
    assert "health" in spans and "gate" not in spans  # it ran, finished before the service ended, unreported


def test_a_failed_health_check_beside_passing_tests_fails_the_service(tmp_path, monkeypatch) -> None:
    spans: dict = {}
    stages = [_timed_stage("test", "passed", spans), _timed_stage("health", "failed", spans, beside=True)]
    outcome = _verify(tmp_path, monkeypatch, stages)
    assert not outcome.verified and outcome.failed_stage.name == "health"


def test_a_failed_test_stops_the_health_check_beside_it(tmp_path, monkeypatch) -> None:
    seen: dict = {}

    def slow_health(ctx) -> StageResult:
        begin = time.monotonic()
        while time.monotonic() - begin < 30 and not ctx.cancelled.is_set():  # as health's poll loop
            time.sleep(0.05)
        seen["stopped_after"] = time.monotonic() - begin
        return StageResult("health", "failed", reason="run interrupted")

    stages = [_timed_stage("test", "failed", {}), Stage("health", slow_health, beside_previous=True)]
    begin = time.monotonic()
    outcome = _verify(tmp_path, monkeypatch, stages)
    assert time.monotonic() - begin < 5 and seen["stopped_after"] < 5
    assert [s.name for s in outcome.stages] == ["test"]
