"""`sandbox report --html`: one self-contained page (inline CSS and SVG, no script, nothing fetched).

The fleet table (service × stage, coloured by status, with durations, each failed stage linking to
its log), each failure in full with its next step, and the trend of the last N runs from the
history. Links are relative to the page, so the run folder can be published as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from sandbox.report.document import NOT_RUN, STAGE_NAMES, service_seconds, stage_results
from sandbox.report.summary import failed_log, has_diff, next_step

STATUS_COLOURS = {
    "passed": "#2e7d32",
    "verified": "#2e7d32",
    "failed": "#c62828",
    "timeout": "#ef6c00",
    "skipped": "#9e9e9e",
    NOT_RUN: "#616161",
    "absent": "#eeeeee",
}
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#212121}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;font-size:13px} .totals span{display:inline-block;margin:8px 8px 0 0;padding:4px 10px;
border-radius:12px;color:#fff;font-weight:600;font-size:13px}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f5f5f5} td.cell{color:#fff;text-align:center;min-width:70px}
td.cell a{color:#fff} td.cell small{display:block;opacity:.9}
.skipped{opacity:.55} pre{background:#f7f7f7;border:1px solid #e0e0e0;padding:8px;white-space:pre-wrap;
font-size:12px;max-width:1100px} .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;
vertical-align:middle} .dot{display:inline-block;width:16px;height:16px;border-radius:3px}
"""


@dataclass(frozen=True)
class Links:
    """Where the page finds a run's files: `prefix` from the page to the run folder ("" when the page
    is in it); with `folder`, only files that exist there are linked (a merged run has none)."""

    prefix: str = ""
    folder: Path | None = None

    def anchor(self, service: str, file: str, text: str) -> str:
        if self.folder is not None and not (self.folder / service / file).is_file():
            return text
        return f'<a href="{escape(self.prefix + service)}/{escape(file)}">{text}</a>'


def html_page(report: dict[str, Any], trend: list[dict[str, Any]], links: Links | None = None) -> str:
    """`trend`: history entries oldest first (this run included)."""
    links = links or Links()
    title = f"Sandbox run {report['run_id']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _meta(report),
        _totals(report),
        "<h2>Fleet</h2>",
        _legend(),
        _fleet_table(report, links),
        f"<h2>Trend of the last {len(trend)} run(s)</h2>",
        _trend_chart(trend),
        _trend_grid(trend),
        _failures(report, links),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part)


def _meta(report: dict[str, Any]) -> str:
    commit = report["repo"].get("commit") or "not a git repository"
    machine = report["machine"]
    notes = []
    if report["stopped_after_phase"]:
        notes.append(f"stopped after phase {report['stopped_after_phase']} (failure rate above the limit)")
    if report["interrupted"]:
        notes.append("interrupted before it finished")
    text = (
        f"commit {commit} · {report['tool']['name']} {report['tool']['version']} · started "
        f"{report['started_at']} · {report['duration_seconds']:.0f}s · {machine['hostname']} "
        f"({machine['cores']} cores)"
    )
    return f'<p class="meta">{escape(text)}</p>' + "".join(f"<p><b>{escape(n)}</b></p>" for n in notes)


def _totals(report: dict[str, Any]) -> str:
    totals = report["totals"]
    badges = [
        ("verified", f"{totals['verified']} verified"),
        ("failed", f"{totals['failed']} failed"),
        (NOT_RUN, f"{totals['not_run']} not run"),
    ]
    if totals.get("reused"):  # part of the verified count, named: results of earlier runs
        badges.insert(1, ("skipped", f"{totals['reused']} of them reused from earlier runs"))
    spans = "".join(
        f'<span style="background:{STATUS_COLOURS[key]}">{escape(text)}</span>' for key, text in badges
    )
    return f'<div class="totals">{spans} of {totals["services"]} services</div>'


def _legend() -> str:
    keys = ("passed", "failed", "timeout", "skipped", NOT_RUN)
    items = "".join(f'<span style="background:{STATUS_COLOURS[k]}"></span>{k}' for k in keys)
    return f'<p class="legend">{items}</p>'


def _fleet_table(report: dict[str, Any], links: Links) -> str:
    head = "".join(f"<th>{name}</th>" for name in STAGE_NAMES)
    rows = [
        f"<table><tr><th>service</th><th>priority</th><th>result</th>{head}<th>time</th><th>files</th></tr>"
    ]
    for service in report["services"].values():
        rows.append(_fleet_row(service, links))
    rows.append("</table>")
    return "\n".join(rows)


def _fleet_row(service: dict[str, Any], links: Links) -> str:
    name = service["name"]
    status = service["status"]
    shown = f"reused (run {service['reused']['run_id']})" if service.get("reused") else status
    result = f'<td class="cell" style="background:{STATUS_COLOURS[status]}">{escape(shown)}</td>'
    cells = "".join(_stage_cell(name, stage, links) for stage in stage_results(service).values())
    files = [links.anchor(name, "diff.patch", "diff")] if has_diff(service) else []
    if service["folder"]:
        files.append(links.anchor(name, "report.json", "report.json"))
    return (
        f"<tr><td><b>{escape(name)}</b></td><td>{escape(service['priority'])}</td>{result}{cells}"
        f"<td>{service_seconds(service):.1f}s</td><td>{' '.join(files) or '-'}</td></tr>"
    )


def _stage_cell(service: str, stage: dict[str, Any], links: Links) -> str:
    status = stage["status"]
    label = escape(status)
    if stage.get("log"):
        label = links.anchor(service, stage["log"], label)
    seconds = f"<small>{stage['seconds']:.1f}s</small>" if status != "skipped" else ""
    attrs = ' class="cell skipped"' if status == "skipped" else ' class="cell"'
    colour = STATUS_COLOURS.get(status, "#757575")
    title = escape(stage["reason"] or status, quote=True)
    return f'<td{attrs} style="background:{colour}" title="{title}">{label}{seconds}</td>'


def _failures(report: dict[str, Any], links: Links) -> str:
    failed = [s for s in report["services"].values() if s["status"] != "verified"]
    if not failed:
        return ""
    parts = ["<h2>Failed services</h2>"]
    for service in failed:
        stage = service["failed_stage"] or "not run"
        parts.append(f"<h3>{escape(service['name'])} — {escape(stage)}</h3>")
        parts.append(f"<pre>{escape(service['reason'].rstrip() or '-')}</pre>")
        log = failed_log(service)
        items = []
        if log:
            items.append(f"log: {links.anchor(service['name'], log, escape(log))}")
        step = next_step(service)
        if step:
            items.append(f"next: {escape(step)}")
        parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    return "\n".join(parts)


def _trend_chart(trend: list[dict[str, Any]]) -> str:
    """Stacked bars per run: verified, failed, not run (an SVG, so the page needs nothing else)."""
    if not trend:
        return "<p>No history yet.</p>"
    width, height, bar = 60, 160, 36
    top = max(entry["totals"]["services"] for entry in trend) or 1
    bars = []
    for index, entry in enumerate(trend):
        x = 40 + index * width
        y = height
        for key, colour in (("verified", "verified"), ("failed", "failed"), ("not_run", NOT_RUN)):
            count = entry["totals"].get(key, 0)
            size = round(count / top * (height - 20))
            if size:
                y -= size
                bars.append(
                    f'<rect x="{x}" y="{y}" width="{bar}" height="{size}" fill="{STATUS_COLOURS[colour]}">'
                    f"<title>{escape(entry['run_id'])}: {count} {key.replace('_', ' ')}</title></rect>"
                )
        label = escape(entry["run_id"][4:13])
        bars.append(
            f'<text x="{x + bar / 2}" y="{height + 14}" font-size="10" text-anchor="middle">{label}</text>'
        )
        bars.append(
            f'<text x="{x + bar / 2}" y="{y - 4}" font-size="11" text-anchor="middle">'
            f"{entry['totals']['verified']}/{entry['totals']['services']}</text>"
        )
    total_width = 40 + len(trend) * width
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{height + 24}" '
        f'role="img" aria-label="verified per run">{"".join(bars)}</svg>'
    )


def _trend_grid(trend: list[dict[str, Any]]) -> str:
    """Service × run, one coloured square per run (hover: status and stage)."""
    if not trend:
        return ""
    names = sorted({name for entry in trend for name in entry["services"]})
    head = "".join(f'<th title="{escape(e["run_id"])}">{escape(e["run_id"][4:13])}</th>' for e in trend)
    rows = [f"<table><tr><th>service</th>{head}</tr>"]
    for name in names:
        cells = []
        for entry in trend:
            state = entry["services"].get(name)
            status = state["status"] if state else "absent"
            text = status if not state or not state.get("stage") else f"{status} at {state['stage']}"
            cells.append(
                f'<td title="{escape(text, quote=True)}"><span class="dot" '
                f'style="background:{STATUS_COLOURS.get(status, "#757575")}"></span></td>'
            )
        rows.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    rows.append("</table>")
    return "\n".join(rows)
