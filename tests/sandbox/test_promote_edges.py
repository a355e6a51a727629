"""Promote and the verified record at their edges (no Docker): added and deleted files, a stale shared
file, a shared file already promoted by a sibling, caches that are not content, the reverse record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox import workspace as wsmod
from sandbox.config import discover, load_service
from sandbox.promote import PromotionRefused, promote, revert
from sandbox.records import atomic_write, gate_status, record_verified, state_dir
from sandbox.upgrades import target_versions


def _repo(tmp_path: Path, shared: str = "common") -> Path:
    for name in ("alpha", "beta"):
        svc = tmp_path / "services" / name
        svc.mkdir(parents=True)
        (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
        (svc / "sandbox.toml").write_text(f'context = ".."\nshared = ["{shared}"]\n')
        (svc / "app.py").write_text("OLD = 1\n")
        (svc / "legacy.py").write_text("GONE = 1\n")
    (tmp_path / "services" / shared).mkdir()
    (tmp_path / "services" / shared / "lib.py").write_text("LIB = 1\n")
    return tmp_path


def _verify(repo: Path, name: str, shared: str = "common"):
    config = load_service(repo / "services" / name)
    ws = wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r1" / name)
    svc = ws.work / "services" / name
    (svc / "app.py").write_text("NEW = 1\n")
    (svc / "added.py").write_text("ADDED = 1\n")
    (svc / "legacy.py").unlink()
    (ws.work / "services" / shared / "lib.py").write_text("LIB = 2\n")
    record = record_verified(ws, "r1", target_versions(), {})
    record.save(repo)
    return record


def test_added_and_deleted_files_are_in_the_record_and_promoted_and_reverted(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    record = _verify(repo, "alpha")
    _verify(repo, "beta")
    files = {item["path"]: item for item in record.files}
    assert files["services/alpha/added.py"]["before_sha256"] is None
    assert files["services/alpha/legacy.py"]["after_sha256"] is None
    assert files["services/alpha/legacy.py"]["after_b64"] is None
    assert set(files) == {
        "services/alpha/app.py",
        "services/alpha/added.py",
        "services/alpha/legacy.py",
        "services/common/lib.py",
    }
    svc = repo / "services" / "alpha"
    promote(repo, "alpha", discover(repo / "services"))
    assert (svc / "added.py").read_text() == "ADDED = 1\n" and not (svc / "legacy.py").exists()
    reverse = json.loads((state_dir(repo) / "promoted" / "alpha.json").read_text())
    assert reverse["service"] == "alpha" and reverse["run_id"] == "r1"
    revert(repo, "alpha")
    assert not (svc / "added.py").exists() and (svc / "legacy.py").read_text() == "GONE = 1\n"
    assert (svc / "app.py").read_text() == "OLD = 1\n"


def test_revert_refuses_when_a_file_promote_created_was_deleted(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    promote(repo, "alpha", discover(repo / "services"))
    (repo / "services/alpha/added.py").unlink()
    with pytest.raises(PromotionRefused, match="services/alpha/added.py changed after promotion"):
        revert(repo, "alpha")


def test_a_shared_file_changed_since_verification_is_refused_by_name(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    (repo / "services/common/lib.py").write_text("LIB = 99\n")
    with pytest.raises(PromotionRefused, match=r"alpha: services/common changed since run r1"):
        promote(repo, "alpha", discover(repo / "services"))
    assert (repo / "services/alpha/app.py").read_text() == "OLD = 1\n"


def test_a_shared_file_promoted_by_a_sibling_is_skipped_and_the_rest_still_written(tmp_path: Path) -> None:
    # the shared folder sorts before the service's own files, so the skipped file comes first
    repo = _repo(tmp_path, shared="aaa")
    _verify(repo, "alpha", shared="aaa")
    _verify(repo, "beta", shared="aaa")
    fleet = discover(repo / "services")
    assert "services/aaa/lib.py" in promote(repo, "beta", fleet)
    written = promote(repo, "alpha", fleet)
    assert written == ["services/alpha/added.py", "services/alpha/app.py", "services/alpha/legacy.py"]
    assert (repo / "services/alpha/app.py").read_text() == "NEW = 1\n"


def test_caches_in_the_service_folder_are_not_content(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    svc = repo / "services" / "alpha"
    for cache in ("__pycache__", ".pytest_cache"):
        (svc / cache).mkdir()
        (svc / cache / "junk.bin").write_bytes(b"\x00\x01")
    assert gate_status(repo, "alpha")[0]
    assert "services/alpha/app.py" in promote(repo, "alpha", discover(repo / "services"))


def test_atomic_write_keeps_the_mode_creates_folders_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o750)
    atomic_write(script, b"#!/bin/sh\necho new\n")
    assert script.read_bytes() == b"#!/bin/sh\necho new\n" and script.stat().st_mode & 0o777 == 0o750
    fresh = tmp_path / "a" / "b" / "new.py"
    atomic_write(fresh, b"X = 1\n")
    assert fresh.read_bytes() == b"X = 1\n" and fresh.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["new.py", "run.sh"]


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.py"
    target.write_text("OLD\n")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "OLD\n" and [p.name for p in tmp_path.iterdir()] == ["keep.py"]


def test_records_live_in_the_repos_state_folder(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    assert (repo / ".sandbox" / "verified" / "alpha.json").is_file()
    assert state_dir(repo) == repo / ".sandbox"
