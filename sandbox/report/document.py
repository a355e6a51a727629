"""report.json: one schema-versioned document per run (schema: sandbox/report/schema.json).

It says which tool and commit produced it, when, on what machine, and for each service its status
(verified / failed / not-run), the stage that stopped it and every stage's result. A verified result
reused from an earlier run (sandbox.cache: its inputs are unchanged) says so in `reused` (that run's
id, when it verified) and is counted in totals.reused: it is never presented as verified by this run.
Per-migration counts come only from services that verified: a service that stopped early counts as
not verified for every migration it needed, under the stage that stopped it.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import sandbox
from sandbox.pipeline import STAGES

SCHEMA_VERSION = "1.1"  # 1.1: `reused`, `cache`, `queued_seconds` per service, totals.reused
SCHEMA_PATH = Path(__file__).with_name("schema.json")
TOOL = "sandbox-migrate"
PRIORITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
STAGE_NAMES = tuple(stage.name for stage in STAGES)
# What a person does after each kind of failure (each stage's hint); the repo is never changed by verify.
NEXT_STEPS = {stage.name: stage.hint for stage in STAGES if stage.hint}
NOT_RUN = "not-run"


def build_report(
    run_id: str,
    outcomes: list[dict[str, Any]],
    images: dict[str, Any],
    seconds: float,
    stopped_after: str | None,
    interrupted: bool,
    *,
    repo_root: Path | None = None,
    started_at: datetime | None = None,
    not_run: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The run's document. `not_run`: services selected but never started (name, priority, phase,
    migrations, reason), e.g. a later phase after the failure-rate stop; they are listed, never missing."""
    ended_at = datetime.now(UTC)
    started_at = started_at or ended_at - timedelta(seconds=seconds)
    services = [service_entry(o) for o in outcomes] + [not_run_entry(s) for s in not_run or []]
    verified = sum(s["status"] == "verified" for s in services)
    skipped = sum(s["status"] == NOT_RUN for s in services)
    reused = sum(bool(s.get("reused")) for s in services)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL, "version": tool_version()},
        "run_id": run_id,
        "repo": repo_info(repo_root),
        "run_folder": f".sandbox/runs/{run_id}",
        "started_at": _iso(started_at),
        "ended_at": _iso(ended_at),
        "duration_seconds": round(seconds, 1),
        "machine": machine_info(),
        "images": images,
        "stopped_after_phase": stopped_after.upper() if stopped_after else None,
        "interrupted": interrupted,
        "totals": {
            "services": len(services),
            "verified": verified,
            "failed": len(services) - verified - skipped,
            "not_run": skipped,
            "reused": reused,
        },
        "by_priority": by_priority(services),
        "by_migration": by_migration(services),
        "services": {s["name"]: s for s in services},
    }


def merge_reports(documents: list[dict[str, Any]], run_id: str | None = None) -> dict[str, Any]:
    """One report of several runs (a night's shards): a service's real result wins over a not-run
    entry from another shard; totals and counts are computed again over the whole."""
    documents = sorted(documents, key=lambda d: d["run_id"])
    run_id = run_id or f"{documents[-1]['run_id']}-merged"
    services: dict[str, dict[str, Any]] = {}
    for document in documents:
        for name, service in document["services"].items():
            if name not in services or service["status"] != NOT_RUN:
                services[name] = service
    # Written now, in this version's shape (totals.reused is computed again): this schema version.
    merged = {
        "schema_version": SCHEMA_VERSION,
        **{key: documents[0][key] for key in ("tool", "repo", "machine")},
    }
    started, ended = min(d["started_at"] for d in documents), max(d["ended_at"] for d in documents)
    stops = sorted(d["stopped_after_phase"] for d in documents if d["stopped_after_phase"])
    members = list(services.values())
    verified = sum(s["status"] == "verified" for s in members)
    skipped = sum(s["status"] == NOT_RUN for s in members)
    merged.update(
        run_id=run_id,
        run_folder=f".sandbox/runs/{run_id}",
        merged_from=[d["run_id"] for d in documents],
        started_at=started,
        ended_at=ended,
        duration_seconds=round(
            (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds(), 1
        ),
        images={name: image for d in documents for name, image in d["images"].items()},
        stopped_after_phase=stops[0] if stops else None,
        interrupted=any(d["interrupted"] for d in documents),
        totals={
            "services": len(members),
            "verified": verified,
            "failed": len(members) - verified - skipped,
            "not_run": skipped,
            "reused": sum(bool(s.get("reused")) for s in members),
        },
        by_priority=by_priority(members),
        by_migration=by_migration(members),
        services=services,
    )
    return merged


def not_run_reason(stopped_after: str | None, interrupted: bool) -> str:
    """Why a selected service has no outcome."""
    if interrupted:
        return "the run was interrupted before this service started"
    if stopped_after:
        return (
            f"phase {stopped_after.upper()} failed above --max-failure-rate: the run stopped before "
            "this service's phase"
        )
    return "not started"


def service_entry(outcome: dict[str, Any]) -> dict[str, Any]:
    """A service's outcome with its status; migrations are True only when the service verified."""
    verified = bool(outcome["overall_success"])
    return {
        **outcome,
        "status": "verified" if verified else "failed",
        "migrations": {m: verified for m in outcome["migrations"]},
    }


def not_run_entry(service: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": service["name"],
        "priority": service["priority"],
        "phase": service["phase"].upper(),
        "migrations": {m: False for m in service["migrations"]},
        "overall_success": False,
        "status": NOT_RUN,
        "failed_stage": None,
        "reason": service.get("reason") or "not run",
        "stages": [],
        "tests": None,
        "markers": [],
        "diff": {},
        "preexisting_failures": [],
        "images": {},
        "folder": "",
        "reused": None,
    }


def by_priority(services: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = {}
    for priority in PRIORITIES:
        members = [s for s in services if s["priority"] == priority]
        if members:
            groups[priority] = {
                "total": len(members),
                "verified": sum(s["status"] == "verified" for s in members),
            }
    return groups


def by_migration(services: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per migration: services that needed it, how many verified, and where the others stopped."""
    groups: dict[str, dict[str, Any]] = {}
    for service in services:
        for migration in service["migrations"]:
            group = groups.setdefault(migration, {"total": 0, "verified": 0, "stopped_at": {}})
            group["total"] += 1
            if service["status"] == "verified":
                group["verified"] += 1
            else:
                stage = service["failed_stage"] or NOT_RUN
                group["stopped_at"][stage] = group["stopped_at"].get(stage, 0) + 1
    return dict(sorted(groups.items()))


def tool_version() -> str:
    try:
        return metadata.version(TOOL)
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return sandbox.__version__


def repo_info(repo_root: Path | None) -> dict[str, Any]:
    """The commit the run verified (None outside a git repository) and whether the tree was dirty."""
    commit = _git(repo_root, "rev-parse", "HEAD") if repo_root else None
    dirty = None
    if commit:
        status = _git(repo_root, "status", "--porcelain", "--untracked-files=no")
        dirty = None if status is None else bool(status)
    return {"commit": commit, "dirty": dirty}


def _git(repo_root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo_root), *args], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cores": os.cpu_count() or 1,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def service_seconds(service: dict[str, Any]) -> float:
    return round(sum(stage.get("seconds", 0.0) for stage in service["stages"]), 2)


def stage_results(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every stage of the pipeline for one service: its result, or a skipped entry saying why not."""
    ran = {stage["name"]: stage for stage in service["stages"]}
    results = {}
    for name in STAGE_NAMES:
        if name in ran:
            results[name] = ran[name]
        else:
            results[name] = {
                "name": name,
                "status": "skipped",
                "seconds": 0.0,
                "reason": why_not_run(service, name),
                "log": None,
                "details": {},
            }
    return results


def why_not_run(service: dict[str, Any], stage: str) -> str:
    if service["status"] == NOT_RUN:
        return f"service not run: {service['reason']}"
    if service.get("reused"):
        run_id = service["reused"]["run_id"]
        return f"not run: inputs unchanged since run {run_id}, whose verified result is reused"
    if stage == "baseline":
        return "not requested (verify --baseline)"
    if service["failed_stage"]:
        return f"not run: the service stopped at {service['failed_stage']}"
    return "not run"
