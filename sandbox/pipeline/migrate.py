"""The migrate stage: the codemods in the migrator container, with no network, over the service and
its shared paths.

The service and its shared paths run in one migrator container (one interpreter, one import of the
codemods), each path with the exit code and output of its own `python -m migrators` run; in a fleet
run, every service's codemods run in the run's one shared migrator container, each service in a
process of its own (sandbox.pipeline.shared_migrator). The stage
fails only when the migrator itself fails. MIGRATION-BLOCKER markers it leaves are
recorded here (with the upgrade each blames, from the migrator's JSON report) and judged by the
`fix` stage that follows, after the service's hand fixes are applied: a marker a fix removes is
resolved, any left still block (sandbox.pipeline.fix). The `migration-fixes/` folders are held out
of the codemods' reach while they run: patch text holds marker lines and old-API code.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox import workspace as wsmod
from sandbox.engine.containers import OFFLINE, capped_logs, host_cores, migrator_limits, remove, wait_exit
from sandbox.fixes import FIXES_DIR
from sandbox.pipeline.shared_migrator import RUN_MIGRATORS, SharedMigrator, SharedMigratorGone, container_user
from sandbox.pipeline.stage import StageContext, StageResult, last_lines
from sandbox.upgrades import upgrade_for_rule

BLOCKERS_FILE = "codemod-blockers.json"
HINT = (
    "the migrator itself failed (migrate.log in the run folder has its output); fix the cause, "
    "then run `sandbox verify {name}` again"
)


def migrate(ctx: StageContext) -> StageResult:
    """Run the codemods in the migrator container with no network, over the service and shared paths."""
    image = ctx.resolver.resolve("migrator").ref
    logs, reports, failures = [], [], []
    with held_out_fixes(ctx.ws):
        runs, where = _run_migrators(ctx, image, ctx.ws.rel_paths)
    for rel, (args, code, stdout, stderr) in zip(ctx.ws.rel_paths, runs, strict=True):
        logs.append(f"$ python -m migrators {' '.join(args)}  (exit {code})\n{stderr}\n{stdout}\n")
        reports.append(_parse_json(stdout))
        if code is None:
            return StageResult(
                "migrate",
                "timeout",
                reason=f"codemods on {rel} exceeded {ctx.config.timeouts['migrate']}s",
                log=ctx.write_log("migrate.log", "".join(logs)),
            )
        if code not in (0, 1):
            failures.append(f"{rel}: migrator exit {code}: {last_lines(stderr or stdout)}")
    log = ctx.write_log("migrate.log", "".join(logs))
    file_changes = wsmod.changes(ctx.ws)
    # The codemods' own lines; the fix stage adds fixes.patch and rewrites diff.patch (both together).
    for name in ("codemods.patch", "diff.patch"):
        (ctx.ws.folder / name).write_text(wsmod.unified_diff(file_changes))
    markers = codemod_markers(ctx.ws)
    details = {
        "reports": reports,
        "diff": wsmod.diff_stats(file_changes),
        "markers": [marker.__dict__ for marker in markers],
        "blockers": blockers(ctx.ws.rel_paths, reports, len(markers)),
        "shared_changed": shared_changed(ctx.ws, file_changes),
        "check_failures": check_failures(ctx.ws.rel_paths, reports),
        "migrator": where,
    }
    # The fix stage judges markers and check failures after the fixes (upgrades named here).
    kept = ("markers", "blockers", "check_failures")
    (ctx.folder / BLOCKERS_FILE).write_text(json.dumps({k: details[k] for k in kept}))
    if failures:
        return StageResult("migrate", "failed", reason="; ".join(failures), log=log, details=details)
    return StageResult("migrate", "passed", log=log, details=details)


def shared_changed(ws: wsmod.Workspace, file_changes: list[wsmod.FileChange]) -> list[str]:
    """The shared paths the diff changes: a change other services build with too."""
    return [
        rel
        for rel in ws.rel_paths[1:]
        if any(c.path == rel or c.path.startswith(rel + "/") for c in file_changes)
    ]


def codemod_markers(ws: wsmod.Workspace) -> list[wsmod.Marker]:
    """The markers of the working copy, except those quoted by the fixes' patch text."""
    return [marker for marker in wsmod.find_markers(ws) if FIXES_DIR not in Path(marker.path).parts]


@contextmanager
def held_out_fixes(ws: wsmod.Workspace) -> Iterator[None]:
    """Move each `migration-fixes/` folder of the working copy aside while the codemods run."""
    moved = []
    for rel in ws.rel_paths:
        folder = ws.work / rel / FIXES_DIR
        if folder.is_dir():
            aside = ws.folder / "held-fixes" / rel
            aside.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), aside)
            moved.append((aside, folder))
    try:
        yield
    finally:
        for aside, folder in moved:
            shutil.move(str(aside), folder)
        shutil.rmtree(ws.folder / "held-fixes", ignore_errors=True)


def check_failures(rel_paths: list[str], reports: list[Any]) -> list[dict[str, Any]]:
    """The migrator's post-migrate check failures (a name the change made undefined, a keyword the
    new library rejects, an old-API shape left unmarked), with repo-relative paths."""
    found = []
    for rel, report in zip(rel_paths, reports, strict=True):
        check = report.get("check") if isinstance(report, dict) else None
        for failure in (check or {}).get("failures", []):
            found.append({**failure, "path": f"{rel}/{failure.get('path', '')}".rstrip("/")})
    return found


def blockers(rel_paths: list[str], reports: list[Any], found: int) -> list[dict[str, Any]]:
    """Each marker of the migrator's reports with the upgrade it blames (None: unknown, blames all).

    `found` markers are in the working copy; any the reports do not account for (a report that is
    not JSON, a marker already in the source) is one more blocker of unknown upgrade.
    """
    entries = []
    for rel, report in zip(rel_paths, reports, strict=True):
        for marker in report.get("markers", []) if isinstance(report, dict) else []:
            rule = marker.get("rule")
            entries.append(
                {
                    "path": f"{rel}/{marker.get('path', '')}".rstrip("/"),
                    "line": marker.get("line"),
                    "rule": rule,
                    "upgrade": marker.get("upgrade") or (upgrade_for_rule(rule) if rule else None),
                }
            )
    if found > len(entries):
        entries.append(
            {"path": None, "line": None, "rule": None, "upgrade": None, "unreported": found - len(entries)}
        )
    return entries


# Runs `python -m migrators ARGS` once per argument list in one interpreter: the service and each
# shared path share one container, one interpreter start and one import of libcst (seconds each on a
# loaded machine), with the same exit code, stdout and stderr per path as separate runs. Results go
# to a file, not the log: the log is capped, a service's JSON report may be larger.
DRIVER = (
    RUN_MIGRATORS
    + """
import json, sys
results = [run_migrators(argv) for argv in json.loads(sys.argv[1])]
with open(sys.argv[2] + ".tmp", "w") as handle:
    json.dump(results, handle)
__import__("os").replace(sys.argv[2] + ".tmp", sys.argv[2])
"""
)
RESULTS_DIR = "migrator-results"  # in the service's run folder, beside the workspace, never in it


def _run_migrators(
    ctx: StageContext, image: str, rel_paths: list[str]
) -> tuple[list[tuple[list[str], int | None, str, str]], str]:
    """The codemods on each path of the workspace with no network: in a fleet run in the run's shared
    migrator container, else in one of the service's own; which one ("shared" or "own"). Per path
    (args, exit code, out, err); exit code None: the codemods exceeded the stage's timeout."""
    if ctx.shared_migrator is not None:
        shared = ctx.shared_migrator.get()
        try:
            return _run_shared(ctx, shared, rel_paths), "shared"
        except SharedMigratorGone:  # stopped under this request (its memory): not this service's
            ctx.shared_migrator.discard(shared)  # doing; run again in a container of its own
            if ctx.cancelled.is_set():  # stopped by the interrupt's sweep: no new container
                raise InterruptedError("run interrupted") from None
    return _run_own(ctx, image, rel_paths), "own"


def _run_shared(
    ctx: StageContext, shared: SharedMigrator, rel_paths: list[str]
) -> list[tuple[list[str], int | None, str, str]]:
    cores = host_cores()
    root = shared.work_roots[ctx.config.name]
    argv = [_migrator_args(ctx, rel, cores, root) for rel in rel_paths]
    _migrator_user(ctx, [])  # as root: the working copy is handed to nobody, the container's user
    found = shared.migrate(ctx.config.name, argv, ctx.config.timeouts["migrate"], ctx.cancelled)
    return [
        (args, entry["code"], entry["stdout"], entry["stderr"])
        for args, entry in zip(argv, found, strict=True)
    ]


def _run_own(
    ctx: StageContext, image: str, rel_paths: list[str]
) -> list[tuple[list[str], int | None, str, str]]:
    """The codemods in a container of the service's own."""
    cores = host_cores()
    argv = [_migrator_args(ctx, rel, cores) for rel in rel_paths]
    results = ctx.folder / RESULTS_DIR
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir()
    container = ctx.client.containers.create(
        image,
        [DRIVER, json.dumps(argv), "/results/results.json"],
        entrypoint=["python", "-c"],
        **OFFLINE,
        labels=ctx.labels("migrator"),
        volumes={
            str(ctx.ws.work): {"bind": "/work", "mode": "rw"},
            str(results): {"bind": "/results", "mode": "rw"},
        },
        user=_migrator_user(ctx, [results]),
        cpu_shares=ctx.cpu_shares,
        **migrator_limits(cores),
    )
    try:
        container.start()
        code = wait_exit(container, ctx.config.timeouts["migrate"])
        logs = capped_logs(container).text
    finally:
        remove(container)
    try:
        found = json.loads((results / "results.json").read_text())
    except (OSError, ValueError):  # killed at the timeout, or the interpreter itself failed
        found = [{"code": code if code != 0 else 2, "stdout": "", "stderr": logs} for _ in argv]
    finally:
        shutil.rmtree(results, ignore_errors=True)
    return [
        (args, None if code is None else entry["code"], entry["stdout"], entry["stderr"])
        for args, entry in zip(argv, found, strict=True)
    ]


def _migrator_args(ctx: StageContext, rel: str, cores: int, root: str = "/work") -> list[str]:
    args = [f"{root}/{rel}", "--json", "-j", str(cores)]  # same output as -j 1, one worker per core
    for name in ctx.config.migrations_include:
        args += ["--only", name]
    for name in ctx.config.migrations_exclude:
        args += ["--skip", name]
    return args


def _migrator_user(ctx: StageContext, extra: list[Path]) -> str:
    """The migrator writes the workspace (and `extra`, its results folder) as the user owning it;
    never as root. Run as root on the host, they are handed to nobody first (they are the run's own)."""
    return container_user(itertools.chain(extra, [ctx.ws.work], ctx.ws.work.rglob("*")))


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"raw": text[-4000:]}
