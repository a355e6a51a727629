"""The pipeline's rules that earlier tests left open, written against mutants of sandbox/pipeline/run.py
that survived them (scripts/mutation.py, group `pipeline`). Pure logic, no Docker: the engine, the
image resolver and the stages are stand-ins, because these rules decide only what is reported, which
stage starts what, and what an interrupted run says about every service.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from sandbox import cache
from sandbox.config import ServiceConfig, load_service
from sandbox.engine.cleanup import CleanupReport
from sandbox.pipeline import run as run_mod
from sandbox.pipeline.copy import copy as copy_stage
from sandbox.pipeline.gate import gate as gate_stage
from sandbox.pipeline.run import (
    FleetInterrupted,
    Options,
    ServiceOutcome,
    new_run,
    verify_fleet,
    verify_service,
)
from sandbox.pipeline.stage import Stage, StageContext, StageResult
from sandbox.records import RUN_RECORD, pipeline_version
from sandbox.upgrades import target_versions
from tests.sandbox.pipeline.fixture_fleet import (
    FLEET_TEST_TIMEOUT,
    FakeResolver,
    phase_config,
    stand_in_engine,
)

pytestmark = pytest.mark.timeout(FLEET_TEST_TIMEOUT)

# --- report fields of one service (ServiceOutcome.to_dict) --------------------------------------------


def _outcome(*stages: StageResult, verified: bool = False) -> ServiceOutcome:
    outcome = ServiceOutcome("svc", "HIGH", "c", ["influxdb3"])
    outcome.stages = list(stages)
    outcome.verified = verified
    return outcome


def test_a_blocked_service_reports_the_markers_left_after_the_fix_not_the_migrations() -> None:
    """The fix stage judges the markers after the hand fixes: the report lists what still blocks."""
    found = [{"path": "app/a.py", "line": 3, "rule": "IX-9"}, {"path": "app/b.py", "line": 8, "rule": "IX-2"}]
    left = [{"path": "app/b.py", "line": 8, "rule": "IX-2"}]
    migrate = StageResult("migrate", "passed", details={"markers": found})
    fix = StageResult("fix", "failed", reason="1 marker", details={"markers": left})
    assert _outcome(migrate, fix).to_dict({})["markers"] == left


def test_a_failed_stage_without_markers_reports_the_migrations_markers() -> None:
    found = [{"path": "app/a.py", "line": 3, "rule": "IX-9"}]
    migrate = StageResult("migrate", "passed", details={"markers": found})
    build = StageResult("build", "failed", reason="pip", details={"markers": []})
    assert _outcome(migrate, build).to_dict({})["markers"] == found


def test_a_verified_service_with_a_skipped_stage_has_no_ending_stage() -> None:
    skipped = StageResult("baseline", "skipped", reason="not asked for")
    data = _outcome(skipped, StageResult("migrate", "passed"), verified=True).to_dict({})
    assert (data["failed_stage"], data["reason"], data["skipped"]) == (None, "", False)
    assert data["overall_success"] is True


def test_a_reused_result_gives_the_caches_reason() -> None:
    outcome = _outcome(verified=True)
    outcome.reused = {"run_id": "r0"}
    outcome.cache = {"state": "hit", "why": "inputs unchanged since r0"}
    assert outcome.to_dict({})["reason"] == "inputs unchanged since r0"
    outcome.cache = {"state": "hit"}  # an answer without a why: empty, never None
    assert outcome.to_dict({})["reason"] == ""


def test_a_verified_service_that_was_not_reused_has_no_reason_even_with_a_cache_answer() -> None:
    outcome = _outcome(StageResult("migrate", "passed"), verified=True)
    outcome.cache = {"state": "miss", "why": "first run"}
    data = outcome.to_dict({})
    assert data["reason"] == "" and data["cache"] == {"state": "miss", "why": "first run"}


@pytest.mark.parametrize(
    ("reason", "held"),
    [
        ("", "fix"),  # no reason: the stage's name alone, without a dangling ': '
        ("limit of MAX", "fix: limit of MAX"),  # only ': ' is trimmed, not other characters
    ],
)
def test_a_held_shared_change_names_the_stage_and_its_reason(reason: str, held: str) -> None:
    migrate = StageResult("migrate", "passed", details={"shared_changed": ["services/common"]})
    outcome = _outcome(migrate, StageResult("fix", "failed", reason=reason))
    assert outcome.to_dict({})["holds_shared"] == [{"path": "services/common", "reason": held}]


# --- the dependencies of the test stage start while the build runs -----------------------------------


def _container_stage(name: str, log: list, needs_deps: bool = False) -> Stage:
    """A stage working in containers (it has a timeout key); its body logs its name and its context."""
    return Stage(
        name,
        lambda ctx: log.append(name) or log.append(ctx) or StageResult(name, "passed"),
        timeout=name,
        needs_deps=needs_deps,
    )


@dataclass
class _Early:
    """What start_early and with_deps were asked, without containers."""

    started: list[tuple[object, str, list[str]]] = field(default_factory=list)  # (ctx, stage, ran before)
    deps: list[tuple[object, str]] = field(default_factory=list)  # (ctx, stage) run with dependencies


@pytest.fixture
def early(monkeypatch) -> _Early:
    seen = _Early()
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])

    def with_deps(ctx, name, body):
        seen.deps.append((ctx, name))
        return body(ctx)

    monkeypatch.setattr(run_mod, "with_deps", with_deps)
    return seen


def _run_stages(tmp_path, monkeypatch, stages, needs, seen: _Early) -> tuple[list, ServiceOutcome]:
    log: list = []
    monkeypatch.setattr(run_mod, "STAGES", tuple(stage(log) for stage in stages))
    ran = lambda: [entry for entry in log if isinstance(entry, str)]  # noqa: E731
    monkeypatch.setattr(run_mod, "start_early", lambda ctx, name: seen.started.append((ctx, name, ran())))
    run = new_run(tmp_path, "r1", Options(), lambda *e: None)
    return log, verify_service(run, phase_config(tmp_path, "svc", needs=needs))


def test_the_tests_dependencies_start_before_the_build_runs(tmp_path, monkeypatch, early) -> None:
    stages = [lambda log: _container_stage("build", log), lambda log: _container_stage("test", log, True)]
    log, outcome = _run_stages(tmp_path, monkeypatch, stages, ("mosquitto",), early)
    assert [(name, before) for _, name, before in early.started] == [("test", [])]  # before the build ran
    assert [entry for entry in log if isinstance(entry, str)] == ["build", "test"] and outcome.verified
    # one context for the service: the build's body, the early start and the test's dependencies share it
    ctx = log[1]
    assert isinstance(ctx, StageContext) and ctx.config.name == "svc" and log[3] is ctx
    assert early.started[0][0] is ctx and early.deps == [(ctx, "test")]


@pytest.mark.parametrize(
    ("deps", "needs"),
    [
        ((False, True), ()),  # a service without dependencies has nothing to start
        ((False, False), ("mosquitto",)),  # the next stage needs none
        ((True, True), ("mosquitto",)),  # the running stage has its own: it starts the next one's itself
        ((True, False, False), ("mosquitto",)),  # only the stage after counts, not the one before
    ],
)
def test_nothing_starts_early_when_there_is_nothing_to_overlap(
    tmp_path, monkeypatch, early, deps, needs
) -> None:
    names = ["build", "test", "health"][: len(deps)]
    stages = [
        lambda log, n=name, d=flag: _container_stage(n, log, d)
        for name, flag in zip(names, deps, strict=True)
    ]
    log, _ = _run_stages(tmp_path, monkeypatch, stages, needs, early)
    assert early.started == [] and [entry for entry in log if isinstance(entry, str)] == names


def test_the_last_container_stage_starts_nothing(tmp_path, monkeypatch, early) -> None:
    stages = [lambda log: _container_stage("health", log)]
    log, outcome = _run_stages(tmp_path, monkeypatch, stages, ("mosquitto",), early)
    assert early.started == [] and log[0] == "health" and outcome.verified


def test_a_container_stage_is_announced_before_it_runs(tmp_path, monkeypatch, early) -> None:
    events: list[tuple[str, ...]] = []
    monkeypatch.setattr(run_mod, "STAGES", (_container_stage("build", []),))
    run = new_run(tmp_path, "r1", Options(), lambda *e: events.append(e))
    verify_service(run, phase_config(tmp_path, "svc"))
    assert events[0] == ("svc", "build", "started") and events[1][:2] == ("svc", "build")


# --- a stage that raises is that stage's failure ------------------------------------------------------


def _raising(name: str, error: Exception, timeout: str | None = None, cancel: bool = False) -> Stage:
    def body(ctx):
        if cancel:
            ctx.cancelled.set()  # the signal came while the stage ran
        raise error

    return Stage(name, body, timeout=timeout)


@pytest.mark.parametrize("timeout", [None, "build"], ids=["plain", "container"])
def test_a_stage_that_raises_fails_with_the_error_and_its_traceback_in_the_run_folder(
    tmp_path, monkeypatch, early, timeout
) -> None:
    monkeypatch.setattr(run_mod, "STAGES", (_raising("build", RuntimeError("boom"), timeout),))
    run = new_run(tmp_path, "r1", Options(), lambda *e: None)
    outcome = verify_service(run, phase_config(tmp_path, "svc"))
    assert not outcome.verified
    assert [s.to_dict() for s in outcome.stages] == [
        {
            "name": "build",
            "status": "failed",
            "seconds": 0.0,
            "reason": "RuntimeError: boom",
            "log": "build-error.log",
            "details": {},
        }
    ]
    log = (Path(outcome.folder) / "build-error.log").read_text()
    assert log.startswith("Traceback") and "RuntimeError: boom" in log


def test_an_engine_error_of_a_container_stage_is_named_by_the_stage(tmp_path, monkeypatch, early) -> None:
    monkeypatch.setattr(run_mod, "STAGES", (_raising("build", OSError("no space left"), "build"),))
    run = new_run(tmp_path, "r1", Options(), lambda *e: None)
    outcome = verify_service(run, phase_config(tmp_path, "svc"))
    assert [(s.name, s.status, s.reason) for s in outcome.stages] == [
        ("build", "failed", "OSError: no space left")
    ]


def test_a_stage_raising_after_the_interrupt_says_the_run_was_interrupted(
    tmp_path, monkeypatch, early
) -> None:
    monkeypatch.setattr(run_mod, "STAGES", (_raising("migrate", RuntimeError("killed"), cancel=True),))
    run = new_run(tmp_path, "r1", Options(), lambda *e: None)
    outcome = verify_service(run, phase_config(tmp_path, "svc"))
    assert [(s.name, s.status, s.reason, s.log) for s in outcome.stages] == [
        ("migrate", "failed", "run interrupted", "migrate-error.log")
    ]


# --- an interrupted fleet run --------------------------------------------------------------------------


@contextmanager
def _scope(client, run_id, keep=False, built=None):
    """A cleanup that reports an error on the way out, which the run must carry to its result."""
    yield CleanupReport(errors=["scope: network in use"])


@pytest.fixture
def interrupted_engine(monkeypatch) -> Iterator[dict[str, list]]:
    """verify_fleet whose first service sends the process a real SIGINT (the path of Ctrl-C) and then
    waits until the run is cancelled; the engine's cleanup calls are recorded, not made."""
    # what the sweeps find, one report each; the last one repeats
    reports = [CleanupReport()]
    calls: dict[str, list] = {"stop": [], "sweep": [], "verified": [], "reports": reports}

    def sweep(client, run_id) -> CleanupReport:
        calls["sweep"].append((client, run_id))
        return calls["reports"].pop(0) if len(calls["reports"]) > 1 else calls["reports"][0]

    def fake_verify(run, config, slots=None, index=None) -> ServiceOutcome:
        outcome = ServiceOutcome(config.name, config.priority, config.phase, [])
        slots[index] = outcome
        calls["verified"].append(config.name)
        outcome.stages.append(StageResult("copy", "passed"))
        os.kill(os.getpid(), signal.SIGINT)
        run.cancelled.wait(5)
        return outcome

    stand_in_engine(monkeypatch, fake_verify, scope=_scope)
    monkeypatch.setattr(
        run_mod, "stop_run_containers", lambda client, run_id: calls["stop"].append((client, run_id))
    )
    monkeypatch.setattr(run_mod, "remove_labelled", sweep)
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [f"upgrade-of-{config.name}"])
    monkeypatch.setattr(run_mod, "DRAIN_SECONDS", 1.5)
    # long enough that a sweep late by a loaded machine still comes before the deadline; only sweeps
    # that never come clean wait for it
    monkeypatch.setattr(run_mod, "SETTLE_SECONDS", 6.0)
    yield calls
    # the reaper is a daemon thread that outlives the run by design; end it here, so that it never
    # calls the next test's stand-ins
    for thread in threading.enumerate():
        if thread.name.endswith("(_reap)"):
            thread.join(5)


def test_an_interrupted_run_reports_every_service_and_sweeps_until_clean(
    tmp_path, interrupted_engine
) -> None:
    assert threading.current_thread() is threading.main_thread()  # signal handlers live there
    events: list[tuple[str, ...]] = []
    run = new_run(tmp_path, "r9", Options(jobs=1), lambda *e: events.append(e))
    services = [
        phase_config(tmp_path, "first"),
        phase_config(tmp_path, "second"),
        phase_config(tmp_path, "later", "b"),
    ]
    with pytest.raises(FleetInterrupted) as raised:
        verify_fleet(run, services)
    result = raised.value.result
    assert str(raised.value) == "run interrupted" and result.interrupted and run.cancelled.is_set()
    assert interrupted_engine["verified"] == ["first"]  # no new work after the signal
    by_name = {o.name: o for o in result.outcomes}
    assert list(by_name) == ["first", "second", "later"]
    assert [s.name for s in by_name["first"].stages] == ["copy"]  # its stages so far
    for name in ("second", "later"):
        never = by_name[name]
        assert [(s.name, s.status, s.reason) for s in never.stages] == [
            ("not started", "failed", "run interrupted")
        ]
        assert never.migrations == [f"upgrade-of-{name}"]
        assert (never.priority, never.phase, never.verified) == (
            services[1 if name == "second" else 2].priority,
            "a" if name == "second" else "b",
            False,
        )
    assert ("run", "interrupt", "stopping: no new work; in-flight Docker calls drain, then cleanup") in events
    assert interrupted_engine["stop"] and set(interrupted_engine["stop"]) == {("client", "r9")}
    # the run scope's errors are replaced by the sweeps' (here one clean sweep)
    assert interrupted_engine["sweep"] == [("client", "r9")]
    assert result.cleanup_errors == []


@pytest.mark.parametrize(
    "first", [CleanupReport(containers=["c1"]), CleanupReport(errors=["net busy"])], ids=["found", "failed"]
)
def test_sweeps_go_on_after_one_that_found_or_failed_until_a_clean_one(
    tmp_path, interrupted_engine, first
) -> None:
    interrupted_engine["reports"] = [first, CleanupReport()]
    run = new_run(tmp_path, "r9", Options(jobs=1), lambda *e: None)
    with pytest.raises(FleetInterrupted) as raised:
        verify_fleet(run, [phase_config(tmp_path, "first")])
    assert len(interrupted_engine["sweep"]) == 2 and raised.value.result.cleanup_errors == []


def test_sweeps_that_keep_failing_end_at_the_deadline_with_their_errors(
    tmp_path, interrupted_engine, monkeypatch
) -> None:
    monkeypatch.setattr(run_mod, "SETTLE_SECONDS", 2.5)
    interrupted_engine["reports"] = [CleanupReport(errors=["net busy"])]
    run = new_run(tmp_path, "r9", Options(jobs=1), lambda *e: None)
    with pytest.raises(FleetInterrupted) as raised:
        verify_fleet(run, [phase_config(tmp_path, "first")])
    assert raised.value.result.cleanup_errors == ["net busy"]
    assert 1 <= len(interrupted_engine["sweep"]) <= 3  # one a second for SETTLE_SECONDS (2.5 s here)


def test_a_kept_interrupted_run_is_not_swept_and_keeps_the_scopes_errors(
    tmp_path, interrupted_engine
) -> None:
    run = new_run(tmp_path, "r9", Options(jobs=1, keep=True), lambda *e: None)
    with pytest.raises(FleetInterrupted) as raised:
        verify_fleet(run, [phase_config(tmp_path, "first"), phase_config(tmp_path, "second")])
    assert interrupted_engine["sweep"] == []
    assert raised.value.result.cleanup_errors == ["scope: network in use"]


def test_a_run_that_finishes_reports_the_scopes_errors_and_is_not_interrupted(tmp_path, monkeypatch) -> None:
    stand_in_engine(monkeypatch, scope=_scope)
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])
    monkeypatch.setattr(run_mod, "STAGES", ())
    run = new_run(tmp_path, "r2", Options(), lambda *e: None)
    result = verify_fleet(run, [phase_config(tmp_path, "one")])
    assert not result.interrupted and result.cleanup_errors == ["scope: network in use"]
    assert [(o.name, o.verified) for o in result.outcomes] == [("one", True)]


def test_the_time_a_service_queued_is_reported_to_the_hundredth() -> None:
    outcome = _outcome()
    outcome.queued_seconds = 1.23456
    assert outcome.to_dict({})["queued_seconds"] == 1.23


# --- verify only what changed: a service's cache answer, its reuse, and what a run remembers -------------
# The real copy and gate stages and the real cache (sandbox.cache) on a file tree; a stand-in migrate
# stage edits the copy, a stand-in judge passes or fails, and the resolver names fixed images.


class _Images:
    def __init__(self) -> None:
        # what the resolver decided for each image; the record keeps it (Run.images)
        self.decisions = {
            "base": SimpleNamespace(to_dict=lambda: {"ref": "sandbox/base:local", "source": "local"})
        }

    def resolve(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(ref=f"sandbox/{name}:local", digest=f"sha256:{name}")


def _cache_repo(tmp_path: Path) -> ServiceConfig:
    svc = tmp_path / "services" / "svc"
    (svc / "tests").mkdir(parents=True, exist_ok=True)  # each run of a test reads the same service
    (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (svc / "sandbox.toml").write_text("")
    (svc / "app.py").write_text("import asyncio_mqtt\n")
    return load_service(svc)


def _cache_run(tmp_path, monkeypatch, run_id: str, reuse: bool, passes: bool = True, resolver=True):
    def migrate(ctx) -> StageResult:
        ctx.ws.work_path("services/svc/app.py").write_text("import aiomqtt\n")
        return StageResult("migrate", "passed")

    def judge(ctx) -> StageResult:
        return StageResult("test", "passed" if passes else "failed", reason="" if passes else "1 failed")

    stages = (
        Stage("copy", copy_stage),
        Stage("migrate", migrate),
        Stage("test", judge),
        Stage("gate", gate_stage),
    )
    monkeypatch.setattr(run_mod, "STAGES", stages)
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: ["aiomqtt"])
    events: list[tuple[str, ...]] = []
    run = new_run(tmp_path, run_id, Options(reuse=reuse), lambda *e: events.append(e))
    run.resolver = _Images() if resolver else None
    return verify_service(run, _cache_repo(tmp_path)), events


def test_a_verified_result_is_remembered_and_reused_with_its_record_and_diff(tmp_path, monkeypatch) -> None:
    first, _ = _cache_run(tmp_path, monkeypatch, "r1", reuse=True)
    assert first.verified and first.cache["state"] == "first" and first.reused is None
    assert [s.name for s in first.stages] == ["copy", "migrate", "test", "gate"]
    assert cache.load(tmp_path, "svc").run_id == "r1"
    again, events = _cache_run(tmp_path, monkeypatch, "r2", reuse=True)
    assert again.verified and again.stages == [] and again.cache["state"] == "reused"
    entry = cache.load(tmp_path, "svc")
    assert again.reused == {
        "run_id": "r1",
        "verified_at": entry.verified_at,
        "inputs_key": entry.key,
        "folder": ".sandbox/runs/r1/svc",
        "files_changed": 1,
    }
    folder = Path(again.folder)
    assert folder == tmp_path / ".sandbox/runs/r2/svc"
    record = json.loads((folder / RUN_RECORD).read_text())
    assert record["run_id"] == "r1"  # the record travels with the run
    assert record["images"] == {"base": {"ref": "sandbox/base:local", "source": "local"}}
    assert "+import aiomqtt" in (folder / "diff.patch").read_text()
    assert ("svc", "cache", f"reused: {again.cache['why']}") in events
    assert again.to_dict({})["reason"] == again.cache["why"]


def test_without_reuse_the_service_runs_and_says_the_cache_is_off(tmp_path, monkeypatch) -> None:
    _cache_run(tmp_path, monkeypatch, "r1", reuse=True)
    outcome, _ = _cache_run(tmp_path, monkeypatch, "r2", reuse=False)
    assert outcome.cache == {"state": "off", "why": "--no-cache, or a fleet run without --changed: verifying"}
    assert outcome.reused is None and [s.name for s in outcome.stages][-1] == "gate"
    assert cache.load(tmp_path, "svc").run_id == "r2"  # a verified run is remembered either way


def test_a_run_that_does_not_verify_is_forgotten(tmp_path, monkeypatch) -> None:
    _cache_run(tmp_path, monkeypatch, "r1", reuse=True)
    failed, _ = _cache_run(tmp_path, monkeypatch, "r2", reuse=False, passes=False)
    assert not failed.verified and cache.load(tmp_path, "svc") is None
    outcome, _ = _cache_run(tmp_path, monkeypatch, "r3", reuse=True)
    assert outcome.cache["state"] == "first" and outcome.reused is None and outcome.verified


def test_a_verified_run_without_its_record_in_the_run_folder_is_forgotten(tmp_path, monkeypatch) -> None:
    _cache_run(tmp_path, monkeypatch, "r1", reuse=True)
    monkeypatch.setattr(run_mod, "RUN_RECORD", "elsewhere.json")  # the gate wrote verified.json, not this
    outcome, _ = _cache_run(tmp_path, monkeypatch, "r2", reuse=False)
    assert outcome.verified and cache.load(tmp_path, "svc") is None


def test_inputs_that_cannot_be_had_neither_reuse_nor_remember(tmp_path, monkeypatch) -> None:
    _cache_run(tmp_path, monkeypatch, "r1", reuse=True)
    outcome, _ = _cache_run(tmp_path, monkeypatch, "r2", reuse=True, resolver=False)
    assert outcome.cache == {} and outcome.reused is None and outcome.verified
    assert cache.load(tmp_path, "svc").run_id == "r1"  # neither replaced nor forgotten


def test_inputs_that_fail_to_hash_are_named_and_the_service_verifies(tmp_path, monkeypatch) -> None:
    class _Broken(_Images):
        def resolve(self, name: str):
            raise KeyError(name)

    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])
    monkeypatch.setattr(run_mod, "STAGES", ())
    events: list[tuple[str, ...]] = []
    run = new_run(tmp_path, "r1", Options(reuse=True), lambda *e: events.append(e))
    run.resolver = _Broken()
    outcome = verify_service(run, _cache_repo(tmp_path))
    assert outcome.cache == {} and outcome.verified and cache.load(tmp_path, "svc") is None
    assert ("svc", "cache", "inputs not hashed (KeyError: 'migrator'): verifying") in events


def test_the_cache_key_holds_every_input(tmp_path, monkeypatch) -> None:
    """Images (with digests), the targets, the pipeline's own version and --accept-preexisting."""
    _cache_run(tmp_path, monkeypatch, "r1", reuse=True)
    inputs = cache.load(tmp_path, "svc").inputs
    assert inputs.images == {
        name: f"sandbox/{name}:local@sha256:{name}" for name in ("migrator", "base", "mosquitto", "influxdb3")
    }
    assert inputs.tool_version == pipeline_version() and inputs.versions == target_versions()
    assert inputs.options == {"accept_preexisting": False}
    assert list(inputs.paths) == ["services/svc"]


@pytest.mark.parametrize("baseline", [True, False])
def test_every_stage_reads_the_runs_context(tmp_path, monkeypatch, baseline: bool) -> None:
    """What a stage is handed: the run's id, repo, resolver, cancel event, event sink and options."""
    seen: list[StageContext] = []
    monkeypatch.setattr(
        run_mod, "STAGES", (Stage("look", lambda ctx: seen.append(ctx) or StageResult("look", "passed")),)
    )
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: ["aiomqtt"])
    sink = lambda *e: None  # noqa: E731
    run = new_run(tmp_path, "r7", Options(baseline=baseline), sink)
    run.resolver = _Images()
    config = _cache_repo(tmp_path)
    verify_service(run, config)
    ctx = seen[0]
    assert (ctx.run_id, ctx.repo_root, ctx.folder) == ("r7", tmp_path, tmp_path / ".sandbox/runs/r7/svc")
    assert ctx.resolver is run.resolver and ctx.cancelled is run.cancelled and ctx.on_event is sink
    assert ctx.config is config and ctx.migrations == ["aiomqtt"] and ctx.baseline is baseline
    assert ctx.images() == {"base": {"ref": "sandbox/base:local", "source": "local"}}


def test_no_time_to_settle_sweeps_nothing_and_reports_no_errors(
    tmp_path, interrupted_engine, monkeypatch
) -> None:
    monkeypatch.setattr(run_mod, "SETTLE_SECONDS", 0.0)
    run = new_run(tmp_path, "r9", Options(jobs=1), lambda *e: None)
    with pytest.raises(FleetInterrupted) as raised:
        verify_fleet(run, [phase_config(tmp_path, "first")])
    assert interrupted_engine["sweep"] == [] and raised.value.result.cleanup_errors == []


def test_the_reaper_stops_the_runs_containers_once_a_second_during_the_drain(
    tmp_path, interrupted_engine
) -> None:
    """A container a worker creates while its Docker call was in flight goes too (DRAIN_SECONDS 1.5 here)."""
    run = new_run(tmp_path, "r9", Options(jobs=1), lambda *e: None)
    with pytest.raises(FleetInterrupted):
        verify_fleet(run, [phase_config(tmp_path, "first")])
    deadline = time.monotonic() + 3.0
    while len(interrupted_engine["stop"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a third call would come now if the drain did not end it
    assert interrupted_engine["stop"] == [("client", "r9")] * 2


@pytest.mark.parametrize("keep", [True, False])
def test_the_fleet_wires_the_engine_client_into_the_resolver_and_the_runs_cleanup(
    tmp_path, monkeypatch, keep: bool
) -> None:
    wired: dict[str, object] = {}

    class _Logging(FakeResolver):
        def __init__(self, client, on_log) -> None:
            super().__init__(client, on_log)
            wired["resolver"] = client
            on_log("pulled sandbox/base:local")  # the resolver's progress goes to the run's events

    @contextmanager
    def scope(client, run_id, keep=False, built=None):
        wired["scope"] = (client, run_id, keep)
        wired["built"] = built
        yield CleanupReport()

    events: list[tuple[str, ...]] = []
    monkeypatch.setattr(run_mod, "connect", lambda: "client")
    monkeypatch.setattr(run_mod, "Resolver", _Logging)
    monkeypatch.setattr(run_mod, "run_scope", scope)
    monkeypatch.setattr(run_mod, "STAGES", ())
    monkeypatch.setattr(run_mod, "detect_migrations", lambda config: [])
    run = new_run(tmp_path, "r5", Options(keep=keep), lambda *e: events.append(e))
    verify_fleet(run, [phase_config(tmp_path, "one")])
    # the images the run recorded go to the cleanup, which removes them without listing the engine's
    assert wired == {"resolver": "client", "scope": ("client", "r5", keep), "built": run.built}
    assert ("images", "resolve", "pulled sandbox/base:local") in events
