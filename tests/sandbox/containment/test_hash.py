"""The content hash the gate compares covers what the copy holds: tool caches are skipped by both,
and a link is hashed as its target's name, never through it."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.workspace import content_hash
from tests.sandbox.pipeline.fixture_fleet import write_service


def test_tool_caches_do_not_change_the_hash(tmp_path: Path) -> None:
    write_service(tmp_path / "services", "ok-svc")
    before = content_hash(tmp_path, ["services/ok-svc"])
    for cache in (".ruff_cache", ".mypy_cache", "app/__pycache__", ".pytest_cache"):
        (tmp_path / "services" / "ok-svc" / cache).mkdir(parents=True)
        (tmp_path / "services" / "ok-svc" / cache / "blob").write_text("changes every run")
    assert content_hash(tmp_path, ["services/ok-svc"]) == before
    (tmp_path / "services" / "ok-svc" / "app" / "new.py").write_text("x = 1\n")
    assert content_hash(tmp_path, ["services/ok-svc"]) != before


def test_a_link_is_hashed_by_its_target_name(tmp_path: Path) -> None:
    write_service(tmp_path / "services", "ok-svc")
    secret = tmp_path / "secret"
    secret.write_text("one")
    os.symlink(secret, tmp_path / "services" / "ok-svc" / "leak.txt")
    first = content_hash(tmp_path, ["services/ok-svc"])
    secret.write_text("two")
    assert content_hash(tmp_path, ["services/ok-svc"]) == first
