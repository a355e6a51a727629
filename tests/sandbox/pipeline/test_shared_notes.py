"""A named verify after a change to shared code the service declares verifies what was named, and
says which other services share the changed code and how to verify them. Pure logic: a cache entry
on disk stands for the last verified run; no Docker."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sandbox import cache
from sandbox.config import ServiceConfig
from sandbox.pipeline.run import Options, ServiceOutcome, _shared_changes, new_run, shared_notes


def _config(root: Path, name: str, shared: tuple[str, ...] = ()) -> ServiceConfig:
    return ServiceConfig(name=name, path=root / "services" / name, shared=shared)


def _remember(root: Path, service: str, paths: dict[str, str]) -> None:
    inputs = cache.Inputs(paths, {}, {}, "tool")
    entry = cache.Entry(service, "run-1", "2026-11-26T06:00:00Z", inputs.key, inputs)
    path = cache.entry_path(root, service)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(entry)))


def _inputs(common: str) -> cache.Inputs:
    return cache.Inputs({"services/api": "a" * 64, "services/common": common * 64}, {}, {}, "tool")


def test_a_changed_shared_path_is_found_against_the_last_verified_run(tmp_path) -> None:
    run = new_run(tmp_path, "r2", Options(), lambda *a: None)
    config = _config(tmp_path, "api", ("common",))
    assert _shared_changes(run, config, _inputs("1")) == []  # never verified: nothing to compare with
    _remember(tmp_path, "api", dict(_inputs("1").paths))
    assert _shared_changes(run, config, _inputs("1")) == []
    assert _shared_changes(run, config, _inputs("2")) == ["common"]
    assert _shared_changes(run, config, None) == []  # inputs not hashed: nothing said


def test_the_note_names_the_other_services_sharing_the_code_and_the_command(tmp_path) -> None:
    fleet = {
        "api": _config(tmp_path, "api", ("common",)),
        "worker": _config(tmp_path, "worker", ("common",)),
        "billing": _config(tmp_path, "billing", ("common",)),
        "solo": _config(tmp_path, "solo"),
    }
    outcome = ServiceOutcome("api", "LOW", "a", [])
    outcome.shared_since = ["common"]
    (note,) = shared_notes([outcome], fleet)
    assert "'common' changed since api last verified" in note
    assert "billing, worker also build with it" in note
    assert "`sandbox verify billing worker`" in note and "--all --changed" in note


def test_no_note_when_the_run_verified_every_service_sharing_it(tmp_path) -> None:
    fleet = {"api": _config(tmp_path, "api", ("common",)), "worker": _config(tmp_path, "worker", ("common",))}
    outcomes = [ServiceOutcome(name, "LOW", "a", []) for name in fleet]
    for outcome in outcomes:
        outcome.shared_since = ["common"]
    assert shared_notes(outcomes, fleet) == []
    assert shared_notes([ServiceOutcome("api", "LOW", "a", [])], fleet) == []  # shared code unchanged
