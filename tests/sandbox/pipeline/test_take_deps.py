"""with_deps starts a stage's dependencies in the background and the stage takes them when it needs
them (StageContext.take_deps): what the stage prepares first overlaps their start. Pure logic: a
stand-in for the dependencies' start, no Docker."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sandbox.config import ServiceConfig
from sandbox.engine.cleanup import Teardowns
from sandbox.pipeline import stage as stage_mod
from sandbox.pipeline.stage import StageContext, StageResult, with_deps


class _Deps:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.started_in = {"mosquitto": 1.5}
        self.containers = {"mosquitto": object()}

    def logs(self) -> dict[str, str]:
        return {"mosquitto": "broker log"}

    def __exit__(self, *exc_info: object) -> None:
        self.log.append("removed")


class _Starting:
    """EarlyDeps' face: started at construction, taken once, or discarded."""

    def __init__(self, log: list[str], ready: threading.Event, error: Exception | None = None) -> None:
        self.log, self.ready, self.error = log, ready, error
        log.append("starting")

    def take(self) -> tuple[_Deps, float]:
        self.log.append("take")
        self.ready.wait(5)
        if self.error is not None:
            raise self.error
        return _Deps(self.log), 0.25

    def discard(self) -> None:
        self.log.append("discarded")


def _ctx(tmp_path: Path) -> StageContext:
    config = ServiceConfig(name="svc", path=tmp_path / "services" / "svc", needs=("mosquitto",))
    return StageContext(
        run_id="r1",
        repo_root=tmp_path,
        folder=tmp_path,
        resolver=None,
        config=config,
        migrations=[],
        cancelled=threading.Event(),
        on_event=lambda *e: None,
        images=dict,
    )


@pytest.fixture
def log(monkeypatch) -> list[str]:
    entries: list[str] = []
    ready = threading.Event()
    monkeypatch.setattr(stage_mod, "EarlyDeps", lambda ctx, stage: _Starting(entries, ready))
    entries.append(ready)  # type: ignore[arg-type]  # the test sets it: the start "finishes"
    return entries


def _ready(log: list) -> threading.Event:
    return log.pop(0)


def test_the_stage_prepares_while_its_dependencies_start_then_takes_them(tmp_path, log) -> None:
    ready = _ready(log)

    def body(ctx: StageContext) -> StageResult:
        log.append("test image built")
        ready.set()
        deps = ctx.take_deps()
        assert ctx.take_deps() is deps  # taken once; asked again, the same
        log.append("tests ran")
        return StageResult("test", "passed")

    result = with_deps(_ctx(tmp_path), "test", body)
    assert log == ["starting", "test image built", "take", "tests ran", "removed"]
    assert result.ok and result.details["dependencies"] == {"mosquitto": 1.5}
    assert result.details["dependencies_waited"] == 0.25 and "dependency_logs" not in result.details


def test_dependencies_started_during_the_build_are_the_ones_taken(tmp_path, log, monkeypatch) -> None:
    ready = _ready(log)
    ready.set()
    ctx = _ctx(tmp_path)
    early = _Starting(log, ready)
    ctx.early_deps["test"] = early
    monkeypatch.setattr(stage_mod, "EarlyDeps", lambda ctx, stage: pytest.fail("started a second time"))
    result = with_deps(ctx, "test", lambda ctx: ctx.take_deps() and StageResult("test", "passed"))
    assert result.ok and ctx.early_deps == {} and log == ["starting", "take", "removed"]


def test_a_failed_stage_keeps_the_dependency_logs(tmp_path, log) -> None:
    _ready(log).set()
    result = with_deps(_ctx(tmp_path), "test", lambda ctx: ctx.take_deps() and StageResult("test", "failed"))
    assert result.details["dependency_logs"] == ["test-mosquitto.log"]
    assert (tmp_path / "test-mosquitto.log").read_text() == "broker log" and log[-1] == "removed"


def test_a_stage_that_ends_before_taking_them_discards_them(tmp_path, log) -> None:
    _ready(log)

    def body(ctx: StageContext) -> StageResult:
        raise RuntimeError("the test image did not build")

    with pytest.raises(RuntimeError, match="did not build"):  # the stage runner makes it the stage's
        with_deps(_ctx(tmp_path), "test", body)
    assert log == ["starting", "discarded"]


def test_a_start_that_failed_is_the_stages_error_when_taken(tmp_path, monkeypatch) -> None:
    entries: list[str] = []
    ready = threading.Event()
    ready.set()
    monkeypatch.setattr(
        stage_mod,
        "EarlyDeps",
        lambda ctx, stage: _Starting(entries, ready, TimeoutError("broker never ready")),
    )
    ctx = _ctx(tmp_path)
    result = with_deps(ctx, "test", lambda ctx: ctx.take_deps() and StageResult("test", "passed"))
    assert (result.status, result.reason) == ("failed", "TimeoutError: broker never ready")
    assert entries == ["starting", "take", "discarded"] and ctx.deps is None and ctx.pending_deps is None


def test_dependencies_asked_for_outside_a_stage_with_dependencies_are_an_error(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="outside with_deps"):
        _ctx(tmp_path).take_deps()


def test_with_the_runs_teardowns_the_stage_ends_before_its_dependencies_are_removed(tmp_path, log) -> None:
    _ready(log).set()
    ctx = _ctx(tmp_path)
    ctx.teardowns = Teardowns()
    release = threading.Event()
    real_exit = _Deps.__exit__

    def slow_exit(self, *exc_info: object) -> None:
        release.wait(5)
        real_exit(self, *exc_info)

    _Deps.__exit__ = slow_exit  # type: ignore[method-assign]
    try:
        result = with_deps(ctx, "test", lambda ctx: ctx.take_deps() and StageResult("test", "passed"))
        assert result.ok and "removed" not in log  # the verdict did not wait for the removal
        assert not ctx.teardowns.join(0.1)  # still removing
        release.set()
        assert ctx.teardowns.join(5) and log[-1] == "removed"
    finally:
        _Deps.__exit__ = real_exit  # type: ignore[method-assign]
