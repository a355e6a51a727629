"""Promote's whole-folder stale check and its all-or-nothing rollback, on a real file tree (no Docker).

The per-file check in `plan_writes` only sees files that are in the diff; these tests change a file
that is NOT in the diff, so only the whole-folder content hash can catch it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import promote as promote_mod
from sandbox import workspace as wsmod
from sandbox.config import discover, load_service
from sandbox.promote import PromotionRefused, apply_writes, promote, revert
from sandbox.records import VerifiedDiff, gate_status, record_verified, state_dir
from sandbox.upgrades import target_versions

OLD_APP = "import asyncio_mqtt\nVALUE = 1\n"
NEW_APP = "import aiomqtt\nVALUE = 1\n"


def _repo(tmp_path: Path) -> Path:
    svc = tmp_path / "services" / "alpha"
    (svc / "tests").mkdir(parents=True)
    (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (svc / "sandbox.toml").write_text("")
    (svc / "app.py").write_text(OLD_APP)
    (svc / "util.py").write_text("HELPER = 1\n")
    (svc / "tests" / "test_app.py").write_text("def test_ok() -> None:\n    assert True\n")
    return tmp_path


def _verify(repo: Path, extra: dict[str, str] | None = None) -> VerifiedDiff:
    """A verified record whose diff changes app.py (and `extra` files), never util.py."""
    config = load_service(repo / "services" / "alpha")
    ws = wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r1" / "alpha")
    (ws.work / "services/alpha/app.py").write_text(NEW_APP)
    for rel, text in (extra or {}).items():
        (ws.work / "services/alpha" / rel).write_text(text)
    record = record_verified(ws, "r1", target_versions(), {})
    record.save(repo)
    assert "services/alpha/app.py" in [item["path"] for item in record.files]
    if not extra:
        assert all("util.py" not in item["path"] for item in record.files)
    return record


def _fleet(repo: Path):
    return discover(repo / "services")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda svc: (svc / "util.py").write_text("HELPER = 2\n"), id="edited-unrelated-file"),
        pytest.param(lambda svc: (svc / "new_module.py").write_text("X = 1\n"), id="added-file"),
        pytest.param(lambda svc: (svc / "util.py").unlink(), id="deleted-file"),
        pytest.param(lambda svc: (svc / "tests" / "test_app.py").write_text("# gone\n"), id="edited-test"),
    ],
)
def test_promote_refuses_after_an_unrelated_file_of_the_service_changed(tmp_path: Path, edit) -> None:
    repo = _repo(tmp_path)
    _verify(repo)
    svc = repo / "services" / "alpha"
    edit(svc)
    with pytest.raises(
        PromotionRefused, match=r"services/alpha changed since run r1 verified it \(stale diff\)"
    ):
        promote(repo, "alpha", _fleet(repo))
    # nothing written: the diff's own file is untouched and no reverse record claims a promotion
    assert (svc / "app.py").read_text() == OLD_APP
    assert not (state_dir(repo) / "promoted" / "alpha.json").exists()
    ok, why = gate_status(repo, "alpha")
    assert not ok and "changed since run r1" in why


def test_promote_applies_when_nothing_changed(tmp_path: Path) -> None:
    """The control for the test above: the same record promotes on an untouched folder."""
    repo = _repo(tmp_path)
    _verify(repo)
    assert promote(repo, "alpha", _fleet(repo)) == ["services/alpha/app.py"]
    assert (repo / "services/alpha/app.py").read_text() == NEW_APP


def test_a_write_failing_midway_leaves_the_files_as_they_were(tmp_path: Path) -> None:
    """Real failure, no mock: the second target's parent is a regular file, so its write raises."""
    first = tmp_path / "a.py"
    first.write_text("old\n")
    gone = tmp_path / "b.py"
    gone.write_text("to delete\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    writes = [
        (first, b"old\n", b"new\n"),
        (gone, b"to delete\n", None),
        (blocker / "c.py", None, b"created\n"),
    ]
    with pytest.raises(OSError):
        apply_writes(writes)
    assert first.read_text() == "old\n"
    assert gone.read_text() == "to delete\n"
    assert blocker.read_text() == "a file, not a folder\n"


def test_apply_writes_restores_a_created_file_by_removing_it(tmp_path: Path) -> None:
    created = tmp_path / "new.py"
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OSError):
        apply_writes([(created, None, b"new\n"), (blocker / "d.py", None, b"y")])
    assert not created.exists()


def test_promote_rolls_back_when_a_write_fails_midway(tmp_path: Path, monkeypatch) -> None:
    """Through promote(): the disk fails on the second file (simulated: the one mock of this file);
    the first file already written is restored."""
    repo = _repo(tmp_path)
    _verify(repo, extra={"util.py": "HELPER = 3\n", "added.py": "NEW = 1\n"})
    before = {p: p.read_bytes() for p in (repo / "services/alpha").rglob("*") if p.is_file()}
    real = promote_mod.atomic_write
    calls: list[Path] = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if path.name == "util.py":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(promote_mod, "atomic_write", failing)
    with pytest.raises(PromotionRefused, match="No space left.*rolled back"):
        promote(repo, "alpha", _fleet(repo))
    after = {p: p.read_bytes() for p in (repo / "services/alpha").rglob("*") if p.is_file()}
    assert after == before
    # the rollback really had something to undo: a file was written before the failure
    assert any(p.name in ("app.py", "added.py") for p in calls[:-1])


def test_revert_refuses_when_a_promoted_file_was_edited_afterwards(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo)
    promote(repo, "alpha", _fleet(repo))
    (repo / "services/alpha/app.py").write_text("edited by hand\n")
    with pytest.raises(PromotionRefused, match="changed after promotion"):
        revert(repo, "alpha")
    assert (repo / "services/alpha/app.py").read_text() == "edited by hand\n"


def test_revert_without_a_promotion_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(PromotionRefused, match="nothing to revert"):
        revert(repo, "alpha")
