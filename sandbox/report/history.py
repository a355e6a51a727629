"""The fleet's history: one JSON line per run in `.sandbox/history.jsonl`, and the comparison of a
run with the runs before it (regressions, fixes).

A line holds the run id, its times and commit, and per service its status, the stage that stopped
it and its duration. Shards of one night are separate runs, each holding some services, so "the
previous run" of a service is the latest earlier run that holds that service.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.report.document import NOT_RUN, STAGE_NAMES, service_seconds

HISTORY = "history.jsonl"


def history_path(state_dir: Path) -> Path:
    """`state_dir` is the repo's `.sandbox` folder."""
    return state_dir / HISTORY


def entry_from_report(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": report["run_id"],
        "started_at": report["started_at"],
        "ended_at": report["ended_at"],
        "commit": report["repo"]["commit"],
        "totals": report["totals"],
        "stopped_after_phase": report["stopped_after_phase"],
        "interrupted": report["interrupted"],
        "services": {
            name: {
                "status": service["status"],
                "stage": service["failed_stage"],
                "seconds": service_seconds(service),
                "priority": service["priority"],
            }
            for name, service in report["services"].items()
        },
    }


def append(state_dir: Path, report: dict[str, Any]) -> None:
    """One line per run, written in one locked append (parallel runs and shards share the file)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry_from_report(report), sort_keys=True) + "\n").encode()
    fd = os.open(history_path(state_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)


def load(state_dir: Path) -> list[dict[str, Any]]:
    """Every run of the history in run-id order (ids sort by start time); a torn line is skipped."""
    path = history_path(state_dir)
    if not path.is_file():
        return []
    entries = {}
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "run_id" in entry and "services" in entry:
            entries[entry["run_id"]] = entry
    return [entries[run_id] for run_id in sorted(entries)]


@dataclass
class Change:
    service: str
    before: str  # "verified", "failed at build", "not run", "absent"
    after: str
    before_run: str | None


@dataclass
class Comparison:
    run_id: str
    against: str | None  # the one run compared with, or None when each service's own previous run
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    progress: list[Change] = field(default_factory=list)  # still failing, at a later stage
    not_run: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        lists = ("regressions", "fixes", "progress", "not_run", "new")
        return {
            "run_id": self.run_id,
            "against": self.against,
            **{key: [change.__dict__ for change in getattr(self, key)] for key in lists},
            "unchanged": self.unchanged,
        }


def describe(state: dict[str, Any] | None) -> str:
    if state is None:
        return "absent"
    if state["status"] == "verified":
        return "verified"
    if state["status"] == NOT_RUN:
        return "not run"
    return f"failed at {state['stage'] or '?'}"


def _stage_index(state: dict[str, Any]) -> int:
    return STAGE_NAMES.index(state["stage"]) if state["stage"] in STAGE_NAMES else -1


def classify(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """regressions | fixes | progress | not_run | new | unchanged, for one service."""
    if after["status"] == NOT_RUN:
        return "unchanged" if before is not None and before["status"] == NOT_RUN else "not_run"
    if before is None or before["status"] == NOT_RUN:
        return "new"
    if before["status"] == after["status"] == "verified":
        return "unchanged"
    if after["status"] == "verified":
        return "fixes"
    if before["status"] == "verified":
        return "regressions"
    order = _stage_index(after) - _stage_index(before)
    return "progress" if order > 0 else "regressions" if order < 0 else "unchanged"


def compare(entry: dict[str, Any], earlier: list[dict[str, Any]], against: str | None = None) -> Comparison:
    """`entry` against `earlier` (oldest first): each service against the latest earlier run holding it."""
    result = Comparison(entry["run_id"], against)
    for name, after in sorted(entry["services"].items()):
        before_run = next((e for e in reversed(earlier) if name in e["services"]), None)
        before = before_run["services"][name] if before_run else None
        kind = classify(before, after)
        if kind == "unchanged":
            result.unchanged.append(name)
            continue
        change = Change(name, describe(before), describe(after), before_run["run_id"] if before_run else None)
        getattr(result, kind).append(change)
    return result


def comparison_text(result: Comparison) -> str:
    against = f"run {result.against}" if result.against else "each service's previous run"
    lines = [f"Run {result.run_id} compared with {against}:"]
    for key, title in (
        ("regressions", "Regressions"),
        ("fixes", "Fixes"),
        ("progress", "Still failing, at a later stage"),
        ("not_run", "Not run this time"),
        ("new", "First run"),
    ):
        changes = getattr(result, key)
        lines.append(f"{title}: {len(changes)}")
        lines += [
            f"  {c.service}: {c.before} -> {c.after}" + (f" (was run {c.before_run})" if c.before_run else "")
            for c in changes
        ]
    lines.append(f"Unchanged: {len(result.unchanged)}")
    return "\n".join(lines)
