"""The cache's pure rules (no Docker): which selections reuse results, how inputs compare, and that a
damaged or missing entry is no memory at all. The Docker side is tests/sandbox/pipeline/test_changed_cache.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandbox import cache
from sandbox.commands import CacheChoice, Selection, UsageError
from sandbox.records import pipeline_version, source_hash, tool_version, tree_hash

INPUTS = cache.Inputs(
    {"services/a": "1" * 64, "services/common": "2" * 64},
    {"tenacity": "9.2.1"},
    {"migrator": "sandbox/migrator:x@sha256:1", "mosquitto": "m@sha256:2"},
    "0.1.0+abc",
    {"accept_preexisting": False},
)


@pytest.mark.parametrize(
    "choice, selection, reuse",
    [
        (CacheChoice(), Selection(names=("a",)), True),  # a developer's loop reuses by default
        (CacheChoice(), Selection(all_services=True), False),  # a plain fleet run is a full run
        (CacheChoice(changed=True), Selection(all_services=True), True),
        (CacheChoice(changed=True), Selection(phase="b"), True),
        (CacheChoice(no_cache=True), Selection(names=("a",)), False),
    ],
)
def test_which_runs_reuse(choice: CacheChoice, selection: Selection, reuse: bool) -> None:
    assert choice.reuse(selection) is reuse


def test_changed_and_no_cache_together_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="contradict"):
        CacheChoice(changed=True, no_cache=True).reuse(Selection(names=("a",)))


def test_the_key_follows_every_input_and_differences_name_them() -> None:
    assert INPUTS.key == cache.Inputs(**json.loads(json.dumps(INPUTS.__dict__))).key
    other = cache.Inputs(
        {**INPUTS.paths, "services/common": "3" * 64},
        {"tenacity": "9.3.0"},
        {**INPUTS.images, "mosquitto": "m@sha256:9"},
        "0.1.0+def",
        {"accept_preexisting": True},
    )
    assert other.key != INPUTS.key
    assert other.differences(INPUTS) == [
        "services/common",
        "target versions",
        "image mosquitto",
        "tool version (0.1.0+abc -> 0.1.0+def)",
        "options",
    ]
    assert INPUTS.differences(INPUTS) == []


def test_a_missing_or_damaged_entry_is_a_first_run(tmp_path: Path) -> None:
    assert cache.lookup(tmp_path, "a", INPUTS).state == "first"
    path = cache.entry_path(tmp_path, "a")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    found = cache.lookup(tmp_path, "a", INPUTS)
    assert found.state == "first" and not found.hit


def test_an_entry_whose_record_was_replaced_is_not_reused(tmp_path: Path) -> None:
    entry = cache.Entry("a", "run-1", "2026-01-01T00:00:00+00:00", INPUTS.key, INPUTS)
    path = cache.entry_path(tmp_path, "a")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**entry.__dict__, "inputs": INPUTS.__dict__}))
    assert cache.lookup(tmp_path, "a", INPUTS).state == "record-gone"  # no record at all
    record = tmp_path / ".sandbox" / "verified" / "a.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"run_id": "run-2"}))  # a later run's record
    assert cache.lookup(tmp_path, "a", INPUTS).state == "record-gone"
    record.write_text(json.dumps({"run_id": "run-1"}))
    found = cache.lookup(tmp_path, "a", INPUTS)
    assert found.hit and found.why.startswith("unchanged since run run-1")
    cache.forget(tmp_path, "a")
    assert cache.lookup(tmp_path, "a", INPUTS).state == "first"


@pytest.mark.timeout(30)
def test_a_fifo_in_a_service_is_hashed_without_being_opened(tmp_path: Path) -> None:
    """Reading a FIFO blocks until a writer comes: the content hash names its type instead (the copy stage
    refuses it and says why). A service holding one hung `verify` before."""
    svc = tmp_path / "services" / "a"
    svc.mkdir(parents=True)
    (svc / "app.py").write_text("x = 1\n")
    before = tree_hash(tmp_path, ["services/a"])
    os.mkfifo(svc / "pipe")
    with_fifo = tree_hash(tmp_path, ["services/a"])
    assert with_fifo != before
    assert tree_hash(tmp_path, ["services/a"]) == with_fifo


def test_the_pipelines_own_source_is_an_input_of_a_reused_result(tmp_path: Path) -> None:
    """A reused result must have been judged by the same stages, not only made by the same codemods: the
    cache's tool input carries the sandbox package's source hash beside the codemods' version."""
    assert pipeline_version().startswith(tool_version() + "+")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "health.py").write_text("TIMEOUT = 5\n")
    before = source_hash(package)
    (package / "health.py").write_text("TIMEOUT = 50\n")
    assert source_hash(package) != before
