"""Workspace diffs, verified records, the gate and promotion on a real file tree (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import workspace as wsmod
from sandbox.config import discover, load_service
from sandbox.promote import PromotionRefused, promote, revert
from sandbox.records import VerifiedDiff, gate_status, record_verified
from sandbox.upgrades import target_versions


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


def _verify(repo: Path, name: str, shared_text: str = "from aiomqtt import Client\n") -> VerifiedDiff:
    config = load_service(repo / "services" / name)
    ws = wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r1" / name)
    (ws.work / f"services/{name}/app.py").write_text("import aiomqtt\nVALUE = 1\n")
    (ws.work / "services/common/mqtt.py").write_text(shared_text)
    record = record_verified(ws, "r1", target_versions(), {})  # the gate checks the current targets
    record.save(repo)
    return record


def test_diff_and_markers_of_a_workspace(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    config = load_service(repo / "services" / "alpha")
    ws = wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r0" / "alpha")
    assert ws.rel_paths == ["services/alpha", "services/common"]
    (ws.work / "services/alpha/app.py").write_text(
        "# MIGRATION-BLOCKER(MQ-9): use aiomqtt.Client\nimport asyncio_mqtt\nVALUE = 1"
    )
    changes = wsmod.changes(ws)
    assert [c.path for c in changes] == ["services/alpha/app.py"]
    diff = wsmod.unified_diff(changes)
    assert "+# MIGRATION-BLOCKER(MQ-9)" in diff and "\\ No newline at end of file" in diff
    assert wsmod.diff_stats(changes) == {"files": 1, "added": 1, "removed": 0}
    markers = wsmod.find_markers(ws)
    assert [(m.path, m.line) for m in markers] == [("services/alpha/app.py", 1)]
    # the repo's own folder was only read
    assert (repo / "services/alpha/app.py").read_text() == "import asyncio_mqtt\nVALUE = 1\n"


def test_gate_then_promote_then_revert(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    fleet = discover(repo / "services")
    assert gate_status(repo, "alpha")[0]
    written = promote(repo, "alpha", fleet)
    assert written == ["services/alpha/app.py", "services/common/mqtt.py"]
    assert (repo / "services/alpha/app.py").read_text() == "import aiomqtt\nVALUE = 1\n"
    ok, why = gate_status(repo, "alpha")
    assert ok and "promoted" in why
    # beta shares the same common change: already applied, so only its own file is written
    assert promote(repo, "beta", fleet) == ["services/beta/app.py"]
    assert revert(repo, "alpha") == ["services/alpha/app.py", "services/common/mqtt.py"]
    assert (repo / "services/alpha/app.py").read_text() == "import asyncio_mqtt\nVALUE = 1\n"


def test_promote_refuses_a_stale_diff_and_writes_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    (repo / "services/alpha/app.py").write_text("import asyncio_mqtt\nVALUE = 2\n")
    with pytest.raises(PromotionRefused, match="changed since run r1 verified it"):
        promote(repo, "alpha", discover(repo / "services"))
    assert (repo / "services/common/mqtt.py").read_text() == "from asyncio_mqtt import Client\n"
    assert not gate_status(repo, "alpha")[0]


def test_shared_change_needs_every_dependent_verified_with_the_same_change(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    fleet = discover(repo / "services")
    with pytest.raises(PromotionRefused, match="beta has no verified diff"):
        promote(repo, "alpha", fleet)
    _verify(repo, "beta", shared_text="from aiomqtt import Client as C\n")
    with pytest.raises(PromotionRefused, match="different change to shared code services/common"):
        promote(repo, "alpha", fleet)
    assert (repo / "services/alpha/app.py").read_text() == "import asyncio_mqtt\nVALUE = 1\n"


def test_gate_fails_without_a_verified_diff(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    ok, why = gate_status(repo, "alpha")
    assert not ok and "sandbox verify alpha" in why
