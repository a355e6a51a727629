"""The migrate stage: the codemods in the migrator container, with no network, over the service and
its shared paths.

Any MIGRATION-BLOCKER marker left in the working copy fails the stage. Which upgrade a marker
blames comes from the migrator's JSON report (each marker entry names its `upgrade`, else its rule
is looked up in `migrators`); a marker whose upgrade is unknown blames every upgrade of the service,
so a blocker is never reported as a pass.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandbox import workspace as wsmod
from sandbox.engine.containers import LIMITS, NOBODY, capped_logs, remove, wait_exit
from sandbox.pipeline.stage import StageContext, StageResult, last_lines
from sandbox.upgrades import upgrade_for_rule

HINT = (
    "the codemods stopped where a person must decide: change that code in the repo as "
    "the MIGRATION-BLOCKER says (diff.patch in the run folder shows the marker in place), "
    "then run `sandbox verify {name}` again"
)


def migrate(ctx: StageContext) -> StageResult:
    """Run the codemods in the migrator container with no network, over the service and shared paths."""
    image = ctx.resolver.resolve("migrator").ref
    logs, reports, failures = [], [], []
    # The service and each shared path get a migrator container of their own, side by side.
    with ThreadPoolExecutor(max_workers=len(ctx.ws.rel_paths) or 1) as pool:
        runs = list(pool.map(lambda rel: _run_migrator(ctx, image, rel), ctx.ws.rel_paths))
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
    (ctx.ws.folder / "diff.patch").write_text(wsmod.unified_diff(file_changes))
    markers = wsmod.find_markers(ctx.ws)
    details = {
        "reports": reports,
        "diff": wsmod.diff_stats(file_changes),
        "markers": [marker.__dict__ for marker in markers],
        "blockers": blockers(ctx.ws.rel_paths, reports, len(markers)),
    }
    if failures:
        return StageResult("migrate", "failed", reason="; ".join(failures), log=log, details=details)
    if markers:
        first = markers[0]
        reason = (
            f"{len(markers)} MIGRATION-BLOCKER marker(s); first at {first.path}:{first.line}: {first.text}"
        )
        return StageResult("migrate", "failed", reason=reason, log=log, details=details)
    return StageResult("migrate", "passed", log=log, details=details)


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


def _run_migrator(ctx: StageContext, image: str, rel: str) -> tuple[list[str], int | None, str, str]:
    """`python -m migrators` on one path of the workspace, no network; (args, exit code, out, err)."""
    args = [f"/work/{rel}", "--json"]
    for name in ctx.config.migrations_include:
        args += ["--only", name]
    for name in ctx.config.migrations_exclude:
        args += ["--skip", name]
    container = ctx.client.containers.create(
        image,
        args,
        network_mode="none",
        labels=ctx.labels("migrator"),
        volumes={str(ctx.ws.work): {"bind": "/work", "mode": "rw"}},
        user=_migrator_user(ctx),
        **LIMITS,
    )
    try:
        container.start()
        code = wait_exit(container, ctx.config.timeouts["migrate"])
        stdout = capped_logs(container, stdout=True, stderr=False).text
        stderr = capped_logs(container, stdout=False, stderr=True).text
    finally:
        remove(container)
    return args, code, stdout, stderr


def _migrator_user(ctx: StageContext) -> str:
    """The migrator writes the workspace as the user owning it; never as root.

    Run as root on the host, the workspace is handed to nobody first (it is the run's own copy)."""
    if os.getuid() != 0:
        return f"{os.getuid()}:{os.getgid()}"
    uid, gid = (int(part) for part in NOBODY.split(":"))
    for path in [ctx.ws.work, *ctx.ws.work.rglob("*")]:
        os.lchown(path, uid, gid)
    return NOBODY


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"raw": text[-4000:]}
