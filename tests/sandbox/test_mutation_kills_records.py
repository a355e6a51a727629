"""What a verified record and the change list say, on a real file tree (no Docker): when the record
was verified (in UTC), a shared entry that is a single file, and a symbolic link that changed target.

Written against mutants of sandbox/records.py and sandbox/workspace.py that survived the older tests
(scripts/mutation.py, group `promote`): record_verified 22/34/58 and _files 4/12/13.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox import workspace as wsmod
from sandbox.config import discover, load_service
from sandbox.promote import promote
from sandbox.records import VerifiedDiff, record_verified
from sandbox.upgrades import target_versions


def _service(tmp_path: Path, shared: str) -> Path:
    svc = tmp_path / "services" / "alpha"
    (svc / "tests").mkdir(parents=True)
    (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (svc / "sandbox.toml").write_text(f'context = ".."\nshared = ["{shared}"]\n')
    (svc / "app.py").write_text("import asyncio_mqtt\n")
    return tmp_path


def _workspace(repo: Path) -> wsmod.Workspace:
    config = load_service(repo / "services" / "alpha")
    return wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r1" / "alpha")


# --- verified_at: when, in UTC -----------------------------------------------------------------------


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """The process's local zone far from UTC, so a naive local time is a different instant; restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"  # +05:30 all year, no daylight saving to straddle
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_verified_record_says_when_in_utc_and_keeps_it_when_read_back(tmp_path: Path, far_from_utc) -> None:
    repo = _service(tmp_path, "common")
    (repo / "services" / "common").mkdir()
    (repo / "services" / "common" / "mqtt.py").write_text("from asyncio_mqtt import Client\n")
    ws = _workspace(repo)
    (ws.work / "services/alpha/app.py").write_text("import aiomqtt\n")
    start = datetime.now(UTC).replace(microsecond=0)
    record = record_verified(ws, "r1", target_versions(), {})
    end = datetime.now(UTC)
    when = datetime.fromisoformat(record.verified_at)  # a missing time ("") does not parse
    assert when.utcoffset() == timedelta(0)  # an explicit UTC offset, not a naive local time
    assert start <= when <= end  # the same instant as the clock's, not the local wall time read as UTC
    record.save(repo)
    assert VerifiedDiff.load(repo, "alpha").verified_at == record.verified_at


# --- a shared entry that is a single file --------------------------------------------------------------


def test_a_shared_single_file_is_copied_hashed_and_its_change_recorded(tmp_path: Path) -> None:
    repo = _service(tmp_path, "settings.py")
    (repo / "services" / "settings.py").write_text("BROKER = 'asyncio_mqtt'\n")
    ws = _workspace(repo)
    assert ws.rel_paths == ["services/alpha", "services/settings.py"]
    assert (ws.work / "services/settings.py").read_text() == "BROKER = 'asyncio_mqtt'\n"
    before_hash = wsmod.content_hash(ws.work, ["services/settings.py"])
    (ws.work / "services/settings.py").write_text("BROKER = 'aiomqtt'\n")
    # the file's bytes are in its hash: a changed shared file gives another hash
    assert wsmod.content_hash(ws.work, ["services/settings.py"]) != before_hash
    assert wsmod.changes(ws) == [
        wsmod.FileChange("services/settings.py", b"BROKER = 'asyncio_mqtt'\n", b"BROKER = 'aiomqtt'\n")
    ]
    record = record_verified(ws, "r1", target_versions(), {})
    assert [f["path"] for f in record.files] == ["services/settings.py"]
    assert list(record.shared_diffs) == ["services/settings.py"]  # the siblings' gate sees the change
    assert record.before_hashes["services/settings.py"] != record.after_hashes["services/settings.py"]


# --- a symbolic link in the change list ----------------------------------------------------------------


def _retargeted_link(tmp_path: Path) -> tuple[Path, wsmod.Workspace]:
    """A shared `current.py -> v1.py` in the repo, pointed at v2.py in the service's working copy."""
    repo = _service(tmp_path, "common")
    common = repo / "services" / "common"
    common.mkdir()
    (common / "v1.py").write_text("VERSION = 1\n")
    (common / "v2.py").write_text("VERSION = 2\n")
    (common / "current.py").symlink_to("v1.py")
    ws = _workspace(repo)
    link = ws.work / "services/common/current.py"
    assert link.is_symlink()  # copied as a link
    link.unlink()
    link.symlink_to("v2.py")
    return repo, ws


def test_a_retargeted_link_is_listed_as_a_link_with_its_targets(tmp_path: Path) -> None:
    _, ws = _retargeted_link(tmp_path)
    # the change names each side's target (never the target's bytes), in the words a reader knows
    change = wsmod.FileChange("services/common/current.py", b"symlink -> v1.py", b"symlink -> v2.py")
    assert wsmod.changes(ws) == [change]
    diff = wsmod.unified_diff([change])
    assert "-symlink -> v1.py\n" in diff and "+symlink -> v2.py\n" in diff


def test_promoting_a_retargeted_link_leaves_a_link_to_the_new_target(tmp_path: Path) -> None:
    """Found while killing _files 12/13: the change list shows a link as a link, promote does not."""
    repo, ws = _retargeted_link(tmp_path)
    record_verified(ws, "r1", target_versions(), {}).save(repo)
    promote(repo, "alpha", discover(repo / "services"))
    promoted = repo / "services" / "common" / "current.py"
    assert promoted.is_symlink() and os.readlink(promoted) == "v2.py"
