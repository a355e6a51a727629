"""The console summary in the seeds' shape (By Priority, By Migration Type, Failed Services) and
summary.md: full reasons, the next step for each failure, and paths relative to the repository root
(a CI runner's absolute paths mean nothing to the person reading the summary)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sandbox.report.document import NEXT_STEPS, NOT_RUN


def migration_line(migration: str, group: dict[str, Any], width: int = 15) -> str:
    """`aiomqtt 0/1 verified (1 stopped at migrate)`: the others never passed every stage."""
    text = f"{group['verified']}/{group['total']} verified"
    stopped = ", ".join(f"{count} stopped at {stage}" for stage, count in sorted(group["stopped_at"].items()))
    stopped = stopped.replace(f"stopped at {NOT_RUN}", "not run")
    return f"{migration:<{width}} {text}" + (f" ({stopped})" if stopped else "")


def _unsuccessful(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in report["services"].values() if s["status"] != "verified"]


def _first_lines(text: str, count: int = 3) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][:count] or [""]


def failed_log(service: dict[str, Any]) -> str | None:
    stage = service["failed_stage"]
    return next((s["log"] for s in service["stages"] if s["name"] == stage and s.get("log")), None)


def next_step(service: dict[str, Any]) -> str | None:
    if service["status"] == NOT_RUN:
        return f"run it: `sandbox verify {service['name']}`"
    hint = NEXT_STEPS.get(service["failed_stage"] or "")
    return hint.format(name=service["name"]) if hint else None


def summary_text(report: dict[str, Any], folder: Path) -> str:
    totals = report["totals"]
    rate = totals["verified"] / totals["services"] if totals["services"] else 0.0
    lines = [
        "=" * 80,
        f"SANDBOX VERIFY SUMMARY — run {report['run_id']}",
        "=" * 80,
        f"Services: {totals['services']}  Verified: {totals['verified']}  Failed: {totals['failed']}  "
        + (f"Not run: {totals['not_run']}  " if totals.get("not_run") else "")
        + f"Success rate: {rate:.1%}  Duration: {report['duration_seconds']:.0f}s",
        *_reused_lines(report),
        "",
        "By Priority:",
    ]
    for priority, group in report["by_priority"].items():
        lines.append(f"  {priority:<9} {group['verified']}/{group['total']} verified")
    lines += ["", "By Migration Type:"]
    lines += [f"  {migration_line(m, group)}" for m, group in report["by_migration"].items()]
    failed = _unsuccessful(report)
    if failed:
        lines += ["", "Failed Services:"]
    for service in failed:
        stage = service["failed_stage"] or ("not run" if service["status"] == NOT_RUN else "?")
        reason = _first_lines(service["reason"])
        lines.append(f"  {service['name']} [{stage}]: {reason[0]}")
        lines.extend(f"      {line}" for line in reason[1:])
        log = failed_log(service)
        if log:
            lines.append(f"      log: {Path(service['folder']) / log}")
        step = next_step(service)
        if step:
            lines.append(f"      next: {step}")
    lines += _run_notes(report)
    lines += ["", f"Run folder: {folder}", "=" * 80]
    return "\n".join(lines)


def reused_services(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in report["services"].values() if s.get("reused")]


def _reused_lines(report: dict[str, Any]) -> list[str]:
    """Results taken from earlier runs, each with its run: counted as verified, never as verified now."""
    reused = reused_services(report)
    if not reused:
        return []
    fresh = report["totals"]["verified"] - len(reused)
    lines = [
        "",
        f"Reused: {len(reused)} verified result(s) of earlier runs (inputs unchanged); "
        f"{fresh} verified by this run",
    ]
    lines += [
        f"  {s['name']}: unchanged since run {s['reused']['run_id']} (verified {s['reused']['verified_at']})"
        for s in reused
    ]
    return lines


def _run_notes(report: dict[str, Any]) -> list[str]:
    notes = []
    if report["stopped_after_phase"]:
        notes += ["", f"Stopped after phase {report['stopped_after_phase']}: failure rate above the limit."]
    if report["interrupted"]:
        notes += ["", "Interrupted: the run was stopped before it finished."]
    return notes


def has_diff(service: dict[str, Any]) -> bool:
    """The migrate stage writes diff.patch whenever it runs, whatever its result."""
    return any(stage["name"] == "migrate" for stage in service["stages"])


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in the text, so a reason never breaks out of it."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def summary_markdown(report: dict[str, Any]) -> str:
    """The run for people: a table, then each failure in full with its log and next step."""
    totals = report["totals"]
    run_folder = report["run_folder"]
    commit = (report["repo"].get("commit") or "")[:12] or "not a git repository"
    out = [
        f"# Sandbox run {report['run_id']}",
        "",
        f"**{totals['verified']}/{totals['services']} verified**, {totals['failed']} failed"
        + (f", {totals['not_run']} not run" if totals.get("not_run") else "")
        + (f" ({totals['reused']} reused from earlier runs)" if totals.get("reused") else "")
        + f", {report['duration_seconds']:.0f}s. Commit `{commit}`, {report['tool']['name']} "
        f"{report['tool']['version']}, started {report['started_at']}.",
        "",
        "| service | priority | migrations | result | stage | reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for service in report["services"].values():
        result = {"verified": "verified", "failed": "FAILED", NOT_RUN: "NOT RUN"}[service["status"]]
        if service.get("reused"):
            result = f"reused (run {service['reused']['run_id']})"
        reason = _cell(_first_lines(service["reason"], 1)[0])
        out.append(
            f"| {service['name']} | {service['priority']} | {', '.join(service['migrations']) or '-'} "
            f"| {result} | {service['failed_stage'] or '-'} | {reason} |"
        )
    out += ["", "## By Priority", ""]
    out += [f"- {p}: {g['verified']}/{g['total']} verified" for p, g in report["by_priority"].items()]
    out += ["", "## By Migration Type", ""]
    out += [f"- {migration_line(m, g, width=0)}" for m, g in report["by_migration"].items()]
    out += _failures_markdown(report, run_folder)
    out += [line for note in _run_notes(report) for line in ([note] if note else [""])]
    images = report.get("images") or {}
    if images:
        out += ["", "## Images", ""]
        out += [f"- {name}: `{info['ref']}` ({info['source']})" for name, info in images.items()]
    out += ["", f"Logs and diffs: `{run_folder}/<service>/` (relative to the repository root).", ""]
    return "\n".join(out)


def _failures_markdown(report: dict[str, Any], run_folder: str) -> list[str]:
    failed = _unsuccessful(report)
    if not failed:
        return []
    out = ["", "## Failed services", ""]
    for service in failed:
        stage = service["failed_stage"] or "not run"
        fence = _fence(service["reason"])
        out += [
            f"### {service['name']} — {stage}",
            "",
            f"{fence}text",
            service["reason"].rstrip() or "-",
            fence,
            "",
        ]
        log = failed_log(service)
        if log:
            out.append(f"- log: `{run_folder}/{service['name']}/{log}`")
        if has_diff(service):
            out.append(f"- diff: `{run_folder}/{service['name']}/diff.patch`")
        step = next_step(service)
        if step:
            out.append(f"- next: {step}")
        out.append("")
    return out
