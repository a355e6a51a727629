"""`verify --json` through the real CLI and Docker engine: stdout is exactly report.json (parseable),
progress went to stderr as timestamped lines, image build output stayed out of the console."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.sandbox.pipeline.fixture_fleet import sandbox, write_fleet


@pytest.mark.docker
@pytest.mark.slow
def test_verify_json_stdout_is_one_document_and_progress_is_on_stderr(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    result = sandbox(repo, "verify", "ok-svc", "--json")
    report = json.loads(result.stdout)  # nothing but the document on stdout
    assert result.returncode == 0, result.stderr
    assert report["services"]["ok-svc"]["overall_success"] is True
    progress = [line for line in result.stderr.splitlines() if line.strip()]
    assert progress and all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in progress), progress[:5]
    assert "\x1b" not in result.stderr
