"""The bodies of the `sandbox` commands, one function each: verify, fix, plan, gate, promote, report,
doctor, images, images_build, clean. Each returns an exit code of `sandbox.output.ExitCode`;
`sandbox.cli` only parses arguments and calls these.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from docker.errors import APIError, BuildError
from rich.table import Table

from sandbox.config import PHASES, ConfigError, ServiceConfig, dependents_of, discover, repo_root, shard
from sandbox.engine import (
    BUILD_ORDER,
    SPECS,
    EngineUnavailable,
    ImageUnavailable,
    Resolver,
    build_all,
    connect,
    new_run_id,
    remove_labelled,
)
from sandbox.engine import doctor as doctor_checks
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
from sandbox.pipeline import copy as copy_stage
from sandbox.pipeline import migrate as migrate_stage
from sandbox.pipeline import resolve as resolve_stage
from sandbox.pipeline.fix import consume_fixes, judge_markers
from sandbox.pipeline.run import Options, new_run, verify_fleet
from sandbox.pipeline.stage import StageContext, timed
from sandbox.promote import PromotionRefused, check_service_name
from sandbox.promote import promote as promote_one
from sandbox.promote import revert as revert_one
from sandbox.records import gate_check, state_dir
from sandbox.report import build_report, summary_text, write_reports
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
    return discover(repo_root() / "services")


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
) -> int:
    """Migrate, build, test and health-check the selected services; `jobs` (-j) overrides options.jobs."""
    try:
        chosen = select(selection, _fleet())
        options = replace(options, jobs=parse_jobs(jobs))
    except (ValueError, ConfigError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    if options.accept_preexisting and not options.baseline:
        out.error("--accept-preexisting needs --baseline (pre-existing failures come from the baseline)")
        return ExitCode.USAGE
    run = new_run(repo_root(), new_run_id(), options, out.event)
    out.event(
        "run", "start", f"{run.run_id}: {len(chosen)} service(s), -j {options.jobs}, folder {run.folder}"
    )
    begin = time.monotonic()
    result = None
    try:
        result = verify_fleet(run, chosen)
    except (EngineUnavailable, ImageUnavailable) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except KeyboardInterrupt:
        pass
    interrupted = result is None
    outcomes = [o.to_dict(run.images()) for o in (result.outcomes if result else [])]
    report = build_report(
        run.run_id,
        outcomes,
        run.images(),
        time.monotonic() - begin,
        result.stopped_after if result else None,
        interrupted,
    )
    write_reports(run.folder, report)
    if as_json:
        out.json(report)
    else:
        out.line(summary_text(report, run.folder))
    for problem in result.cleanup_errors if result else []:
        out.warning(f"cleanup: {problem}; `sandbox clean` retries")
    if options.keep:
        out.line(
            "--keep: containers and networks are still up; list them with "
            f"`docker ps --filter label=sandbox.run={run.run_id}`; remove with `sandbox clean`"
        )
    if interrupted:
        return ExitCode.INTERRUPTED
    if promote_after:
        verified = [o["name"] for o in outcomes if o["overall_success"]]
        if verified and promote(verified, out) != ExitCode.OK:
            return ExitCode.FAILED
    return ExitCode.OK if report["totals"]["failed"] == 0 and not result.stopped_after else ExitCode.FAILED


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
        applied = apply_fixes(ctx.ws.work, list_fixes(ctx.ws.orig / ctx.ws.rel_paths[0]), folder / "rejects")
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
    """Services, priorities, phases and the migrations that apply (default: all services)."""
    try:
        fleet = _fleet()
        chosen = select(replace(selection, all_services=selection.all_services or not selection.names), fleet)
    except (ValueError, ConfigError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    if matrix:
        count = shards or max(1, (len(chosen) + 1) // 2)
        out.line(json.dumps({"include": [{"shard": f"{k}/{count}"} for k in range(1, count + 1)]}))
        return ExitCode.OK
    rows = [_plan_row(config, fleet) for config in chosen]
    if as_json:
        out.json(rows)
        return ExitCode.OK
    out.line(f"{'service':<22} {'priority':<9} phase  migrations / shared code")
    for row in sorted(rows, key=lambda r: (r["phase"], r["name"])):
        shared = "; ".join(
            f"{s} (also {', '.join(n for n in users if n != row['name']) or 'none'})"
            for s, users in row["shared_with"].items()
        )
        out.line(
            f"{row['name']:<22} {row['priority']:<9} {row['phase']:<6} {', '.join(row['migrations']) or '-'}"
            + (f" | shared: {shared}" if shared else "")
        )
    return ExitCode.OK


def _plan_row(config: ServiceConfig, fleet: dict[str, ServiceConfig]) -> dict:
    return {
        "name": config.name,
        "priority": config.priority,
        "phase": config.phase.upper(),
        "migrations": detect_migrations(config),
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


def report(run_id: str | None, out: Output) -> int:
    """A run's summary again (default: the latest run)."""
    runs = repo_root() / ".sandbox" / "runs"
    candidates = sorted(p for p in runs.glob("*") if (p / "report.json").is_file()) if runs.is_dir() else []
    folder = runs / run_id if run_id else (candidates[-1] if candidates else None)
    if folder is None or not (folder / "report.json").is_file():
        out.error(f"no report for run {run_id or '(latest)'} under {runs}")
        return ExitCode.USAGE
    document = json.loads((folder / "report.json").read_text())
    out.line(summary_text(document, folder))
    return ExitCode.OK if document["totals"]["failed"] == 0 else ExitCode.FAILED


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
    try:
        client = connect()
        for found in build_all(client, out.progress, [n for n in BUILD_ORDER if n in wanted], force):
            out.line(f"ready  {found.logical:<10} {found.ref}  {found.digest[:19]}")
    except EngineUnavailable as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except (ImageUnavailable, BuildError, APIError) as exc:
        out.error(f"building images: {exc}")
        return ExitCode.USAGE
    return ExitCode.OK


def clean(out: Output, images_too: bool = False) -> int:
    """Remove leftovers of crashed runs: labelled containers, networks and run images."""
    try:
        done = remove_labelled(connect(), include_cached_images=images_too)
    except EngineUnavailable as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    out.line(
        f"removed {len(done.containers)} containers, {len(done.networks)} networks, {len(done.images)} images"
    )
    for error in done.errors:
        out.warning(error)
    return ExitCode.FAILED if done.errors else ExitCode.OK
