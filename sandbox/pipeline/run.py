"""One service through resolve → copy → baseline → migrate → build → test → health → gate, and
the fleet through phases A–D.

Phases A, B and C run their services in parallel (-j), D one at a time; a phase whose failure
rate exceeds the threshold stops the run before the next phase. Every container, network and
image of the run carries its labels and is removed when the run ends (cleanup.run_scope).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import workspace as wsmod
from sandbox.cleanup import run_scope
from sandbox.deps import ServiceDeps
from sandbox.engine import connect
from sandbox.health import health
from sandbox.images import Resolver
from sandbox.inventory import PHASES, ServiceConfig, validate_layout
from sandbox.migrations import detect_migrations, target_versions
from sandbox.promote import record_verified
from sandbox.stages import StageContext, StageResult, build, build_test_image, migrate, run_tests, timed

Events = Callable[[str, str, str], None]
RULE_PREFIX = {"PA": "pytest-asyncio", "TN": "tenacity", "MQ": "aiomqtt", "IX": "influxdb3"}


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

    def _per_migration(self, migrate: StageResult | None) -> dict[str, bool]:
        """A blocker is charged to the upgrade its rule id belongs to; later failures to all."""
        if self.verified:
            return {m: True for m in self.migrations}
        if self.failed_stage is migrate and migrate is not None and migrate.details.get("markers"):
            blamed = {
                RULE_PREFIX.get(marker["text"].split("MIGRATION-BLOCKER(")[-1][:2])
                for marker in migrate.details["markers"]
            }
            return {m: m not in blamed for m in self.migrations}
        return {m: False for m in self.migrations}

    def to_dict(self, images: dict[str, Any]) -> dict[str, Any]:
        migrate = next((s for s in self.stages if s.name == "migrate"), None)
        test = next((s for s in self.stages if s.name == "test"), None)
        # The seeds' results format (name, priority, migrations, overall_success) plus the stages.
        per_migration = self._per_migration(migrate)
        return {
            "name": self.name,
            "priority": self.priority,
            "phase": self.phase.upper(),
            "migrations": per_migration,
            "overall_success": self.verified,
            "failed_stage": self.failed_stage.name if self.failed_stage else None,
            "reason": self.failed_stage.reason if self.failed_stage else "",
            "stages": [stage.to_dict() for stage in self.stages],
            "tests": test.details if test else None,
            "markers": migrate.details.get("markers", []) if migrate else [],
            "diff": migrate.details.get("diff", {}) if migrate else {},
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

    def add(result: StageResult) -> bool:
        outcome.stages.append(result)
        run.on_event(config.name, result.name, _describe(result))
        return result.ok

    problems = validate_layout(config)
    if not add(
        StageResult(
            "resolve",
            "failed" if problems else "passed",
            reason="; ".join(problems),
            details={"migrations": outcome.migrations},
        )
    ):
        return outcome
    if not outcome.migrations:
        add(StageResult("copy", "skipped", reason="no migration applies"))
        return outcome
    ws = wsmod.create(config, run.repo_root, folder)
    add(StageResult("copy", "passed", details={"paths": ws.rel_paths}))
    client = connect()
    ctx = StageContext(client, run.resolver, run.run_id, config, ws, run.cancelled, run.on_event)
    try:
        if run.options.baseline:
            outcome.preexisting_failures = _baseline(ctx, add)
        stages: list[tuple[str, Callable[[], StageResult]]] = [
            ("migrate", lambda: timed("migrate", lambda: migrate(ctx))),
            ("build", lambda: timed("build", lambda: build(ctx))),
            ("test", lambda: _with_deps(ctx, "test", lambda deps: _test(ctx, deps))),
            ("health", lambda: _with_deps(ctx, "health", lambda deps: health(ctx, ctx.image_tag, deps))),
        ]
        for name, stage in stages:
            if run.cancelled.is_set():
                add(StageResult(name, "failed", reason="run interrupted"))
                return outcome
            run.on_event(config.name, name, "started")
            result = stage()
            if not add(result) and not _accepted(result, outcome, run.options):
                return outcome
        record = record_verified(ws, run.run_id, target_versions(), run.images())
        record.save(run.repo_root)
        outcome.verified = True
        add(StageResult("gate", "passed", details={"content_hash": record.before_hashes}))
        return outcome
    finally:
        client.close()


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


def _test(ctx: StageContext, deps: ServiceDeps) -> StageResult:
    image = build_test_image(ctx, ctx.image_tag, ctx.test_image_tag, ctx.ws.service_dir)
    return run_tests(ctx, image, deps.container_env, deps.network)


def _with_deps(ctx: StageContext, name: str, body: Callable[[ServiceDeps], StageResult]) -> StageResult:
    """Fresh dependencies for this stage only, on a private network; their logs kept for failures."""

    def run() -> StageResult:
        images = {need: ctx.resolver.resolve(need) for need in ctx.config.needs}
        with ServiceDeps(
            ctx.client,
            ctx.labels("deps"),
            needs=ctx.config.needs,
            database=_database_name(ctx.config.name),
            images=images,
        ) as deps:
            result = body(deps)
            if not result.ok:
                for dep, text in deps.logs().items():
                    (ctx.ws.folder / f"{name}-{dep}.log").write_text(text)
                result.details["dependency_logs"] = [f"{name}-{dep}.log" for dep in deps.containers]
            result.details["dependencies"] = {dep: round(s, 2) for dep, s in deps.started_in.items()}
            return result

    return timed(name, run)


def _database_name(service: str) -> str:
    return service.replace("_", "-")


def _baseline(ctx: StageContext, add: Callable[[StageResult], bool]) -> list[str]:
    """Build and test the unmodified copy; its failing tests are 'pre-existing'."""
    orig_dir = ctx.ws.orig / ctx.ws.rel_paths[0]
    tag = f"sandbox-run/{ctx.config.name}-baseline:{ctx.run_id}"
    built = timed("baseline", lambda: build(ctx, tag=tag, name="baseline-build", service_dir=orig_dir))
    if not built.ok:
        built.name = "baseline"
        add(built)
        return []

    def body(deps: ServiceDeps) -> StageResult:
        image = build_test_image(ctx, tag, f"{tag}-tests", orig_dir)
        return run_tests(ctx, image, deps.container_env, deps.network, name="baseline")

    result = _with_deps(ctx, "baseline", body)
    failed = list(result.details.get("failed_tests", []))
    result.status = "passed" if result.status in ("passed", "failed") else result.status
    result.reason = f"{len(failed)} test(s) already failing before migration" if failed else ""
    add(result)
    return failed


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
            needed = {"migrator", "base"} | {need for config in services for need in config.needs}
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
