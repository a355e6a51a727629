"""The bodies of the `sandbox` commands, one function each: verify, fix, plan, gate, promote, report,
doctor, images, images_build, clean. Each returns an exit code of `sandbox.output.ExitCode`;
`sandbox.cli` only parses arguments and calls these.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docker.errors import APIError, BuildError
from rich.table import Table

from sandbox.config import (
    PHASES,
    ConfigError,
    ServiceConfig,
    dependents_of,
    discover_repo,
    json_schema,
    repo_root,
    repo_settings,
    shard,
)
from sandbox.engine import (
    BUILD_ORDER,
    SPECS,
    EngineUnavailable,
    ImageUnavailable,
    Resolver,
    build_all,
    connect,
    new_run_id,
)
from sandbox.engine import doctor as doctor_checks
from sandbox.engine.cleanup import (
    dead_run_folders,
    dead_temp_folders,
    drop_cache,
    engine_runs,
    kept_objects,
    remove_folders,
    remove_matching,
    remove_runs,
    run_scope,
)
from sandbox.engine.labels import project_filter
from sandbox.fixes import (
    FixError,
    apply_fixes,
    drop_fix,
    edited_diff,
    git,
    init_history,
    list_fixes,
    save_fix,
)
from sandbox.output import ExitCode, Output
from sandbox.pipeline import STAGES
from sandbox.pipeline import copy as copy_stage
from sandbox.pipeline import migrate as migrate_stage
from sandbox.pipeline import resolve as resolve_stage
from sandbox.pipeline.fix import consume_fixes, judge_markers
from sandbox.pipeline.run import FleetResult, Options, ServiceOutcome, new_run, shared_notes, verify_fleet
from sandbox.pipeline.stage import StageContext, StageResult, timed
from sandbox.promote import PromotionRefused, check_service_name
from sandbox.promote import promote as promote_one
from sandbox.promote import revert as revert_one
from sandbox.records import gate_check, state_dir
from sandbox.report import (
    build_report,
    compare,
    comparison_text,
    find_run,
    junit_xml,
    load_report,
    merge_reports,
    not_run_reason,
    seeds_results,
    summary_markdown,
    summary_text,
    write_html,
    write_reports,
)
from sandbox.report import history as run_history
from sandbox.upgrades import detect_migrations, target_versions


class UsageError(ValueError):
    """The command line asks for something impossible; the message says what to change."""


@dataclass(frozen=True)
class Selection:
    """Which services a command acts on: names, or --all / --phase, optionally one --shard K/N."""

    names: tuple[str, ...] = ()
    all_services: bool = False
    phase: str | None = None
    shard: str | None = None


def _fleet() -> dict[str, ServiceConfig]:
    """The repo's services; a broken sandbox.toml makes only its own service invalid. None at all is an
    error: a nightly `verify --all` or a `gate` over nothing would otherwise pass with nothing checked."""
    settings = repo_settings()
    fleet = discover_repo(settings)
    if not fleet:
        raise ConfigError(
            f"no services under {settings.services_root}: a service is a folder there with a Dockerfile "
            "or a sandbox.toml (the folder is set by `services` in pyproject.toml [tool.sandbox])"
        )
    return fleet


def select(selection: Selection, fleet: dict[str, ServiceConfig]) -> list[ServiceConfig]:
    """The services a command acts on; UsageError otherwise."""
    unknown = [name for name in selection.names if name not in fleet]
    if unknown:
        raise UsageError(f"unknown service {', '.join(unknown)}; known: {', '.join(fleet)}")
    phase = selection.phase
    if phase and phase.lower() not in (*PHASES, "all"):
        raise UsageError(f"--phase {phase!r}: expected a, b, c, d or all")
    if selection.names:
        chosen = [fleet[name] for name in selection.names]
    elif selection.all_services or phase:
        wanted = PHASES if not phase or phase.lower() == "all" else (phase.lower(),)
        chosen = [config for config in fleet.values() if config.phase in wanted]
    else:
        raise UsageError("name services, or use --all / --phase")
    if selection.shard:
        keep = set(shard([config.name for config in chosen], selection.shard))
        chosen = [config for config in chosen if config.name in keep]
    return chosen


def auto_jobs() -> int:
    """Services in parallel: each holds a service, its tests and two dependencies (~2 GB, 1 core)."""
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gb = 4
    return max(1, min(os.cpu_count() or 1, int(memory_gb // 3), 4))


@dataclass(frozen=True)
class CacheChoice:
    """--changed / --no-cache of `sandbox verify` (sandbox.cache)."""

    changed: bool = False
    no_cache: bool = False

    def reuse(self, selection: Selection) -> bool:
        """Reuse unchanged verified results? Named services: yes unless --no-cache (a developer's loop).
        --all / --phase: only with --changed, so a plain fleet run stays a full run; the nightly says
        --changed, its weekly run --no-cache."""
        if self.changed and self.no_cache:
            raise UsageError("--changed and --no-cache contradict each other: choose one")
        if self.no_cache:
            return False
        return self.changed or bool(selection.names)


def parse_jobs(text: str) -> int:
    count = auto_jobs() if text == "auto" else int(text)
    if count < 1:
        raise UsageError("-j must be at least 1")
    return count


# --- verify ------------------------------------------------------------------------------------------


def verify(
    selection: Selection,
    options: Options,
    out: Output,
    jobs: str = "auto",
    promote_after: bool = False,
    as_json: bool = False,
    cache: CacheChoice | None = None,
) -> int:
    """Migrate, build, test and health-check the selected services; `jobs` (-j) overrides options.jobs;
    `cache` chooses which unchanged verified results are reused (CacheChoice.reuse)."""
    try:
        fleet = _fleet()
        chosen = select(selection, fleet)
        reuse = (cache or CacheChoice()).reuse(selection)
        options = replace(options, jobs=parse_jobs(jobs), reuse=reuse)
    except (ValueError, ConfigError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    if options.accept_preexisting and not options.baseline:
        out.error("--accept-preexisting needs --baseline (pre-existing failures come from the baseline)")
        return ExitCode.USAGE
    run = new_run(repo_root(), new_run_id(), options, out.event)
    out.build_log = run.folder / "images.log"
    out.event(
        "run", "start", f"{run.run_id}: {len(chosen)} service(s), -j {options.jobs}, folder {run.folder}"
    )
    begin = time.monotonic()
    started_at = datetime.now(UTC)
    result = None
    try:
        with out.live():
            result = verify_fleet(run, chosen)
    except (EngineUnavailable, ImageUnavailable) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except KeyboardInterrupt as exc:  # FleetInterrupted carries every service's last state
        result = getattr(exc, "result", None)
    interrupted = result is None or result.interrupted
    outcomes = [o.to_dict(run.images()) for o in (result.outcomes if result else [])]
    report = build_report(
        run.run_id,
        outcomes,
        run.images(),
        time.monotonic() - begin,
        result.stopped_after if result else None,
        interrupted,
        repo_root=run.repo_root,
        started_at=started_at,
        not_run=_not_run(chosen, outcomes, result),
    )
    write_reports(run.folder, report)
    if as_json:
        out.json(report)
    else:
        out.line(summary_text(report, run.folder))
    for problem in result.cleanup_errors if result else []:
        out.warning(f"cleanup: {problem}; `sandbox clean` retries")
    for line in shared_notes(result.outcomes if result else [], fleet):
        out.note(line)
    if options.keep:
        for line in kept_objects(connect(), run.run_id).lines(run.run_id):
            out.note(line)
    if interrupted:
        return ExitCode.INTERRUPTED
    if promote_after:
        verified = [o["name"] for o in outcomes if o["overall_success"]]
        if verified and promote(verified, out) != ExitCode.OK:
            return ExitCode.FAILED
    totals = report["totals"]
    return (
        ExitCode.OK
        if totals["failed"] == 0 and not totals["not_run"] and not result.stopped_after
        else ExitCode.FAILED
    )


def _not_run(chosen: list[ServiceConfig], outcomes: list[dict], result: FleetResult | None) -> list[dict]:
    """Selected services that never started (a later phase after the failure-rate stop, an
    interrupt): listed in the report as not run, with why, never silently missing."""
    why = not_run_reason(result.stopped_after if result else None, result is None)
    ran = {outcome["name"] for outcome in outcomes}
    return [
        {
            "name": config.name,
            "priority": config.priority,
            "phase": config.phase,
            "migrations": detect_migrations(config),
            "reason": why,
        }
        for config in chosen
        if config.name not in ran
    ]


def verify_skipped(selection: Selection, reason: str, out: Output, as_json: bool = False) -> int:
    """Run nothing; write a report in which every selected service is skipped with `reason`, so a
    phase that an earlier phase's failure rate stopped is reported, never silently missing."""
    try:
        chosen = select(selection, _fleet())
    except (ValueError, ConfigError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    run_id = new_run_id()
    folder = repo_root() / ".sandbox" / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    report = _skipped_report(run_id, chosen, reason)
    write_reports(folder, report)
    if as_json:
        out.json(report)
    else:
        out.line(summary_text(report, folder))
    return ExitCode.OK


def _skipped_report(run_id: str, chosen: list[ServiceConfig], reason: str) -> dict[str, Any]:
    """The report of a skipped shard. The reports branch's build_report lists such services as
    `not_run`; until both branches meet, the stage-by-stage skipped outcome stands in for it."""
    if "not_run" in inspect.signature(build_report).parameters:
        not_run = [
            {
                "name": c.name,
                "priority": c.priority,
                "phase": c.phase,
                "migrations": detect_migrations(c) if c.valid else [],
                "reason": reason,
            }
            for c in chosen
        ]
        return build_report(run_id, [], {}, 0.0, None, False, not_run=not_run)  # type: ignore[call-arg]
    return build_report(run_id, [_skipped_outcome(c, reason) for c in chosen], {}, 0.0, None, False)


def _skipped_outcome(config: ServiceConfig, reason: str) -> dict[str, Any]:
    stages = [StageResult(stage.name, "skipped", reason=reason) for stage in STAGES]
    migrations = detect_migrations(config) if config.valid else []
    outcome = ServiceOutcome(config.name, config.priority, config.phase, migrations, stages)
    return {**outcome.to_dict({}), "skipped": True, "reason": reason}


def _reports_in(paths: list[Path]) -> list[dict[str, Any]]:
    files = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("report.json")))]
    documents = [json.loads(file.read_text()) for file in files]
    # A run folder's per-service report.json has no "services": only whole-run reports count.
    return [document for document in documents if isinstance(document.get("services"), dict)]


def phase_status(
    paths: list[Path], phase: str, max_failure_rate: float, out: Output, as_json: bool = False
) -> int:
    """The stop rule over a whole phase from all its shards' reports: 0 go on, 1 stop later phases."""
    if phase.lower() not in PHASES:
        out.error(f"--phase {phase!r}: expected a, b, c or d")
        return ExitCode.USAGE
    try:
        documents = _reports_in(paths)
    except (OSError, json.JSONDecodeError) as exc:
        out.error(f"reading reports: {exc}")
        return ExitCode.USAGE
    services = {
        name: outcome
        for document in documents
        for name, outcome in document["services"].items()
        if str(outcome.get("phase", "")).lower() == phase.lower()
        and not outcome.get("skipped")
        and outcome.get("status") != "not-run"
    }
    failed = sorted(name for name, outcome in services.items() if not outcome.get("overall_success"))
    rate = len(failed) / len(services) if services else 0.0
    stop = rate > max_failure_rate
    reason = (
        f"phase {phase.upper()}: {len(failed)}/{len(services)} failed ({rate:.0%} > {max_failure_rate:.0%}): "
        f"{', '.join(failed)}"
        if stop
        else ""
    )
    status = {"phase": phase.upper(), "services": len(services), "failed": failed, "rate": rate, "stop": stop}
    if as_json:
        out.json({**status, "reason": reason})
    else:
        out.line(reason or f"phase {phase.upper()}: {len(failed)}/{len(services)} failed; later phases run")
    return ExitCode.FAILED if stop else ExitCode.OK


def config_schema(out: Output) -> int:
    """The JSON Schema of sandbox.toml on stdout."""
    out.line(json.dumps(json_schema(), indent=2, sort_keys=True))
    return ExitCode.OK


# --- fix: hand fixes on top of the codemod output -----------------------------------------------------


def fix_folder(service: str) -> Path:
    return state_dir(repo_root()) / "fix" / service


def fix(
    service: str,
    out: Output,
    save: str | None = None,
    reason: str | None = None,
    list_only: bool = False,
    drop: str | None = None,
    discard: bool = False,
) -> int:
    """Prepare the editable migrated copy (default), or save / list / drop the service's fixes."""
    try:
        fleet = _fleet()
        if service not in fleet:
            raise UsageError(f"unknown service {service}; known: {', '.join(fleet)}")
        config = fleet[service]
        if list_only:
            return _list_fixes(config, out)
        if drop:
            path = drop_fix(config.path, drop)
            out.line(f"dropped {path.relative_to(repo_root())}")
            return ExitCode.OK
        if save:
            return _save_fix(config, save, reason, out)
        return _prepare_fix(config, out, discard)
    except (ValueError, ConfigError, FixError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except (EngineUnavailable, ImageUnavailable) as exc:
        out.error(str(exc))
        return ExitCode.USAGE


def _list_fixes(config: ServiceConfig, out: Output) -> int:
    fixes = list_fixes(config.path)
    if not fixes:
        out.line(f"{config.name}: no fixes")
    for item in fixes:
        first = item.reason.splitlines()[0] if item.reason else ""
        out.line(f"{item.path.relative_to(repo_root())}  {first}")
    return ExitCode.OK


def _save_fix(config: ServiceConfig, name: str, reason: str | None, out: Output) -> int:
    work = fix_folder(config.name) / "work"
    if not (work / ".git").is_dir():
        raise UsageError(f"no fix copy of {config.name} is prepared; run `sandbox fix {config.name}` first")
    path = save_fix(config.path, name, reason or name, edited_diff(work))
    # The saved edits become the base of the copy: a further --save stores only what follows.
    git(work, "commit", "-q", "-m", f"fix {name}")
    out.line(f"saved {path.relative_to(repo_root())}")
    out.line(f"next: review and commit it, then run `sandbox verify {config.name}`")
    return ExitCode.OK


def _prepare_fix(config: ServiceConfig, out: Output, discard: bool) -> int:
    """resolve → copy → migrate (the verify stages) → existing fixes, then a git history to edit on."""
    folder = fix_folder(config.name)
    work = folder / "work"
    if (work / ".git").is_dir() and not discard and edited_diff(work).strip():
        raise UsageError(
            f"{work} holds unsaved edits; save them (`sandbox fix {config.name} --save NAME`) "
            "or start over with --discard"
        )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ctx = _fix_context(config, folder, out)
    # The run's scope as verify's: its migrator container goes on Ctrl-C and SIGTERM too.
    with run_scope(ctx.resolver.client, ctx.run_id):
        try:
            for name, stage in (("resolve", resolve_stage.resolve), ("copy", copy_stage.copy)):
                result = stage(ctx)
                if not result.ok:
                    out.error(f"{name}: {result.reason or result.status}")
                    return ExitCode.FAILED
            result = timed("migrate", lambda: migrate_stage.migrate(ctx))
            if not result.ok:
                out.error(f"migrate: {result.reason}; see {folder / 'migrate.log'}")
                return ExitCode.FAILED
            saved = list_fixes(ctx.ws.orig / ctx.ws.rel_paths[0])
            applied = apply_fixes(ctx.ws.work, saved, folder / "rejects")
        finally:
            ctx.close()
    shutil.rmtree(ctx.ws.orig, ignore_errors=True)  # the base lives in the git history now
    consume_fixes(ctx.ws)  # applied, they are part of the code to edit; the repo keeps the patches
    init_history(work, "codemods and the saved fixes")
    (work / ".git" / "info" / "exclude").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n.ruff_cache/\n")
    _describe_fix_copy(config, ctx, applied, out)
    return ExitCode.OK


def _fix_context(config: ServiceConfig, folder: Path, out: Output) -> StageContext:
    return StageContext(
        run_id=f"fix-{config.name}-{new_run_id()}",
        repo_root=repo_root(),
        folder=folder,
        resolver=Resolver(connect(), on_log=out.progress),
        config=config,
        migrations=detect_migrations(config),
        cancelled=threading.Event(),
        on_event=out.event,
        images=dict,
    )


def _describe_fix_copy(config: ServiceConfig, ctx: StageContext, applied, out: Output) -> None:
    work = ctx.ws.work
    out.line(f"fix copy of {config.name}: {work / ctx.ws.rel_paths[0]}")
    out.line(f"  (repo-relative layout under {work}; `git -C {work} diff` shows only your edits)")
    if applied.applied:
        out.line(f"  fixes applied: {', '.join(applied.applied)}")
    if not applied.ok:
        out.warning(
            f"fix {applied.failed} no longer applies; its rejected hunks are in {ctx.folder / 'rejects'}: "
            f"redo it in the copy, then `sandbox fix {config.name} --drop {applied.failed}` and "
            f"`--save {applied.failed}`"
        )
    judged = judge_markers(ctx, None, {})
    for marker in judged.details["markers"]:
        out.line(f"  blocker: {marker['path']}:{marker['line']}: {marker['text']}")
    out.line(
        f"next: edit the files, then `sandbox fix {config.name} --save NAME --reason TEXT` "
        f"and `sandbox verify {config.name}`"
    )


# --- plan, promote, gate, report ---------------------------------------------------------------------


def plan(
    selection: Selection, out: Output, as_json: bool = False, matrix: bool = False, shards: int = 0
) -> int:
    """Services, priorities, phases and the migrations that apply (default: all services); invalid
    sandbox.toml files are shown as invalid and make the exit code 1."""
    if shards < 0:
        out.error(f"--shards {shards}: must be at least 1")
        return ExitCode.USAGE
    try:
        fleet = _fleet()
        chosen = select(replace(selection, all_services=selection.all_services or not selection.names), fleet)
    except (ValueError, ConfigError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    if matrix:
        out.line(json.dumps(_matrix(chosen, shards, selection.phase)))
        return ExitCode.OK
    rows = [_plan_row(config, fleet) for config in chosen]
    code = ExitCode.FAILED if any(row["invalid"] for row in rows) else ExitCode.OK
    if as_json:
        out.json(rows)
        return code
    out.line(f"{'service':<22} {'priority':<9} phase  migrations / shared code")
    for row in sorted(rows, key=lambda r: (r["phase"], r["name"])):
        if row["invalid"]:
            out.line(f"{row['name']:<22} {row['priority']:<9} {row['phase']:<6} INVALID sandbox.toml")
            for problem in row["invalid"].splitlines():
                out.line(f"    {problem}")
            continue
        shared = "; ".join(
            f"{s} (also {', '.join(n for n in users if n != row['name']) or 'none'})"
            for s, users in row["shared_with"].items()
        )
        out.line(
            f"{row['name']:<22} {row['priority']:<9} {row['phase']:<6} {', '.join(row['migrations']) or '-'}"
            + (f" | shared: {shared}" if shared else "")
        )
    return code


def _matrix(chosen: list[ServiceConfig], shards: int, phase: str | None) -> dict[str, list[dict[str, str]]]:
    """A CI job matrix: never more shards than services, never empty (GitHub refuses an empty one)."""
    count = shards or max(1, (len(chosen) + 1) // 2)
    count = max(1, min(count, len(chosen)))
    entry = {"phase": phase.lower()} if phase else {}
    return {"include": [{**entry, "shard": f"{k}/{count}"} for k in range(1, count + 1)]}


def _plan_row(config: ServiceConfig, fleet: dict[str, ServiceConfig]) -> dict:
    return {
        "name": config.name,
        "priority": config.priority,
        "phase": config.phase.upper(),
        "invalid": config.error,
        "migrations": detect_migrations(config) if config.valid else [],
        "needs": list(config.needs),
        "shared": list(config.shared),
        "shared_with": {s: dependents_of(s, fleet) for s in config.shared},
    }


def promote(names: list[str], out: Output, all_verified: bool = False, revert: bool = False) -> int:
    """Apply (or revert) verified diffs, all or nothing per service."""
    repo = repo_root()
    if all_verified:
        names = sorted(p.stem for p in (state_dir(repo) / "verified").glob("*.json"))
    if not names:
        out.error("name services to promote, or use --all-verified")
        return ExitCode.USAGE
    try:
        fleet = _fleet()
    except ConfigError as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    code = ExitCode.OK
    for name in names:
        try:
            check_service_name(name, fleet)
            files = revert_one(repo, name) if revert else promote_one(repo, name, fleet)
        except PromotionRefused as exc:
            out.error(f"promote refused: {exc}")
            code = ExitCode.FAILED
            continue
        verb = "reverted" if revert else "promoted"
        out.line(f"{verb} {name}: {len(files)} file(s)" + "".join(f"\n  {f}" for f in files))
    return code


def gate(names: list[str], out: Output, records: str | None = None, as_json: bool = False) -> int:
    """0 only if every service named (default: all) passes the gate (sandbox.records: a verified diff
    ready for its current content, or its current content exactly what was verified and promoted).
    `records`: read the records from a run folder or a downloaded CI artifact instead of this clone."""
    try:
        fleet = _fleet()
        chosen = names or list(fleet)
        unknown = [name for name in chosen if name not in fleet]
        if unknown:
            raise UsageError(f"unknown service {', '.join(unknown)}")
        source = Path(records) if records else None
        if source is not None and not source.exists():
            raise UsageError(f"--records {records}: no such file or folder")
    except (ValueError, ConfigError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    targets = target_versions()
    results = [gate_check(repo_root(), name, targets, source) for name in chosen]
    if as_json:
        out.json({"ok": all(r.ok for r in results), "services": [asdict(r) for r in results]})
    else:
        for result in results:
            out.line(f"{'PASS' if result.ok else 'FAIL'} {result.service}: {result.why}")
    return ExitCode.OK if all(r.ok for r in results) else ExitCode.FAILED


REPORT_FORMATS = ("text", "json", "md", "junit", "seeds")


@dataclass(frozen=True)
class ReportRequest:
    """What `sandbox report` shows: a run in a format, a comparison, or the HTML page."""

    runs: tuple[str, ...] = ()
    format: str = "text"
    compare: bool = False
    merge: bool = False
    html: bool = False
    output: str | None = None
    last: int = 10


def report(request: ReportRequest, out: Output) -> int:
    """A run's report again (default: the latest run), its comparison with earlier runs, or its page."""
    repo = repo_root()
    problem = _report_usage(request)
    if problem:
        out.error(problem)
        return ExitCode.USAGE
    folders = [find_run(repo, run_id) for run_id in request.runs or (None,)]
    if None in folders:
        missing = next(r for r, f in zip(request.runs or ("(latest)",), folders, strict=True) if f is None)
        out.error(f"no report for run {missing} under {repo / '.sandbox' / 'runs'}")
        return ExitCode.USAGE
    documents = [load_report(folder) for folder in folders]
    if request.merge:
        documents, folders = _merge(repo, documents)
    if request.compare:
        return _compare(repo, documents, request, out)
    document = documents[0]
    if request.html:
        page = write_html(repo, document, Path(request.output) if request.output else None, request.last)
        out.line(f"wrote {_shown(page, repo)}")
        return ExitCode.OK
    _print_report(document, folders[0], request.format, out)
    totals = document["totals"]
    return ExitCode.OK if totals["failed"] == 0 and not totals.get("not_run") else ExitCode.FAILED


def _report_usage(request: ReportRequest) -> str | None:
    if request.format not in REPORT_FORMATS:
        return f"--format {request.format!r}: expected one of {', '.join(REPORT_FORMATS)}"
    if request.last < 1:
        return "--last must be at least 1"
    if request.merge and len(request.runs) < 2:
        return "--merge needs two runs or more (a night's shards)"
    if not request.merge and len(request.runs) > (2 if request.compare else 1):
        return "name one run (two with --compare: the older, then the newer)"
    return None


def _merge(repo: Path, documents: list[dict]) -> tuple[list[dict], list[Path]]:
    """The runs as one: written as a run of its own (report.json, junit.xml, summary.md, a history line)."""
    merged = merge_reports(documents)
    folder = repo / ".sandbox" / "runs" / merged["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    write_reports(folder, merged)
    return [merged], [folder]


def _print_report(document: dict, folder: Path, fmt: str, out: Output) -> None:
    if fmt == "json":
        out.json(document)
    elif fmt == "seeds":
        out.json(seeds_results(document))
    elif fmt == "md":
        out.line(summary_markdown(document))
    elif fmt == "junit":
        out.line(junit_xml(document).decode())
    else:
        out.line(summary_text(document, folder))


def _compare(repo: Path, documents: list[dict], request: ReportRequest, out: Output) -> int:
    """Regressions and fixes: two runs against each other, or one run against the history before it."""
    entries = [run_history.entry_from_report(document) for document in documents]
    if len(entries) == 2:
        result = compare(entries[1], [entries[0]], against=entries[0]["run_id"])
    else:
        earlier = [e for e in run_history.load(repo / ".sandbox") if e["run_id"] < entries[0]["run_id"]]
        result = compare(entries[0], earlier)
    if request.format == "json":
        out.json(result.to_dict())
    else:
        out.line(comparison_text(result))
    return ExitCode.FAILED if result.regressions else ExitCode.OK


def _shown(path: Path, repo: Path) -> str:
    """A path relative to the repo when it is inside it."""
    try:
        return str(path.resolve().relative_to(repo.resolve()))
    except ValueError:
        return str(path)


# --- the engine: doctor, images, clean ---------------------------------------------------------------


def doctor(out: Output) -> int:
    """One OK/WARN/FAIL line per check; 0 only when all are OK, 2 when one FAILs."""
    checks = doctor_checks.run_checks()
    code = doctor_checks.render(checks, out.line)
    return ExitCode.USAGE if any(check.status == "FAIL" for check in checks) else code


def images(out: Output) -> int:
    """Each logical image, what it resolves to, and its digest."""
    try:
        resolver = Resolver(connect(), on_log=out.progress)
        table = Table("logical", "official", "resolves to", "source", "digest")
        for name in BUILD_ORDER:
            found = resolver.resolve(name)
            table.add_row(name, SPECS[name].official or "-", found.ref, found.source, found.digest[:19])
    except EngineUnavailable as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except (ImageUnavailable, BuildError, APIError) as exc:
        out.error(f"resolving images: {exc}")
        return ExitCode.USAGE
    out.rich(table)
    return ExitCode.OK


def images_build(names: list[str], out: Output, force: bool = False) -> int:
    """Build the local images (offline base first), reusing them when their inputs did not change."""
    wanted = names or list(BUILD_ORDER)
    unknown = [name for name in wanted if name not in SPECS]
    if unknown:
        out.error(f"unknown image {', '.join(unknown)}; known: {', '.join(BUILD_ORDER)}")
        return ExitCode.USAGE
    state = repo_root() / ".sandbox"
    out.build_log = state / "images-build.log"
    try:
        client = connect()
        chosen = [n for n in BUILD_ORDER if n in wanted]
        for found in build_all(client, out.progress, chosen, force, env_file=state / "images.env"):
            out.line(f"ready  {found.logical:<10} {found.source:<8} {found.ref}  {found.digest[:19]}")
    except EngineUnavailable as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except (ImageUnavailable, BuildError, APIError) as exc:
        out.error(f"building images: {exc}")
        return ExitCode.USAGE
    return ExitCode.OK


def clean(
    out: Output, images_too: bool = False, run_id: str | None = None, force: bool = False, cache: bool = False
) -> int:
    """Remove what dead runs left: labelled objects, temp folders and report-less run folders.

    A run is removed only when its owner (host, pid, start time on its labels) is gone, so a clean
    never kills a live run of this or another clone, and never a run made with `verify --keep`, which
    waits for its inspection; `--run ID` removes that run, `--force` every run (listed first);
    `--cache` the services' docker build cache too (cleanup.drop_cache)."""
    try:
        client = connect()
        runs = engine_runs(client)
    except EngineUnavailable as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    chosen = _runs_to_clean(out, runs, run_id, force)
    done = remove_runs(client, chosen)
    if force or images_too:  # --force: objects of no run too; --images: the cached images
        extra = remove_matching(
            client, project_filter(), lambda labels: force, include_cached_images=images_too
        )
        done.containers += extra.containers
        done.networks += extra.networks
        done.images += extra.images
        done.errors += extra.errors
    dropped = drop_cache(client) if cache else None
    folders = dead_temp_folders() + _dead_run_folders(run_id)
    errors = done.errors + (dropped.errors if dropped else []) + remove_folders(folders)
    out.line(
        f"removed {len(done.containers)} containers, {len(done.networks)} networks, "
        f"{len(done.images)} images, {len(folders)} folders of {len(chosen)} run(s)"
        + (f"; dropped {len(dropped.images)} build cache images" if dropped else "")
    )
    for error in errors:
        out.warning(error)
    return ExitCode.FAILED if errors else ExitCode.OK


def _runs_to_clean(out: Output, runs: dict, run_id: str | None, force: bool) -> set[str]:
    """The runs to remove; each run on the engine is listed with its owner and what happens to it."""
    if run_id:
        return {run_id}
    chosen = set()
    for run in runs.values():
        owner = f"pid {run.owner.pid} on {run.owner.host}" if run.owner else "no owner label"
        state = f"{run.state}, kept by --keep" if run.kept else run.state
        if force or (run.state == "gone" and not run.kept):
            chosen.add(run.run_id)
            out.line(f"run {run.run_id} ({owner}, {state}, {run.objects} objects): removing")
        else:
            out.line(
                f"run {run.run_id} ({owner}, {state}, {run.objects} objects): kept; "
                f"`sandbox clean --run {run.run_id}` removes it"
            )
    return chosen


def _dead_run_folders(run_id: str | None) -> list:
    runs_root = repo_root() / ".sandbox" / "runs"
    if run_id:
        folder = runs_root / run_id
        return [folder] if folder.is_dir() and not (folder / "report.json").exists() else []
    return dead_run_folders(runs_root)
