"""Verified records as carried artefacts, the gate's states and promote's refusals (a real file tree,
no Docker). The end-to-end loop and a second clone's gate are in tests/sandbox/pipeline/test_fix_loop.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sandbox import promote as promote_mod
from sandbox import workspace as wsmod
from sandbox.config import discover, load_service
from sandbox.promote import PromotionRefused, promote, revert
from sandbox.records import (
    RUN_RECORD,
    VerifiedDiff,
    gate_check,
    record_verified,
    state_dir,
    tool_version,
    tree_hash,
)

TARGETS = {"aiomqtt": "2.5.1"}


def _repo(tmp_path: Path) -> Path:
    for name in ("alpha", "beta"):
        svc = tmp_path / "services" / name
        (svc / "tests").mkdir(parents=True)
        (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
        (svc / "sandbox.toml").write_text('context = ".."\nshared = ["common"]\n')
        (svc / "app.py").write_text("import asyncio_mqtt\nVALUE = 1\n")
    (tmp_path / "services" / "common").mkdir()
    (tmp_path / "services" / "common" / "mqtt.py").write_text("from asyncio_mqtt import Client\n")
    return tmp_path


def _verify(repo: Path, name: str) -> VerifiedDiff:
    """What the gate stage does at the end of a green run: the record, also in the run folder."""
    config = load_service(repo / "services" / name)
    folder = repo / ".sandbox" / "runs" / "r1" / name
    ws = wsmod.create(config, repo, folder)
    (ws.work / f"services/{name}/app.py").write_text("import aiomqtt\nVALUE = 1\n")
    (ws.work / "services/common/mqtt.py").write_text("from aiomqtt import Client\n")
    record = record_verified(ws, "r1", TARGETS, {"migrator": {"digest": "sha256:0"}})
    record.save(repo, also=folder / RUN_RECORD)
    return record


def test_a_record_is_self_contained(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    record = _verify(repo, "alpha")
    data = json.loads((repo / ".sandbox/runs/r1/alpha" / RUN_RECORD).read_text())
    assert data == json.loads((state_dir(repo) / "verified" / "alpha.json").read_text())
    assert set(data["before_hashes"]) == {"services/alpha", "services/common"}
    assert data["versions"] == TARGETS and data["images"]["migrator"]["digest"] == "sha256:0"
    assert data["tool_version"] == tool_version() and "+" in data["tool_version"]
    assert "+import aiomqtt" in data["diff"] and "+from aiomqtt import Client" in data["diff"]
    assert record.files[0]["after_b64"]


def test_tool_caches_do_not_move_the_hash(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    before = tree_hash(repo, ["services/alpha"])
    for cache in (".ruff_cache/0.6/x", ".pytest_cache/v/cache/lastfailed", "__pycache__/app.cpython-311.pyc"):
        path = repo / "services/alpha" / cache
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("cache")
    assert tree_hash(repo, ["services/alpha"]) == before
    assert gate_check(repo, "alpha", TARGETS).ok
    (repo / "services/alpha/new.py").write_text("x = 1\n")
    assert tree_hash(repo, ["services/alpha"]) != before


def test_an_edit_to_a_shared_path_fails_the_gate_and_promote_refuses(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    (repo / "services/common/extra.py").write_text("# added after verify\n")
    result = gate_check(repo, "alpha", TARGETS)
    assert not result.ok and result.state == "changed" and "services/common" in result.why
    with pytest.raises(PromotionRefused, match="services/common changed since run r1"):
        promote(repo, "alpha", discover(repo / "services"))
    assert (repo / "services/alpha/app.py").read_text() == "import asyncio_mqtt\nVALUE = 1\n"


def test_gate_states_before_and_after_promotion(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    assert gate_check(repo, "alpha", TARGETS).state == "ready"
    promote(repo, "alpha", discover(repo / "services"))
    assert gate_check(repo, "alpha", TARGETS).state == "promoted"
    # beta's own folder is still as verified, its shared path already holds the shared change
    assert gate_check(repo, "beta", TARGETS).state == "ready"
    (repo / "services/alpha/app.py").write_text("import aiomqtt\nVALUE = 2\n")
    assert gate_check(repo, "alpha", TARGETS).state == "changed"


def test_gate_refuses_other_targets_or_another_tool(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    result = gate_check(repo, "alpha", {"aiomqtt": "3.0.0"})
    assert not result.ok and result.state == "targets" and "sandbox verify alpha" in result.why
    path = state_dir(repo) / "verified" / "alpha.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "tool_version": "0.0.1+000000000000"}))
    result = gate_check(repo, "alpha", TARGETS)
    assert not result.ok and result.state == "tool-version" and "0.0.1+000000000000" in result.why


def test_records_are_read_from_a_run_folder_or_an_artifact(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    artifact = tmp_path / "download" / "sandbox-run-r1"
    shutil.copytree(repo / ".sandbox/runs/r1", artifact)
    shutil.rmtree(state_dir(repo) / "verified")
    assert gate_check(repo, "alpha", TARGETS).state == "no-record"
    for where in (artifact, artifact.parent, artifact / "alpha" / RUN_RECORD):
        assert gate_check(repo, "alpha", TARGETS, where).state == "ready", where
    missing = gate_check(repo, "beta", TARGETS, artifact)
    assert not missing.ok and "no verified diff under" in missing.why
    # a record of another service under the name asked for is refused
    with pytest.raises(PromotionRefused, match="is the record of alpha"):
        VerifiedDiff.load(repo, "beta", artifact / "alpha" / RUN_RECORD)


def test_promote_refuses_a_path_as_service_name(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    for name in ("../verified/alpha", "/etc/passwd", "gamma"):
        with pytest.raises(PromotionRefused, match="not a service"):
            promote(repo, name, discover(repo / "services"))
    with pytest.raises(PromotionRefused, match="not a service name"):
        revert(repo, "../promoted/alpha")


def test_a_failed_write_rolls_back_and_records_nothing(tmp_path: Path, monkeypatch) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    real, calls = promote_mod.atomic_write, []

    def fail_second(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:  # the disk fills up on the second file
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(promote_mod, "atomic_write", fail_second)
    with pytest.raises(PromotionRefused, match="rolled back"):
        promote(repo, "alpha", discover(repo / "services"))
    assert (repo / "services/alpha/app.py").read_text() == "import asyncio_mqtt\nVALUE = 1\n"
    assert (repo / "services/common/mqtt.py").read_text() == "from asyncio_mqtt import Client\n"
    assert not (state_dir(repo) / "promoted" / "alpha.json").exists()


def test_a_blocked_sibling_holds_the_shared_change_until_it_verifies(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    # beta's last run stopped at a blocker: its report in the run folder says why
    failed = repo / ".sandbox/runs/r2/beta/report.json"
    failed.parent.mkdir(parents=True)
    failed.write_text(
        json.dumps(
            {"overall_success": False, "failed_stage": "fix", "reason": "1 MIGRATION-BLOCKER marker(s)"}
        )
    )
    fleet = discover(repo / "services")
    with pytest.raises(
        PromotionRefused, match=r"beta has no verified diff \(its last run stopped at fix: 1 MIG"
    ):
        promote(repo, "alpha", fleet)
    # once beta verifies with the same shared change (its own code needing none or some), alpha goes
    _verify(repo, "beta")
    assert promote(repo, "alpha", fleet) == ["services/alpha/app.py", "services/common/mqtt.py"]
    assert gate_check(repo, "beta", TARGETS).state == "ready"


def test_the_gate_workflow_is_callable_with_services_and_an_artifact() -> None:
    import yaml

    workflow = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "sandbox-gate.yml"
    document = yaml.safe_load(workflow.read_text())
    call = document[True]["workflow_call"]  # YAML 1.1 reads the key `on` as True
    assert {"services", "artifact"} <= set(call["inputs"]) and call["inputs"]["services"]["required"]
    steps = document["jobs"]["gate"]["steps"]
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"]["pattern"] == "${{ inputs.artifact }}"
    gate = next(s for s in steps if s.get("id") == "gate")
    assert 'sandbox gate $SERVICES --records "$RECORDS" --json' in gate["run"]
    assert 'exit "$code"' in gate["run"]
