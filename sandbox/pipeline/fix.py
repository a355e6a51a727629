"""The fix stage: the service's hand fixes applied on top of the codemod output, then the blocker check.

Fixes are the reviewed patches of `services/<service>/migration-fixes/` (sandbox.fixes), read from
the pristine copy and applied in order to the working copy, exactly or by a 3-way merge. A fix that
no longer applies fails the stage with its rejected hunks saved under `rejects/` in the run folder.
Then any MIGRATION-BLOCKER left (a fix may have resolved some) fails the stage, charged to the
upgrade it blames. Applied fixes are then removed from the working copy: they are part of the code
now, the promoted change deletes them with the rest (`--revert` brings them back), and a verify after
promotion does not apply them twice. The run folder gets `codemods.patch` (the codemods' lines),
`fixes.patch` (the fixes' lines on top) and `diff.patch` (both: what promotion would write).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from sandbox import workspace as wsmod
from sandbox.fixes import FIXES_DIR, FixError, FixOutcome, apply_fixes, list_fixes
from sandbox.pipeline.migrate import BLOCKERS_FILE, codemod_markers, shared_changed
from sandbox.pipeline.stage import StageContext, StageResult
from sandbox.upgrades import upgrade_for_rule

HINT = (
    "run `sandbox fix {name}`: it prepares the migrated copy (codemods and existing fixes applied) to edit "
    "where each MIGRATION-BLOCKER says, or to redo a fix that no longer applies (rejects/ in the run "
    "folder); save with `sandbox fix {name} --save NAME --reason TEXT`, then `sandbox verify {name}`"
)
_RULE = re.compile(r"MIGRATION-BLOCKER\(([^)]+)\)")


def fix(ctx: StageContext) -> StageResult:
    ws = ctx.ws
    try:
        fixes = list_fixes(ws.orig / ws.rel_paths[0])
    except FixError as exc:
        return StageResult("fix", "failed", reason=str(exc))
    before = tree(ws.work, ws.rel_paths)
    try:
        outcome = apply_fixes(ws.work, fixes, ctx.folder / "rejects")
    except (FixError, OSError) as exc:
        return StageResult("fix", "failed", reason=f"applying the fixes: {exc}")
    log = ctx.write_log("fix.log", outcome.log or "no fixes\n")
    details: dict[str, Any] = {"fixes": [f.name for f in fixes], "merged": outcome.merged}
    if not outcome.ok:
        return StageResult("fix", "failed", reason=_rejected(ctx, outcome), log=log, details=details)
    consume_fixes(ws)
    details.update(write_patches(ws, before))
    return judge_markers(ctx, log, details)


def consume_fixes(ws: wsmod.Workspace) -> None:
    """Once applied, the fixes are part of the code: the verified copy (and so the promoted change)
    no longer holds them, and a verify after promotion does not apply them twice (`--revert` brings
    them back with the rest)."""
    for rel in ws.rel_paths:
        shutil.rmtree(ws.work / rel / FIXES_DIR, ignore_errors=True)


def judge_markers(ctx: StageContext, log: str | None, details: dict[str, Any]) -> StageResult:
    """Markers left after the fixes block; each is charged to the upgrade it names."""
    markers = codemod_markers(ctx.ws)
    migrate = _migrate_details(ctx)
    details["markers"] = [marker.__dict__ for marker in markers]
    details["blockers"] = [_blocker(marker, migrate) for marker in markers]
    details["resolved_by_fixes"] = max(0, len(migrate.get("markers", [])) - len(markers))
    failures = unresolved_check_failures(migrate, details)
    details["check_failures"] = failures
    if markers:
        first = markers[0]
        where = f"{first.path}:{first.line}"
        reason = f"{len(markers)} MIGRATION-BLOCKER marker(s); first at {where}: {first.text}"
        return StageResult("fix", "failed", reason=reason, log=log, details=details)
    if failures:
        first = failures[0]
        reason = (
            f"post-migrate check failed ({len(failures)}); first at {first['path']}:{first.get('line')}: "
            f"{first.get('message')}; next: {first.get('next_step')}"
        )
        return StageResult("fix", "failed", reason=reason, log=log, details=details)
    return StageResult("fix", "passed", log=log, details=details)


def unresolved_check_failures(migrate: dict[str, Any], details: dict[str, Any]) -> list[dict[str, Any]]:
    """Check failures in files no fix changed: a reviewed fix of that file is the person's answer."""
    fixed = set(details.get("fixed_files", []))
    return [f for f in migrate.get("check_failures", []) if f.get("path") not in fixed]


def _migrate_details(ctx: StageContext) -> dict[str, Any]:
    path = ctx.folder / BLOCKERS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _blocker(marker: wsmod.Marker, migrate: dict[str, Any]) -> dict[str, Any]:
    """The upgrade a marker blames: the migrator's report for that file and rule, else the rule's owner."""
    match = _RULE.search(marker.text)
    rule = match.group(1) if match else None
    for entry in migrate.get("blockers", []):
        if entry.get("path") == marker.path and entry.get("rule") == rule and entry.get("upgrade"):
            return {"path": marker.path, "line": marker.line, "rule": rule, "upgrade": entry["upgrade"]}
    upgrade = upgrade_for_rule(rule) if rule else None
    return {"path": marker.path, "line": marker.line, "rule": rule, "upgrade": upgrade}


def _rejected(ctx: StageContext, outcome: FixOutcome) -> str:
    where = ctx.folder / "rejects"
    hunks = ", ".join(str(Path(p).relative_to(where)) for p in outcome.rejects) or "none (see fix.log)"
    return (
        f"fix {outcome.failed} no longer applies on the codemod output (rejected hunks in {where}: {hunks}); "
        f"run `sandbox fix {ctx.config.name}` to rebase it"
    )


def write_patches(ws: wsmod.Workspace, codemod_output: dict[str, bytes]) -> dict[str, Any]:
    """codemods.patch / fixes.patch / diff.patch in the run folder; their stats for the report."""
    codemod_output = _code(codemod_output)
    by_fixes = _changes(codemod_output, _code(tree(ws.work, ws.rel_paths)))
    everything = wsmod.changes(ws)  # the fixes' own files deleted too: what promotion writes
    by_codemods = _changes(_code(tree(ws.orig, ws.rel_paths)), codemod_output)
    (ws.folder / "codemods.patch").write_text(wsmod.unified_diff(by_codemods))
    (ws.folder / "fixes.patch").write_text(wsmod.unified_diff(by_fixes))
    (ws.folder / "diff.patch").write_text(wsmod.unified_diff(everything))
    return {
        "codemods_diff": wsmod.diff_stats(by_codemods),
        "fixes_diff": wsmod.diff_stats(by_fixes),
        "fixed_files": sorted(c.path for c in by_fixes),
        "diff": wsmod.diff_stats([c for c in everything if FIXES_DIR not in Path(c.path).parts]),
        "fixes_consumed": sorted(c.path for c in everything if FIXES_DIR in Path(c.path).parts),
        "shared_changed": shared_changed(ws, everything),
    }


def _code(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if FIXES_DIR not in Path(name).parts}


def _changes(before: dict[str, bytes], after: dict[str, bytes]) -> list[wsmod.FileChange]:
    return [
        wsmod.FileChange(name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def tree(root: Path, rel_paths: list[str]) -> dict[str, bytes]:
    """Repo-relative name -> bytes of every file under the paths, minus what the copy ignores."""
    found: dict[str, bytes] = {}
    for rel in rel_paths:
        base = root / rel
        if base.is_file():
            found[rel] = base.read_bytes()
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            skip = wsmod.IGNORED(dirpath, [*dirnames, *filenames])
            dirnames[:] = sorted(d for d in dirnames if d not in skip and d != ".git")
            for name in sorted(set(filenames) - skip):
                path = Path(dirpath) / name
                if path.is_file():
                    found[str(path.relative_to(root))] = path.read_bytes()
    return found


__all__ = ["FIXES_DIR", "HINT", "fix", "judge_markers", "tree", "write_patches"]
