"""One service through resolve → copy → baseline → migrate → build → test → health → gate, and
the fleet through phases A–D.

A service runs the stages of `sandbox.pipeline.STAGES` in order until one fails; while its build runs,
the dependencies of its test and health stages already start (stage.EarlyDeps), also in a fleet while
its checks wait for their turn. With Options.reuse, a service whose
inputs are unchanged since its last verified run reuses that result and runs nothing (sandbox.cache);
every run remembers the inputs of a service that verified and forgets one that did not.

Phases run in order (sandbox.pipeline.schedule): up to -j services prepare (migrate, build) and up to
-j are checked (test, health, gate) at once, D one at a time; the next phase prepares while this
one is checked, but its checks wait for this phase's stop rule, and a phase whose failure rate
exceeds the threshold stops the run before the next phase's checks. Every container, network and
image of the run carries its labels and is removed when the run ends (cleanup.run_scope).
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sandbox import cache
from sandbox.config import PHASES, ServiceConfig, dependents_of
from sandbox.deps import dependencies
from sandbox.deps.relay import RunRelay
from sandbox.deps.service import SharedAccess
from sandbox.engine import Resolver, connect, run_scope
from sandbox.engine.cleanup import (
    Cancellation,
    RunImages,
    Teardowns,
    prune_cache,
    remove_labelled,
    signals_ignored,
    stop_run_containers,
    write_owner,
)
from sandbox.engine.containers import (
    AHEAD_CPU_SHARES,
    BESIDE_CPU_SHARES,
    CHAIN_CPU_SHARES,
    CPU_SHARES,
    host_cores,
)
from sandbox.engine.labels import labels_for
from sandbox.pipeline import STAGES
from sandbox.pipeline.schedule import SERIAL_PHASE, Schedule, Waits
from sandbox.pipeline.shared_migrator import OnDemand, SharedMigrator
from sandbox.pipeline.stage import (
    Events,
    Stage,
    StageContext,
    StageResult,
    start_early,
    timed,
    with_deps,
)
from sandbox.records import RUN_RECORD, VerifiedDiff, pipeline_version, verified_path
from sandbox.upgrades import detect_migrations, target_versions


@dataclass
class Options:
    baseline: bool = False
    accept_preexisting: bool = False
    keep: bool = False
    jobs: int = 2
    max_failure_rate: float = 0.20
    reuse: bool = False  # reuse a verified result whose inputs are unchanged (sandbox.cache)
    # docker build caches kept per service and role, bounded as the run starts; None: every cache kept,
    # under its newest name only (the default: a bound beside another run's build of the same service
    # can remove a layer that build is about to use, which failed a concurrent test run with "unable to
    # find image"; dropping a name never removes a layer)
    cache_keep: int | None = None


@dataclass
class ServiceOutcome:
    name: str
    priority: str
    phase: str
    migrations: list[str]
    stages: list[StageResult] = field(default_factory=list)
    folder: str = ""
    verified: bool = False
    preexisting_failures: list[str] = field(default_factory=list)
    reused: dict[str, Any] | None = None  # set when the result of an earlier verified run is reused
    cache: dict[str, str] = field(default_factory=dict)  # the cache's answer: state and why
    queued_seconds: float = 0.0  # how long the service waited for a free slot of -j
    dropped: bool = False  # a phase before it stopped the run before its checks: not part of the run
    shared_since: list[str] = field(default_factory=list)  # its shared code changed since it last verified

    @property
    def success(self) -> bool:
        return self.verified

    @property
    def failed_stage(self) -> StageResult | None:
        return next((stage for stage in self.stages if not stage.ok and stage.status != "skipped"), None)

    def _per_migration(self) -> dict[str, bool]:
        """Only a service that verified verified its migrations: one that stopped early (a blocker of
        one upgrade included) was never built, tested and health-checked, so it counts as not
        verified for every migration it needed; the report names the stage that stopped it."""
        return {m: self.verified for m in self.migrations}

    def _holds_shared(self) -> list[dict[str, str]]:
        """The shared changes this failed service holds back: its siblings need it verified with them."""
        failed = self.failed_stage
        if self.verified or failed is None:
            return []
        changed = next(
            (s.details["shared_changed"] for s in reversed(self.stages) if "shared_changed" in s.details), []
        )
        why = f"{failed.name}: {failed.reason}".strip(": ")
        return [{"path": rel, "reason": why} for rel in changed]

    def to_dict(self, images: dict[str, Any]) -> dict[str, Any]:
        migrate = next((s for s in self.stages if s.name == "migrate"), None)
        test = next((s for s in self.stages if s.name == "test"), None)
        failed = self.failed_stage
        blocked = failed if failed is not None and failed.details.get("markers") else None
        # The seeds' results format (name, priority, migrations, overall_success) plus the stages.
        per_migration = self._per_migration()
        # A blocking stage that did not apply (no migration at all) ends the service with its reason.
        ended = failed or (
            None if self.verified else next((s for s in self.stages if s.status == "skipped"), None)
        )
        return {
            "name": self.name,
            "priority": self.priority,
            "phase": self.phase.upper(),
            "migrations": per_migration,
            "overall_success": self.verified,
            "failed_stage": ended.name if ended else None,
            "reason": ended.reason if ended else (self.cache.get("why", "") if self.reused else ""),
            "skipped": ended is not None and ended.status == "skipped",
            "holds_shared": self._holds_shared(),
            "stages": [stage.to_dict() for stage in self.stages],
            "tests": test.details if test else None,
            "markers": (blocked or migrate).details.get("markers", []) if (blocked or migrate) else [],
            "diff": next((s.details["diff"] for s in reversed(self.stages) if "diff" in s.details), {}),
            "preexisting_failures": self.preexisting_failures,
            "images": images,
            "folder": self.folder,
            "reused": self.reused,
            "cache": self.cache or None,
            "queued_seconds": round(self.queued_seconds, 2),
        }


@dataclass
class Run:
    run_id: str
    repo_root: Path
    folder: Path
    options: Options
    on_event: Events
    cancelled: threading.Event = field(default_factory=threading.Event)
    resolver_lock: threading.Lock = field(default_factory=threading.Lock)
    resolver: Resolver | None = None
    schedule: Schedule | None = None  # a fleet run's slots and phase gates; None for one service
    built: RunImages = field(default_factory=RunImages)  # the images the run built, removed at its end
    teardowns: Teardowns = field(default_factory=Teardowns)  # removals the stages handed off
    shared_migrator: OnDemand | None = None  # a fleet run's one migrator container, on demand
    shared_access: SharedAccess | None = None  # the run's one access network, made on demand
    relay: RunRelay | None = None  # the run's one relay to its services, started on demand

    def images(self) -> dict[str, Any]:
        return {
            name: image.to_dict()
            for name, image in (self.resolver.decisions if self.resolver else {}).items()
        }


# --- one service -------------------------------------------------------------------------------------


def verify_service(
    run: Run, config: ServiceConfig, slots: list[ServiceOutcome | None] | None = None, index: int = 0
) -> ServiceOutcome:
    outcome = ServiceOutcome(config.name, config.priority, config.phase, detect_migrations(config))
    if slots is not None:
        slots[index] = outcome  # visible to the fleet at once: an interrupt still reports it
    folder = run.folder / config.name
    folder.mkdir(parents=True, exist_ok=True)
    outcome.folder = str(folder)
    inputs = _inputs(run, config)
    outcome.shared_since = _shared_changes(run, config, inputs)
    if inputs is not None and run.options.reuse:
        found = cache.lookup(run.repo_root, config.name, inputs)
        outcome.cache = found.to_dict()
        if found.entry is not None:
            return _reuse(run, outcome, found)
    elif inputs is not None:
        outcome.cache = {"state": "off", "why": "--no-cache, or a fleet run without --changed: verifying"}
    _verify_stages(run, config, outcome, folder)
    if not outcome.dropped:
        _update_cache(run, outcome, inputs, folder)
    return outcome


RELAYED_STAGES = frozenset(stage.name for stage in STAGES if stage.relayed)


def _verify_stages(run: Run, config: ServiceConfig, outcome: ServiceOutcome, folder: Path) -> None:
    ctx = StageContext(
        run_id=run.run_id,
        repo_root=run.repo_root,
        folder=folder,
        resolver=run.resolver,
        config=config,
        migrations=outcome.migrations,
        cancelled=run.cancelled,
        on_event=run.on_event,
        images=run.images,
        baseline=run.options.baseline,
        built=run.built,
        teardowns=run.teardowns,
        shared_migrator=run.shared_migrator,
        shared_access=run.shared_access,
        relay=run.relay,
        relayed_stages=RELAYED_STAGES,
    )
    turn = _Turn(run, config)
    ahead: _Ahead | None = None
    try:
        for index, stage in enumerate(STAGES):
            if not turn.take(stage):
                outcome.dropped = True
                return
            if stage.timeout and run.cancelled.is_set():
                _add(run, outcome, StageResult(stage.name, "failed", reason="run interrupted"))
                return
            ctx.cpu_shares = turn.cpu_shares(stage)
            if stage.timeout:
                run.on_event(config.name, stage.name, "started")
                # Also when its checks will wait for the previous phase or a test slot: their
                # dependencies are then ready when the turn comes (in a fleet, tests waited for
                # their start more than for anything else); a stopped phase discards them unused.
                _start_next_deps(ctx, index)
            if ahead is not None and ahead.stage is stage:
                result, ahead = ahead.result(), None
            else:
                ahead = _Ahead.start(ctx, index, turn.beside_shares()) or ahead
                result = _run_stage(stage, ctx)
            if result is None:
                continue
            if stage.timeout and ctx.cpu_shares != CPU_SHARES and "cpu_shares" not in result.details:
                result.details["cpu_shares"] = ctx.cpu_shares  # a weight off the default, said
            turn.tell(stage, result)
            outcome.preexisting_failures = ctx.preexisting_failures
            if (
                not _add(run, outcome, result)
                and stage.blocking
                and not _accepted(result, outcome, run.options)
            ):
                return
        outcome.verified = True
    finally:
        if ahead is not None:  # the stage before it failed: it stops now, its result is dropped
            ahead.abandon()
        ctx.close()


class _Linked(threading.Event):
    """Set when set itself (a stage beside another was abandoned) or when its parent is (the run
    was interrupted): the stage's waits and polls, which ask `is_set`, end on either."""

    def __init__(self, parent: threading.Event) -> None:
        super().__init__()
        self._parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self._parent.is_set()


class _Ahead:
    """A stage started beside the one before it (Stage.beside_previous), on a thread, with a context
    of its own for its dependencies; the stage loop takes its result in its turn."""

    def __init__(self, stage: Stage, ctx: StageContext, cpu_shares: int) -> None:
        self.stage = stage
        self._stop = _Linked(ctx.cancelled)
        # with_deps sets `deps` per stage: each its own; `cancelled` also ends it when abandoned
        self._ctx = replace(
            ctx,
            deps=None,
            pending_deps=None,
            deps_waited=0.0,
            cancelled=self._stop,
            cpu_shares=cpu_shares,
        )
        self._result: StageResult | None = None
        self._thread = threading.Thread(target=self._run, name=f"{stage.name}-{ctx.config.name}", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, ctx: StageContext, index: int, cpu_shares: int) -> _Ahead | None:
        following = STAGES[index + 1] if index + 1 < len(STAGES) else None
        if following is None or not following.beside_previous or ctx.cancelled.is_set():
            return None
        _ = ctx.client  # connected once here, so both stages share the engine connection
        return cls(following, ctx, cpu_shares)

    def _run(self) -> None:
        self._result = _run_stage(self.stage, self._ctx)
        if self._result is not None:
            self._result.details["ran_beside"] = STAGES[STAGES.index(self.stage) - 1].name
            if self._ctx.cpu_shares != CPU_SHARES:
                self._result.details["cpu_shares"] = self._ctx.cpu_shares

    def result(self) -> StageResult | None:
        self._thread.join()
        return self._result

    def abandon(self) -> None:
        """The stage before it failed: stop it (as an interrupt would) and wait for its cleanup."""
        self._stop.set()
        self._thread.join()


@dataclass
class _Turn:
    """A service's place in a fleet's schedule: its checks (the first stage with dependencies) start
    only once the schedule says so; the first check's details say how long it waited."""

    run: Run
    config: ServiceConfig
    waits: Waits | None = None
    told: bool = False

    def take(self, stage: Stage) -> bool:
        """False: not to be checked (a phase before it stopped the run); it ends here, unreported."""
        schedule = self.run.schedule
        if schedule is None:
            return True
        if stage.timeout and schedule.stopped_before(self.config.phase):  # prepared ahead in vain
            return False
        if not stage.needs_deps or self.waits is not None:
            return True
        go, self.waits = schedule.wait_turn(self.config)
        if not go:
            self.run.on_event(self.config.name, stage.name, "not checked: an earlier phase stopped the run")
        return go

    def cpu_shares(self, stage: Stage) -> int:
        """The CPU weight of the stage's containers: lower for a preparation whose checks would wait
        for the previous phase anyway (prepared ahead), so that phase's checks get the cores first;
        higher for the checks of the one-at-a-time phase (the run's longest chain) in a fleet."""
        schedule = self.run.schedule
        if schedule is not None and stage.needs_deps and self._on_chain():
            return CHAIN_CPU_SHARES
        if schedule is None or stage.needs_deps or self.waits is not None or schedule.turn_open(self.config):
            return CPU_SHARES
        return AHEAD_CPU_SHARES

    def beside_shares(self) -> int:
        """The CPU weight of a stage beside the tests (the health check): in a fleet, lower than the
        tests' (a check round ends with its slowest tests), except on the one-at-a-time phase's chain,
        whose next service waits for this one's health check too; alone, the same."""
        if self.run.schedule is None:
            return CPU_SHARES
        return CHAIN_CPU_SHARES if self._on_chain() else BESIDE_CPU_SHARES

    def _on_chain(self) -> bool:
        return self.config.phase == SERIAL_PHASE

    def tell(self, stage: Stage, result: StageResult) -> None:
        if stage.needs_deps and self.waits is not None and not self.told:
            result.details.update(self.waits.to_details())
            self.told = True


def _start_next_deps(ctx: StageContext, index: int) -> None:
    """While a container stage without dependencies runs (the build), start the dependencies of the
    stage after it (the tests) and of the stages that run beside that one (the health check): their
    start-up and readiness waits overlap the build instead of following it. A failed build discards
    them (StageContext.close)."""
    following = STAGES[index + 1] if index + 1 < len(STAGES) else None
    if following is None or not following.needs_deps or STAGES[index].needs_deps or not ctx.config.needs:
        return
    start_early(ctx, following.name)
    for beside in STAGES[index + 2 :]:
        if not (beside.beside_previous and beside.needs_deps):
            break
        start_early(ctx, beside.name)


# --- verify only what changed (sandbox.cache) ----------------------------------------------------------


def _inputs(run: Run, config: ServiceConfig) -> cache.Inputs | None:
    """The service's inputs now; None when they cannot be had (an invalid sandbox.toml, no resolver):
    then nothing is reused and nothing remembered, the service just runs."""
    if not config.valid or run.resolver is None:
        return None
    try:
        known = dependencies()
        names = ["migrator", "base", *(known[need].image for need in config.needs)]
        with run.resolver_lock:  # images were resolved before the phases: this only reads decisions
            found = {name: run.resolver.resolve(name) for name in names}
        images = {name: f"{image.ref}@{image.digest}" for name, image in found.items()}
        options = {"accept_preexisting": run.options.accept_preexisting}
        tool = pipeline_version()  # the codemods and the stages that judge: either changed, verify again
        return cache.current_inputs(run.repo_root, config, target_versions(), images, tool, options)
    except Exception as exc:  # a path the copy stage will refuse, an unknown need: the stages say why
        run.on_event(config.name, "cache", f"inputs not hashed ({type(exc).__name__}: {exc}): verifying")
        return None


def _shared_changes(run: Run, config: ServiceConfig, inputs: cache.Inputs | None) -> list[str]:
    """The shared paths the service declares whose content changed since its last verified run."""
    entry = cache.load(run.repo_root, config.name) if inputs is not None else None
    if entry is None:
        return []
    return [
        shared
        for shared, rel in zip(config.shared, cache.service_paths(config, run.repo_root)[1:], strict=True)
        if entry.inputs.paths.get(rel) != inputs.paths.get(rel)
    ]


def shared_notes(outcomes: list[ServiceOutcome], fleet: dict[str, ServiceConfig]) -> list[str]:
    """A named verify verifies what was named; when the shared code a verified service declares
    changed since its last verified run, say which services of the fleet outside this run share it
    and how to verify them (their own results still stand on the old shared code)."""
    ran = {outcome.name for outcome in outcomes}
    notes: dict[str, str] = {}
    for outcome in outcomes:
        for shared in outcome.shared_since:
            others = [name for name in dependents_of(shared, fleet) if name not in ran]
            if others and shared not in notes:
                notes[shared] = (
                    f"shared code {shared!r} changed since {outcome.name} last verified; "
                    f"{', '.join(others)} also build with it and were not verified with the change: "
                    f"`sandbox verify {' '.join(others)}` (or `sandbox verify --all --changed`)"
                )
    return list(notes.values())


def _reuse(run: Run, outcome: ServiceOutcome, found: cache.Lookup) -> ServiceOutcome:
    """The earlier run's verified result, named as such: its record and diff are copied into this
    run's folder (a CI artifact carries them to the gate); no stage, no container runs."""
    entry = found.entry
    record = verified_path(run.repo_root, outcome.name)
    folder = Path(outcome.folder)
    shutil.copyfile(record, folder / RUN_RECORD)
    saved = VerifiedDiff.load(run.repo_root, outcome.name)
    (folder / "diff.patch").write_text(saved.diff)
    outcome.verified = True
    outcome.reused = {
        "run_id": entry.run_id,
        "verified_at": entry.verified_at,
        "inputs_key": entry.key,
        "folder": f".sandbox/runs/{entry.run_id}/{outcome.name}",
        "files_changed": len(saved.files),
    }
    run.on_event(outcome.name, "cache", f"reused: {found.why}")
    return outcome


def _update_cache(run: Run, outcome: ServiceOutcome, inputs: cache.Inputs | None, folder: Path) -> None:
    """Remember a verified run's inputs; forget the service after any other ending (failed, blocked,
    interrupted), so only verified results are ever reused."""
    if inputs is None:
        return
    if not outcome.verified:
        cache.forget(run.repo_root, outcome.name)
        return
    try:
        record = VerifiedDiff.load(run.repo_root, outcome.name, folder / RUN_RECORD)
    except Exception:  # no record in the run folder: nothing to bind a reuse to
        cache.forget(run.repo_root, outcome.name)
        return
    cache.remember(run.repo_root, record, inputs)


def _run_stage(stage: Stage, ctx: StageContext) -> StageResult | None:
    """Stages with a timeout work in containers: timed, engine errors made results, deps if needed.

    Any exception a stage raises (a FIFO in the service, a path refused by the copy, a bug) is
    that stage's failure, with its traceback in the run folder: the fleet goes on."""
    try:
        if stage.needs_deps:
            return with_deps(ctx, stage.name, stage.run)
        if stage.timeout:
            return timed(stage.name, lambda: stage.run(ctx))
        return stage.run(ctx)
    except Exception as exc:
        log = ctx.write_log(f"{stage.name}-error.log", traceback.format_exc())
        reason = "run interrupted" if ctx.cancelled.is_set() else f"{type(exc).__name__}: {exc}"
        return StageResult(stage.name, "failed", reason=reason, log=log)


def _add(run: Run, outcome: ServiceOutcome, result: StageResult) -> bool:
    outcome.stages.append(result)
    run.on_event(outcome.name, result.name, _describe(result))
    return result.ok


def _accepted(result: StageResult, outcome: ServiceOutcome, options: Options) -> bool:
    """With --accept-preexisting, test failures that the baseline already had do not fail the service."""
    if result.name != "test" or not options.accept_preexisting or not outcome.preexisting_failures:
        return False
    failed = set(result.details.get("failed_tests", []))
    if failed and failed <= set(outcome.preexisting_failures):
        result.status = "passed"
        result.reason = f"accepted {len(failed)} pre-existing failure(s): {', '.join(sorted(failed)[:3])}"
        return True
    return False


def _describe(result: StageResult) -> str:
    text = f"{result.status} ({result.seconds:.1f}s)"
    return f"{text}: {result.reason}" if result.reason else text


# --- the fleet -----------------------------------------------------------------------------------------


@dataclass
class FleetResult:
    outcomes: list[ServiceOutcome]
    stopped_after: str | None = None  # phase whose failure rate stopped the run
    interrupted: bool = False
    cleanup_errors: list[str] = field(default_factory=list)


class FleetInterrupted(KeyboardInterrupt):
    """The run was interrupted; `result` still lists every service with its last state."""

    def __init__(self, result: FleetResult) -> None:
        super().__init__("run interrupted")
        self.result = result


# How long an interrupted run waits for in-flight Docker calls (a build, a container start) to
# return before it sweeps the run's labels anyway; a second signal skips the wait.
DRAIN_SECONDS = 20.0
# After the sweep of an interrupted run, how long later sweeps may go on finding stragglers.
SETTLE_SECONDS = 15.0


def verify_fleet(run: Run, services: list[ServiceConfig]) -> FleetResult:
    """Phases in order; parallel within A–C, sequential in D; stop on a failure rate above the limit.

    SIGINT and SIGTERM take one path (sandbox.engine.cleanup.Cancellation): the first stops new
    work, stops the run's containers so in-flight waits return, waits (bounded) for the services in
    flight, then the run scope removes everything labelled with the run; a second forces. An
    interrupted run raises FleetInterrupted carrying every service's last state."""
    result = FleetResult([])
    client = connect()
    run.resolver = Resolver(client, on_log=lambda line: run.on_event("images", "resolve", line))
    run.shared_access = SharedAccess(labels_for(run.run_id, "deps"))
    with run_scope(client, run.run_id, keep=run.options.keep, built=run.built) as cleanup:
        bound = _bound_cache(run, {config.name for config in services})
        try:
            with Cancellation(run.cancelled, on_cancel=lambda: _on_cancel(run, client)):
                try:
                    _phases(run, services, result)
                except KeyboardInterrupt:  # the forcing second signal
                    run.cancelled.set()
                if run.cancelled.is_set():
                    result.interrupted = True
                    _add_missing(result, services)
        finally:
            # before the sweep: a removal handed off must not race it (an image still in use), and
            # nothing a stage made may outlive the run; interrupted, the sweep takes what is left
            interrupted = run.cancelled.is_set() or sys.exc_info()[0] is not None
            run.teardowns.join(DRAIN_SECONDS if interrupted else None)
            if run.relay is not None:  # on the access network: it goes first
                run.relay.close()
            run.shared_access.close()  # empty now (interrupted: the sweep removes what is left)
            if interrupted:
                run.built.incomplete()  # a build may have ended unrecorded: the cleanup lists by label
            elif run.built.ids or run.built.cached:  # a run that built caches waits for the bound;
                bound.join()  # one that built none (every result reused) adds none: no wait for the listing
    result.cleanup_errors = cleanup.errors
    if result.interrupted and not run.options.keep:
        with signals_ignored():
            result.cleanup_errors = _settle(client, run.run_id)
    if result.interrupted:
        raise FleetInterrupted(result)
    return result


def _bound_cache(run: Run, names: set[str]) -> threading.Thread:
    """Bound the docker build cache of the run's services (the newest --cache-keep per service and
    role stay; without --cache-keep every cache stays under its newest name only; a name a live run
    gave stays too), on a thread beside the run's first stages: listing
    the cache walks every image of the engine, seconds on a busy one, which the run's end should not
    wait for. The caches this run adds
    are bounded by the next run, so at most N+1 per service and role are ever kept. A run that built
    nothing ends without waiting for it: an untag the engine already received completes anyway."""

    def prune() -> None:
        try:
            done = prune_cache(connect(), run.options.cache_keep, names)
        except Exception as exc:  # the engine hiccuped: the cache stays as it was, said so
            run.on_event("images", "build cache", f"not bounded ({type(exc).__name__}: {exc})")
            return
        if done.images:
            keep = run.options.cache_keep
            what = f"--cache-keep {keep}" if keep is not None else "older names of kept caches"
            run.on_event("images", "build cache", f"dropped {len(done.images)} ({what})")
        for error in done.errors:
            run.on_event("images", "build cache", error)

    thread = threading.Thread(target=prune, name="bound-cache", daemon=True)
    thread.start()
    return thread


def _settle(client, run_id: str) -> list[str]:
    """Sweep until a sweep finds nothing (bounded): a Docker call still in flight after the first
    sweep (a build step's container, a create) may leave one more object, which the next takes."""
    deadline = time.monotonic() + SETTLE_SECONDS
    errors: list[str] = []
    while time.monotonic() < deadline:
        time.sleep(1.0)
        done = remove_labelled(client, run_id)
        errors = done.errors
        if done.total == 0 and not errors:
            break
    return errors


def _on_cancel(run: Run, client) -> None:
    """First signal: say so, and stop the run's containers so waits on them return now."""
    run.on_event("run", "interrupt", "stopping: no new work; in-flight Docker calls drain, then cleanup")
    threading.Thread(target=_reap, args=(client, run.run_id), daemon=True).start()


def _reap(client, run_id: str) -> None:
    """During the drain, remove the run's containers again and again: one a worker creates while
    its call was in flight goes too, so no wait on it outlasts the drain."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        try:
            stop_run_containers(client, run_id)
        except Exception:  # the engine hiccuped: the sweep at the end still removes everything
            pass
        time.sleep(1.0)


def _phases(run: Run, services: list[ServiceConfig], result: FleetResult) -> None:
    known = dependencies()
    needed = {"migrator", "base"} | {known[need].image for config in services for need in config.needs}
    for name in sorted(needed):
        if run.cancelled.is_set():
            return
        run.resolver.resolve(name)
    # one relay for the run's health checks, started by the first (a run that reuses every result
    # starts none)
    run.relay = RunRelay(lambda: run.resolver.resolve("base").ref, labels_for(run.run_id, "relay"))
    ordered = [config for phase in PHASES for config in services if config.phase == phase]
    counts = [(phase, sum(c.phase == phase for c in ordered)) for phase in PHASES]
    run.schedule = Schedule(
        [(phase, count) for phase, count in counts if count],
        run.options.jobs,
        run.options.max_failure_rate,
        run.cancelled,
        on_stop=lambda phase, rate: run.on_event(
            "fleet",
            f"phase {phase.upper()}",
            f"failure rate {rate:.0%} > {run.options.max_failure_rate:.0%}: stopping before the next phase",
        ),
    )
    slots: list[ServiceOutcome | None] = [None] * len(ordered)
    run.shared_migrator = _shared_migrator(run, [config.name for config in ordered])
    try:
        _start_and_join(run, ordered, slots)
    finally:  # also when a second signal forces: the services in flight keep their stages so far
        if run.shared_migrator is not None:
            run.shared_migrator.close()
        result.stopped_after = run.schedule.stopped_after
        result.outcomes.extend(_kept(run, slots))


def _shared_migrator(run: Run, names: list[str]) -> OnDemand | None:
    """One migrator container for the fleet's services (sandbox.pipeline.shared_migrator), started by
    the first migrate stage; a fleet of one keeps the container of its own."""
    if len(names) < 2:
        return None
    labels = labels_for(run.run_id, "migrator")
    return OnDemand(
        lambda: SharedMigrator.start(
            connect(), run.resolver.resolve("migrator").ref, run.folder, names, labels, host_cores()
        ),
        [run.folder / name / "work" for name in names],
    )


def _kept(run: Run, slots: list[ServiceOutcome | None]) -> list[ServiceOutcome]:
    """The run's outcomes in phase order, without the services of phases after a stop: those were at
    most prepared ahead, never checked, so the run did not verify them (the report lists them as not
    run); their run folders go too."""
    stopped = run.schedule.stopped_after if run.schedule else None
    last = PHASES.index(stopped) if stopped else len(PHASES)
    kept = []
    for outcome in (slot for slot in slots if slot is not None):
        if PHASES.index(outcome.phase) <= last and not outcome.dropped:
            kept.append(outcome)
        else:
            shutil.rmtree(outcome.folder, ignore_errors=True)
    return kept


def _add_missing(result: FleetResult, services: list[ServiceConfig]) -> None:
    """An interrupted run's report lists every service: those never started say so."""
    seen = {outcome.name for outcome in result.outcomes}
    for config in services:
        if config.name not in seen:
            outcome = ServiceOutcome(config.name, config.priority, config.phase, detect_migrations(config))
            outcome.stages.append(StageResult("not started", "failed", reason="run interrupted"))
            result.outcomes.append(outcome)


def _start_and_join(run: Run, ordered: list[ServiceConfig], slots: list[ServiceOutcome | None]) -> None:
    """Start the services in the schedule's launch order (phase order, or phase D first when no stop
    rule can bind), each once the schedule lets it prepare, on daemon threads.

    Daemon threads: a worker stuck in a Docker call after an interrupt never holds the process
    open (a ThreadPoolExecutor's workers are joined at exit). Each slot records the outcome
    object as soon as it exists, so an interrupted service still reports its stages so far."""
    schedule = run.schedule
    threads = []
    for index in schedule.launch_order([config.phase for config in ordered]):
        config = ordered[index]
        if not schedule.may_launch(config.phase):  # cancelled, or an earlier phase stopped the run
            break
        begin = time.monotonic()
        if not schedule.acquire_prepare(config.name):
            break
        thread = threading.Thread(
            target=_worker,
            args=(run, config, slots, index, time.monotonic() - begin),
            name=f"verify-{config.name}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    _join(run, threads)


def _worker(
    run: Run, config: ServiceConfig, slots: list[ServiceOutcome | None], index: int, queued: float = 0.0
) -> None:
    try:
        verify_service(run, config, slots, index).queued_seconds = queued
    except Exception as exc:  # outside any stage (a bad config attribute, a bug): still this service's
        outcome = slots[index] or ServiceOutcome(config.name, config.priority, config.phase, [])
        outcome.stages.append(StageResult("pipeline", "failed", reason=f"{type(exc).__name__}: {exc}"))
        slots[index] = outcome
    finally:
        outcome = slots[index]
        run.schedule.finish(config, outcome is not None and outcome.success)


def _join(run: Run, threads: list[threading.Thread]) -> None:
    """Wait for the workers; once interrupted, only DRAIN_SECONDS more."""
    deadline: float | None = None
    for thread in threads:
        while thread.is_alive():
            if run.cancelled.is_set() and deadline is None:
                deadline = time.monotonic() + DRAIN_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                return
            thread.join(0.2)


def new_run(repo_root: Path, run_id: str, options: Options, on_event: Events) -> Run:
    folder = repo_root / ".sandbox" / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    write_owner(folder, run_id)
    return Run(run_id, repo_root, folder, options, on_event)
