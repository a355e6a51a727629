"""Shared fixtures. Docker tests never skip: a missing engine is a failure with the next step."""

from __future__ import annotations

import pytest

from sandbox.engine import EngineUnavailable, connect
from tests.sandbox.report.samples import report_files_errors


@pytest.fixture(scope="session")
def docker_client():
    try:
        return connect()
    except EngineUnavailable as exc:  # fail loudly: CI must start the engine (scripts/setup.sh)
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def reports_match_their_schemas(tmp_path_factory):
    """After the session: every report.json and junit.xml a test's run wrote (under the session's
    temporary folders) validates against sandbox/report/schema.json and junit-10.xsd."""
    yield
    problems = report_files_errors(tmp_path_factory.getbasetemp())
    assert not problems, "\n".join(f"{path}: {errors[:5]}" for path, errors in problems.items())
