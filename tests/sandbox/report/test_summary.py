"""summary.md: full reasons, a next step per failure, paths relative to the repository root."""

from __future__ import annotations

from pathlib import Path

from sandbox.report import summary_markdown
from tests.sandbox.report.samples import LONG_REASON, sample_report


def test_summary_keeps_the_full_reason_and_says_what_to_do(tmp_path: Path) -> None:
    text = summary_markdown(sample_report(tmp_path))
    assert LONG_REASON in text  # every line, far past 160 characters
    section = text.split("### websocket-ingestion — test")[1].split("###")[0]
    assert "- log: `.sandbox/runs/20261126-010000-abcdef/websocket-ingestion/test.log`" in section
    assert "- next: read the failing tests in the log" in section
    assert "`sandbox verify websocket-ingestion --baseline`" in section
    assert "- next: run it: `sandbox verify admin-api`" in text


def test_summary_has_no_runner_local_path(tmp_path: Path) -> None:
    text = summary_markdown(sample_report(tmp_path))
    assert str(tmp_path) not in text and "/tmp" not in text


def test_summary_table_stays_a_table_and_counts_honestly(tmp_path: Path) -> None:
    text = summary_markdown(sample_report(tmp_path))
    rows = [line for line in text.splitlines() if line.startswith("| data-retention")]
    assert len(rows) == 1 and rows[0].count(" | ") == 5
    assert "- aiomqtt 0/2 verified (1 stopped at migrate, 1 stopped at test)" in text
    assert "**1/5 verified**, 3 failed, 1 not run" in text
    assert "Stopped after phase C" in text
