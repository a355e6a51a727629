"""`verify --json` through the real CLI and Docker engine: stdout is exactly report.json (parseable),
progress went to stderr as timestamped lines, image build output stayed out of the console."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.sandbox.docker_objects import containers
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


@pytest.mark.docker
@pytest.mark.slow
def test_verify_keep_keeps_the_runs_containers_and_networks_and_json_stays_pure(
    tmp_path: Path, docker_client
) -> None:
    from sandbox.engine.labels import project_filter

    repo = write_fleet(tmp_path, ["ok-svc"])
    result = sandbox(repo, "verify", "ok-svc", "--keep", "--json")
    report = json.loads(result.stdout)  # the kept-objects note went to stderr
    run_id = report["run_id"]
    try:
        assert result.returncode == 0, result.stderr
        selector = project_filter(run_id)
        roles = {c.labels["sandbox.role"] for c in containers(docker_client, selector)}
        # Every stage's containers: the migrator, the dependencies, the tests and the running service.
        assert {"migrator", "deps", "tests", "service"} <= roles, roles
        running = containers(docker_client, selector, stopped=False)
        assert any(c.labels["sandbox.role"] == "deps" for c in running), "dependencies stay up"
        networks = docker_client.networks.list(filters=selector)
        assert len(networks) >= 2
        assert f"remove them with: sandbox clean --run {run_id}" in result.stderr
        assert all(f"network   {n.name}" in result.stderr for n in networks)
    finally:
        cleaned = sandbox(repo, "clean", "--run", run_id)
    assert cleaned.returncode == 0, cleaned.stderr
    left = containers(docker_client, project_filter(run_id))
    assert left == [], (left, cleaned.stdout, cleaned.stderr)
    assert docker_client.networks.list(filters=project_filter(run_id)) == []
