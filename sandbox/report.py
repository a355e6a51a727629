"""Run reports: report.json (a superset of the seeds' results JSON), junit.xml, summary.md and the
console summary in the seeds' shape (By Priority, By Migration Type, Failed Services)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from sandbox.pipeline import STAGES

PRIORITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
# What a person does after each kind of failure (each stage's hint); the repo is never changed by verify.
NEXT_STEPS = {stage.name: stage.hint for stage in STAGES if stage.hint}


def build_report(
    run_id: str,
    outcomes: list[dict[str, Any]],
    images: dict[str, Any],
    seconds: float,
    stopped_after: str | None,
    interrupted: bool,
) -> dict[str, Any]:
    verified = sum(1 for o in outcomes if o["overall_success"])
    return {
        "run_id": run_id,
        "duration_seconds": round(seconds, 1),
        "images": images,
        "stopped_after_phase": stopped_after.upper() if stopped_after else None,
        "interrupted": interrupted,
        "totals": {"services": len(outcomes), "verified": verified, "failed": len(outcomes) - verified},
        "services": {o["name"]: o for o in outcomes},
    }


def write_reports(folder: Path, report: dict[str, Any]) -> None:
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (folder / "junit.xml").write_bytes(junit_xml(report))
    (folder / "summary.md").write_text(summary_markdown(report, folder))
    for name, outcome in report["services"].items():
        service_folder = folder / name
        if service_folder.is_dir():
            (service_folder / "report.json").write_text(json.dumps(outcome, indent=2, default=str))


def junit_xml(report: dict[str, Any]) -> bytes:
    """One test case per service and stage, for CI dashboards."""
    suites = ET.Element("testsuites", name=f"sandbox run {report['run_id']}")
    for name, outcome in report["services"].items():
        cases = outcome["stages"]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(sum(c["status"] in ("failed", "timeout") for c in cases)),
            skipped=str(sum(c["status"] == "skipped" for c in cases)),
        )
        for stage in cases:
            case = ET.SubElement(
                suite, "testcase", classname=name, name=stage["name"], time=f"{stage['seconds']:.2f}"
            )
            if stage["status"] in ("failed", "timeout"):
                failure = ET.SubElement(case, "failure", message=stage["reason"][:500] or stage["status"])
                failure.text = f"log: {stage['log']}" if stage.get("log") else stage["status"]
            elif stage["status"] == "skipped":
                ET.SubElement(case, "skipped", message=stage["reason"])
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def _groups(report: dict[str, Any]) -> tuple[dict[str, list[bool]], dict[str, list[bool]]]:
    by_priority: dict[str, list[bool]] = defaultdict(list)
    by_migration: dict[str, list[bool]] = defaultdict(list)
    for outcome in report["services"].values():
        by_priority[outcome["priority"]].append(outcome["overall_success"])
        for migration, ok in outcome["migrations"].items():
            by_migration[migration].append(ok)
    return by_priority, by_migration


def _failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in report["services"].values() if not o["overall_success"]]


def _first_lines(text: str, count: int = 3) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][:count] or [""]


def summary_text(report: dict[str, Any], folder: Path) -> str:
    totals = report["totals"]
    rate = totals["verified"] / totals["services"] if totals["services"] else 0.0
    by_priority, by_migration = _groups(report)
    lines = [
        "=" * 80,
        f"SANDBOX VERIFY SUMMARY — run {report['run_id']}",
        "=" * 80,
        f"Services: {totals['services']}  Verified: {totals['verified']}  Failed: {totals['failed']}  "
        f"Success rate: {rate:.1%}  Duration: {report['duration_seconds']:.0f}s",
        "",
        "By Priority:",
    ]
    for priority in PRIORITIES:
        if by_priority.get(priority):
            results = by_priority[priority]
            lines.append(f"  {priority:<9} {sum(results)}/{len(results)} verified")
    lines += ["", "By Migration Type:"]
    for migration, results in sorted(by_migration.items()):
        lines.append(f"  {migration:<15} {sum(results)}/{len(results)} verified")
    failed = _failed(report)
    if failed:
        lines += ["", "Failed Services:"]
        for outcome in failed:
            stage = outcome["failed_stage"] or "?"
            reason = _first_lines(outcome["reason"])
            lines.append(f"  {outcome['name']} [{stage}]: {reason[0]}")
            lines.extend(f"      {line}" for line in reason[1:])
            log = next((s["log"] for s in outcome["stages"] if s["name"] == stage and s.get("log")), None)
            if log:
                lines.append(f"      log: {Path(outcome['folder']) / log}")
            hint = NEXT_STEPS.get(stage)
            if hint:
                lines.append(f"      next: {hint.format(name=outcome['name'])}")
    if report["stopped_after_phase"]:
        lines += ["", f"Stopped after phase {report['stopped_after_phase']}: failure rate above the limit."]
    if report["interrupted"]:
        lines += ["", "Interrupted: the run was stopped before it finished."]
    lines += ["", f"Run folder: {folder}", "=" * 80]
    return "\n".join(lines)


def summary_markdown(report: dict[str, Any], folder: Path) -> str:
    totals = report["totals"]
    by_priority, by_migration = _groups(report)
    out = [
        f"# Sandbox run {report['run_id']}",
        "",
        f"**{totals['verified']}/{totals['services']} verified**, {totals['failed']} failed, "
        f"{report['duration_seconds']:.0f}s.",
        "",
        "| service | priority | migrations | result | stage | reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for outcome in report["services"].values():
        result = "verified" if outcome["overall_success"] else "FAILED"
        reason = _first_lines(outcome["reason"], 1)[0].replace("|", "\\|")[:160]
        out.append(
            f"| {outcome['name']} | {outcome['priority']} | {', '.join(outcome['migrations']) or '-'} "
            f"| {result} | {outcome['failed_stage'] or '-'} | {reason} |"
        )
    out += ["", "## By Priority", ""]
    out += [f"- {p}: {sum(by_priority[p])}/{len(by_priority[p])}" for p in PRIORITIES if by_priority.get(p)]
    out += ["", "## By Migration Type", ""]
    out += [f"- {m}: {sum(r)}/{len(r)}" for m, r in sorted(by_migration.items())]
    images = report.get("images") or {}
    if images:
        out += ["", "## Images", ""]
        out += [f"- {name}: `{info['ref']}` ({info['source']})" for name, info in images.items()]
    out += ["", f"Logs: `{folder}`", ""]
    return "\n".join(out)
