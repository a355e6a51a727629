"""A service's outcome as report.json shows it (ServiceOutcome.to_dict): every field, for a verified
service, one that failed at a stage, and one with no stages at all. Pure logic, no Docker."""

from __future__ import annotations

from sandbox.pipeline.run import ServiceOutcome, _describe
from sandbox.pipeline.stage import StageResult

IMAGES = {"base": {"ref": "sandbox/base:local", "digest": "sha256:ab"}}


def _outcome(*stages: StageResult, verified: bool = False) -> ServiceOutcome:
    outcome = ServiceOutcome("svc", "HIGH", "c", ["tenacity", "aiomqtt"], folder="/runs/r1/svc")
    outcome.stages = list(stages)
    outcome.verified = verified
    outcome.preexisting_failures = ["tests/test_a.py::test_old"]
    return outcome


def test_a_verified_service_shows_every_field() -> None:
    migrate = StageResult(
        "migrate", "passed", 1.234, details={"markers": [], "diff": {"files": 2, "added": 3, "removed": 1}}
    )
    test = StageResult("test", "passed", 2.0, details={"tests": 4, "failures": 0})
    outcome = _outcome(StageResult("copy", "passed"), migrate, test, verified=True)
    assert outcome.to_dict(IMAGES) == {
        "name": "svc",
        "priority": "HIGH",
        "phase": "C",
        "migrations": {"tenacity": True, "aiomqtt": True},
        "overall_success": True,
        "failed_stage": None,
        "reason": "",
        "skipped": False,
        "holds_shared": [],
        "stages": [s.to_dict() for s in outcome.stages],
        "tests": {"tests": 4, "failures": 0},
        "markers": [],
        "diff": {"files": 2, "added": 3, "removed": 1},
        "preexisting_failures": ["tests/test_a.py::test_old"],
        "images": IMAGES,
        "folder": "/runs/r1/svc",
        "reused": None,
        "cache": None,
        "queued_seconds": 0.0,
    }
    assert outcome.success and outcome.failed_stage is None


def test_a_failed_service_names_its_stage_reason_and_markers() -> None:
    markers = [{"path": "app/x.py", "line": 3, "rule": "TN-7"}]
    migrate = StageResult("migrate", "passed", details={"markers": markers, "diff": {"files": 1}})
    skipped = StageResult("baseline", "skipped", reason="not asked for")
    build = StageResult("build", "failed", reason="pip could not resolve tenacity")
    outcome = _outcome(skipped, migrate, build, StageResult("health", "failed", reason="later"))
    data = outcome.to_dict({})
    assert data["overall_success"] is False and outcome.success is False
    assert data["failed_stage"] == "build" and data["reason"] == "pip could not resolve tenacity"
    assert data["migrations"] == {"tenacity": False, "aiomqtt": False}
    assert data["markers"] == markers and data["diff"] == {"files": 1}
    assert data["tests"] is None and data["images"] == {}
    assert [s["name"] for s in data["stages"]] == ["baseline", "migrate", "build", "health"]


def test_a_service_with_no_stages_has_empty_markers_and_diff() -> None:
    data = _outcome().to_dict({})
    assert data["markers"] == [] and data["diff"] == {} and data["tests"] is None
    assert data["failed_stage"] is None and data["reason"] == "" and data["overall_success"] is False


def test_a_migrate_stage_without_markers_or_diff_gives_empty_ones() -> None:
    data = _outcome(StageResult("migrate", "failed", reason="codemod crashed")).to_dict({})
    assert data["markers"] == [] and data["diff"] == {}
    assert data["migrations"] == {"tenacity": False, "aiomqtt": False}
    assert data["failed_stage"] == "migrate"


def test_describe_gives_status_seconds_and_reason() -> None:
    assert _describe(StageResult("build", "passed", 1.26)) == "passed (1.3s)"
    assert _describe(StageResult("build", "failed", 0.04, reason="no space")) == "failed (0.0s): no space"


def test_markers_without_a_blockers_list_fail_every_upgrade() -> None:
    migrate = StageResult("migrate", "failed", details={"markers": [{"rule": "TN-7"}]})
    assert _outcome(migrate).to_dict({})["migrations"] == {"tenacity": False, "aiomqtt": False}


def test_a_blocker_blaming_one_upgrade_still_leaves_the_other_unverified() -> None:
    """Nothing of a blocked service was built or tested: no migration of it counts (issue 13)."""
    details = {"markers": [{"rule": "TN-7"}], "blockers": [{"rule": "TN-7", "upgrade": "tenacity"}]}
    migrate = StageResult("migrate", "failed", details=details)
    assert _outcome(migrate).to_dict({})["migrations"] == {"tenacity": False, "aiomqtt": False}
