"""One service through resolve → copy → baseline → migrate → build → test → health → gate, and
the fleet through phases A–D.

A service runs the stages of `sandbox.pipeline.STAGES` in order until one fails.

Phases A, B and C run their services in parallel (-j), D one at a time; a phase whose failure
rate exceeds the threshold stops the run before the next phase. Every container, network and
image of the run carries its labels and is removed when the run ends (cleanup.run_scope).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.config import PHASES, ServiceConfig
from sandbox.deps import dependencies
from sandbox.engine import Resolver, connect, run_scope
from sandbox.pipeline import STAGES
from sandbox.pipeline.stage import Events, Stage, StageContext, StageResult, timed, with_deps
from sandbox.upgrades import detect_migrations


@dataclass
class Options:
    baseline: bool = False
    accept_preexisting: bool = False
    keep: bool = False
    jobs: int = 2
    max_failure_rate: float = 0.20


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

    @property
    def success(self) -> bool:
        return self.verified

    @property
    def failed_stage(self) -> StageResult | None:
        return next((stage for stage in self.stages if not stage.ok and stage.status != "skipped"), None)

    def _per_migration(self, blocked: StageResult | None) -> dict[str, bool]:
        """A blocker is charged to the upgrade it blames (the `blockers` of the stage that judged the
        markers: fix, after the hand fixes); a blocker of unknown upgrade, or any other failure, to all."""
        if self.verified:
            return {m: True for m in self.migrations}
        if blocked is not None:
            blamed = {blocker["upgrade"] for blocker in blocked.details.get("blockers", [])}
            if blamed and None not in blamed and blamed <= set(self.migrations):
                return {m: m not in blamed for m in self.migrations}
        return {m: False for m in self.migrations}

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
        per_migration = self._per_migration(blocked)
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
            "reason": ended.reason if ended else "",
            "skipped": ended is not None and ended.status == "skipped",
            "holds_shared": self._holds_shared(),
            "stages": [stage.to_dict() for stage in self.stages],
            "tests": test.details if test else None,
            "markers": (blocked or migrate).details.get("markers", []) if (blocked or migrate) else [],
            "diff": next((s.details["diff"] for s in reversed(self.stages) if "diff" in s.details), {}),
            "preexisting_failures": self.preexisting_failures,
            "images": images,
            "folder": self.folder,
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

    def images(self) -> dict[str, Any]:
        return {
            name: image.to_dict()
            for name, image in (self.resolver.decisions if self.resolver else {}).items()
        }


# --- one service -------------------------------------------------------------------------------------


def verify_service(run: Run, config: ServiceConfig) -> ServiceOutcome:
    outcome = ServiceOutcome(config.name, config.priority, config.phase, detect_migrations(config))
    folder = run.folder / config.name
    folder.mkdir(parents=True, exist_ok=True)
    outcome.folder = str(folder)
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
    )
    try:
        for stage in STAGES:
            if stage.timeout and run.cancelled.is_set():
                _add(run, outcome, StageResult(stage.name, "failed", reason="run interrupted"))
                return outcome
            if stage.timeout:
                run.on_event(config.name, stage.name, "started")
            result = _run_stage(stage, ctx)
            if result is None:
                continue
            outcome.preexisting_failures = ctx.preexisting_failures
            if (
                not _add(run, outcome, result)
                and stage.blocking
                and not _accepted(result, outcome, run.options)
            ):
                return outcome
        outcome.verified = True
        return outcome
    finally:
        ctx.close()


def _run_stage(stage: Stage, ctx: StageContext) -> StageResult | None:
    """Stages with a timeout work in containers: timed, engine errors made results, deps if needed."""
    if stage.needs_deps:
        return with_deps(ctx, stage.name, stage.run)
    if stage.timeout:
        return timed(stage.name, lambda: stage.run(ctx))
    return stage.run(ctx)


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


def verify_fleet(run: Run, services: list[ServiceConfig]) -> FleetResult:
    """Phases in order; parallel within A–C, sequential in D; stop on a failure rate above the limit."""
    result = FleetResult([])
    client = connect()
    run.resolver = Resolver(client, on_log=lambda line: run.on_event("images", "resolve", line))
    with run_scope(client, run.run_id, keep=run.options.keep) as cleanup:
        try:
            known = dependencies()
            needed = {"migrator", "base"} | {
                known[need].image for config in services for need in config.needs
            }
            for name in sorted(needed):
                run.resolver.resolve(name)
            for phase in PHASES:
                members = [config for config in services if config.phase == phase]
                if not members:
                    continue
                jobs = 1 if phase == "d" else max(1, run.options.jobs)
                outcomes = _run_phase(run, members, jobs)
                result.outcomes.extend(outcomes)
                rate = sum(not o.success for o in outcomes) / len(outcomes)
                if rate > run.options.max_failure_rate and phase != PHASES[-1] and _later(services, phase):
                    result.stopped_after = phase
                    run.on_event(
                        "fleet",
                        f"phase {phase.upper()}",
                        f"failure rate {rate:.0%} > "
                        f"{run.options.max_failure_rate:.0%}: stopping before the next phase",
                    )
                    break
        except KeyboardInterrupt:
            run.cancelled.set()
            result.interrupted = True
            raise
    result.cleanup_errors = cleanup.errors
    return result


def _later(services: list[ServiceConfig], phase: str) -> bool:
    return any(PHASES.index(config.phase) > PHASES.index(phase) for config in services)


def _run_phase(run: Run, members: list[ServiceConfig], jobs: int) -> list[ServiceOutcome]:
    if jobs == 1 or len(members) == 1:
        return [verify_service(run, config) for config in members]
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="verify")
    try:
        futures = [pool.submit(verify_service, run, config) for config in members]
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        run.cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=False)


def new_run(repo_root: Path, run_id: str, options: Options, on_event: Events) -> Run:
    folder = repo_root / ".sandbox" / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    return Run(run_id, repo_root, folder, options, on_event)
