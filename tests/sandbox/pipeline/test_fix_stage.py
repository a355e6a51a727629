"""The fix stage on a real workspace and real git, with the codemod output written by hand (no Docker):
markers judged after the fixes, the three patches, rejects, and `migration-fixes/` out of the scan."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from sandbox import workspace as wsmod
from sandbox.config import load_service
from sandbox.fixes import edited_diff, init_history, save_fix
from sandbox.pipeline.fix import fix
from sandbox.pipeline.migrate import BLOCKERS_FILE, held_out_fixes
from sandbox.pipeline.stage import StageContext

SOURCE = (
    "from influxdb_client import InfluxDBClient\n\n\ndef expire(client):\n    client.delete_api().delete()\n"
)
MIGRATED = (
    "from influxdb_client_3 import InfluxDBClient3\n\n\ndef expire(client):\n"
    "    # MIGRATION-BLOCKER(IX-9): InfluxDB 3 has no predicate delete\n    client.delete_api().delete()\n"
)
FIXED = "from influxdb_client_3 import InfluxDBClient3\n\n\ndef expire(client):\n    return None  # retention period\n"


def _repo(tmp_path: Path) -> Path:
    svc = tmp_path / "services" / "svc"
    (svc / "app").mkdir(parents=True)
    (svc / "tests").mkdir()
    (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (svc / "sandbox.toml").write_text("")
    (svc / "app" / "expiry.py").write_text(SOURCE)
    return tmp_path


def _context(repo: Path, run: str) -> StageContext:
    config = load_service(repo / "services" / "svc")
    folder = repo / ".sandbox" / "runs" / run / "svc"
    folder.mkdir(parents=True)
    ctx = StageContext(
        run_id=run,
        repo_root=repo,
        folder=folder,
        resolver=None,
        config=config,
        migrations=["influxdb3"],
        cancelled=threading.Event(),
        on_event=lambda *_: None,
        images=dict,
    )
    ctx.ws = wsmod.create(config, repo, folder)
    return ctx


def _codemods(ctx: StageContext, text: str = MIGRATED) -> None:
    """What the migrate stage leaves: the migrated file and the blockers it reported."""
    (ctx.ws.work / "services/svc/app/expiry.py").write_text(text)
    blockers = [{"path": "services/svc/app/expiry.py", "line": 5, "rule": "IX-9", "upgrade": "influxdb3"}]
    (ctx.folder / BLOCKERS_FILE).write_text(json.dumps({"markers": [{}], "blockers": blockers}))


def _save_a_fix(repo: Path, tmp_path: Path) -> Path:
    """The `sandbox fix` loop in miniature: the migrated tree in git, an edit, the saved patch."""
    copy = tmp_path / "fixcopy"
    (copy / "services/svc/app").mkdir(parents=True)
    (copy / "services/svc/app/expiry.py").write_text(MIGRATED)
    init_history(copy, "codemods")
    (copy / "services/svc/app/expiry.py").write_text(FIXED)
    return save_fix(repo / "services/svc", "retention", "IX-9: a retention period", edited_diff(copy))


def test_without_fixes_a_marker_fails_the_fix_stage_charged_to_its_upgrade(tmp_path: Path) -> None:
    ctx = _context(_repo(tmp_path), "r1")
    _codemods(ctx)
    result = fix(ctx)
    assert result.status == "failed" and "1 MIGRATION-BLOCKER marker(s)" in result.reason
    assert [b["upgrade"] for b in result.details["blockers"]] == ["influxdb3"]


def test_a_fix_resolves_the_marker_and_each_source_gets_its_patch(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    patch = _save_a_fix(repo, tmp_path)
    assert "MIGRATION-BLOCKER" in patch.read_text()  # quoted by the patch, never scanned as a blocker
    ctx = _context(repo, "r2")
    _codemods(ctx)
    result = fix(ctx)
    assert result.ok, result.reason
    assert result.details["fixes"] == ["retention"] and result.details["resolved_by_fixes"] == 1
    assert result.details["fixes_diff"]["files"] == 1 and result.details["codemods_diff"]["files"] == 1
    assert "+    return None" in (ctx.folder / "fixes.patch").read_text()
    assert "+    # MIGRATION-BLOCKER" in (ctx.folder / "codemods.patch").read_text()
    diff = (ctx.folder / "diff.patch").read_text()
    assert "+from influxdb_client_3" in diff and "+    return None" in diff
    # applied, the fix is part of the code: promotion deletes its patch with the rest
    assert "deleted file mode 100644" in diff and "migration-fixes/0001-retention.patch" in diff
    assert result.details["fixes_consumed"] == ["services/svc/migration-fixes/0001-retention.patch"]
    assert result.details["diff"]["files"] == 1
    assert (ctx.ws.work / "services/svc/app/expiry.py").read_text() == FIXED
    assert not (ctx.ws.work / "services/svc/migration-fixes").exists()


def test_a_fix_that_no_longer_applies_fails_with_its_rejects(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _save_a_fix(repo, tmp_path)
    ctx = _context(repo, "r3")
    _codemods(ctx, MIGRATED.replace("delete()", "delete(predicate='m')"))
    result = fix(ctx)
    assert result.status == "failed" and "retention no longer applies" in result.reason
    assert "sandbox fix svc" in result.reason
    assert list((ctx.folder / "rejects").rglob("*.rej"))
    assert (ctx.folder / "rejects" / "0001-retention.patch").is_file()
    assert "<<<<<<<" not in (ctx.ws.work / "services/svc/app/expiry.py").read_text()


def test_the_fixes_folder_is_out_of_the_codemods_reach_while_they_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _save_a_fix(repo, tmp_path)
    ctx = _context(repo, "r4")
    fixes = ctx.ws.work / "services/svc/migration-fixes"
    before = {p.name: p.read_bytes() for p in fixes.iterdir()}
    with held_out_fixes(ctx.ws):
        assert not fixes.exists()
    assert {p.name: p.read_bytes() for p in fixes.iterdir()} == before
    assert not (ctx.folder / "held-fixes").exists()
    shutil.rmtree(fixes)
