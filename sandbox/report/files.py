"""The files of a run: report.json, junit.xml, summary.md (and each service's report.json) in the
run folder `.sandbox/runs/<run-id>/`, one line in `.sandbox/history.jsonl`, and finding them again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sandbox.report import history
from sandbox.report.html import Links, html_page
from sandbox.report.junit import junit_xml
from sandbox.report.summary import summary_markdown


def runs_dir(repo_root: Path) -> Path:
    return repo_root / ".sandbox" / "runs"


def write_reports(folder: Path, report: dict[str, Any]) -> None:
    """Write the run's reports into `folder` (`<repo>/.sandbox/runs/<run-id>`) and append the run to
    the history beside the runs (`<repo>/.sandbox/history.jsonl`)."""
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (folder / "junit.xml").write_bytes(junit_xml(report))
    (folder / "summary.md").write_text(summary_markdown(report))
    for name, outcome in report["services"].items():
        service_folder = folder / name
        if service_folder.is_dir():
            (service_folder / "report.json").write_text(json.dumps(outcome, indent=2, default=str))
    history.append(folder.parent.parent, report)


def run_folders(repo_root: Path) -> list[Path]:
    """Run folders that hold a report, oldest first (run ids sort by start time)."""
    runs = runs_dir(repo_root)
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if (p / "report.json").is_file())


def find_run(repo_root: Path, run_id: str | None) -> Path | None:
    """A run's folder by id (default: the latest run), or None when it holds no report."""
    if run_id is None:
        folders = run_folders(repo_root)
        return folders[-1] if folders else None
    folder = runs_dir(repo_root) / run_id
    return folder if (folder / "report.json").is_file() else None


def load_report(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text())


def write_html(repo_root: Path, report: dict[str, Any], target: Path | None, last: int) -> Path:
    """The HTML page of a run, with the trend of the last `last` runs of the history up to it."""
    folder = runs_dir(repo_root) / report["run_id"]
    target = target or folder / "report.html"
    entries = [e for e in history.load(repo_root / ".sandbox") if e["run_id"] <= report["run_id"]]
    if not any(e["run_id"] == report["run_id"] for e in entries):
        entries.append(history.entry_from_report(report))  # a run from before the history existed
    links = os.path.relpath(folder.resolve(), target.parent.resolve())
    prefix = "" if links == "." else links.replace(os.sep, "/") + "/"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html_page(report, entries[-last:], Links(prefix, folder)))
    return target
