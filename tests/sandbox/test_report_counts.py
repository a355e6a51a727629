"""report.json's totals: a service counts as verified only when its outcome says so (pure logic)."""

from __future__ import annotations

from sandbox.report import build_report


def _outcome(name: str, ok: bool) -> dict:
    return {"name": name, "priority": "LOW", "overall_success": ok, "stages": [], "migrations": {}}


def test_totals_count_verified_and_failed_services() -> None:
    outcomes = [_outcome("a", True), _outcome("b", False), _outcome("c", True), _outcome("d", False)]
    outcomes.append(_outcome("e", False))
    report = build_report("r1", outcomes, {"base": {"ref": "x"}}, 12.345, "b", False)
    assert report["totals"] == {"services": 5, "verified": 2, "failed": 3, "not_run": 0, "reused": 0}
    assert report["services"]["b"]["name"] == "b" and list(report["services"]) == ["a", "b", "c", "d", "e"]
    assert report["duration_seconds"] == 12.3 and report["stopped_after_phase"] == "B"
    assert report["images"] == {"base": {"ref": "x"}} and report["interrupted"] is False
    assert report["run_id"] == "r1"


def test_an_empty_or_all_green_run() -> None:
    assert build_report("r", [], {}, 0.0, None, True)["totals"] == {
        "services": 0,
        "verified": 0,
        "failed": 0,
        "not_run": 0,
        "reused": 0,
    }
    green = build_report("r", [_outcome("a", True)], {}, 0.04, None, False)
    assert green["totals"] == {"services": 1, "verified": 1, "failed": 0, "not_run": 0, "reused": 0}
    assert green["stopped_after_phase"] is None and green["duration_seconds"] == 0.0
