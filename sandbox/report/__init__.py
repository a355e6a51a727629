"""Run reports: report.json (schema-versioned, schema.json beside this file), junit.xml,
summary.md, the console summary, the seeds' results export, the fleet history with its comparison,
and the HTML page.

document.py builds report.json from the service outcomes; junit.py, summary.py, seeds.py and html.py
render it; history.py keeps `.sandbox/history.jsonl`; files.py writes and finds a run's files.
"""

from sandbox.report.document import (
    NEXT_STEPS,
    SCHEMA_PATH,
    SCHEMA_VERSION,
    build_report,
    load_schema,
    merge_reports,
    not_run_reason,
)
from sandbox.report.files import find_run, load_report, run_folders, write_html, write_reports
from sandbox.report.history import Comparison, compare, comparison_text
from sandbox.report.junit import junit_xml
from sandbox.report.seeds import seeds_results
from sandbox.report.summary import summary_markdown, summary_text

__all__ = [
    "NEXT_STEPS",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Comparison",
    "build_report",
    "compare",
    "comparison_text",
    "find_run",
    "junit_xml",
    "load_report",
    "load_schema",
    "merge_reports",
    "not_run_reason",
    "run_folders",
    "seeds_results",
    "summary_markdown",
    "summary_text",
    "write_html",
    "write_reports",
]
