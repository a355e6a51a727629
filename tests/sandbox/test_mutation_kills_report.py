"""report.json's counting, exactly: per priority, per migration (and where the others stopped), not-run
entries, and a night's shards merged (pure logic, no Docker).

Written against mutants of sandbox/report/document.py that survived the older tests
(scripts/mutation.py, group `report`): nothing may be counted as verified that was not, in any total.
"""

from __future__ import annotations

from sandbox.report import build_report, merge_reports


def _outcome(name: str, ok: bool, priority: str = "LOW", stage: str | None = None, migrations=("aiomqtt",)):
    return {
        "name": name,
        "priority": priority,
        "phase": "A",
        "overall_success": ok,
        "failed_stage": None if ok else stage,
        "reason": "" if ok else f"stopped at {stage}",
        "stages": [],
        "migrations": {m: ok for m in migrations},
    }


def _not_run(
    name: str, priority: str = "HIGH", migrations=("tenacity",), reason: str | None = "phase A failed"
):
    return {
        "name": name,
        "priority": priority,
        "phase": "c",
        "migrations": list(migrations),
        "reason": reason,
    }


def _report(
    run_id: str, outcomes: list, not_run: list | None = None, stopped: str | None = None, **kw
) -> dict:
    return build_report(run_id, outcomes, {}, 1.0, stopped, kw.get("interrupted", False), not_run=not_run)


def test_counts_per_priority_only_for_priorities_present() -> None:
    report = _report(
        "r1",
        [
            _outcome("a", True, "CRITICAL"),
            _outcome("b", False, "CRITICAL", "test"),
            _outcome("c", True, "LOW"),
            _outcome("d", False, "LOW", "build"),
            _outcome("e", False, "LOW", "health"),
        ],
        [_not_run("f", "HIGH")],
    )
    assert report["by_priority"] == {
        "CRITICAL": {"total": 2, "verified": 1},
        "HIGH": {"total": 1, "verified": 0},
        "LOW": {"total": 3, "verified": 1},
    }
    assert list(report["by_priority"]) == ["CRITICAL", "HIGH", "LOW"]  # severity order, MEDIUM absent
    assert report["totals"] == {"services": 6, "verified": 2, "failed": 3, "not_run": 1, "reused": 0}
    assert report["by_migration"]["aiomqtt"] == {
        "total": 5,
        "verified": 2,
        "stopped_at": {"test": 1, "build": 1, "health": 1},
    }


def test_counts_per_migration_with_where_the_others_stopped() -> None:
    report = _report(
        "r1",
        [
            _outcome("a", True, migrations=("tenacity", "aiomqtt")),
            _outcome("b", False, stage="test", migrations=("aiomqtt",)),
            _outcome("c", False, stage="test", migrations=("aiomqtt", "tenacity")),
            _outcome("d", False, stage="migrate", migrations=("aiomqtt",)),
        ],
        [_not_run("e", migrations=("tenacity",))],
    )
    assert report["by_migration"] == {
        "aiomqtt": {"total": 4, "verified": 1, "stopped_at": {"test": 2, "migrate": 1}},
        "tenacity": {"total": 3, "verified": 1, "stopped_at": {"test": 1, "not-run": 1}},
    }
    assert list(report["by_migration"]) == ["aiomqtt", "tenacity"]


def test_a_service_entry_claims_its_migrations_only_when_verified() -> None:
    report = _report("r1", [_outcome("a", True, migrations=("x", "y")), _outcome("b", False, stage="fix")])
    assert report["services"]["a"]["status"] == "verified"
    assert report["services"]["a"]["migrations"] == {"x": True, "y": True}
    # an outcome that (wrongly) says a migration verified while the service failed does not overclaim
    failed = _outcome("c", False, stage="fix")
    failed["migrations"] = {"aiomqtt": True}
    entry = _report("r2", [failed])["services"]["c"]
    assert entry["status"] == "failed" and entry["migrations"] == {"aiomqtt": False}
    assert entry["failed_stage"] == "fix" and entry["reason"] == "stopped at fix"


def test_a_not_run_entry_is_listed_with_its_reason_and_nothing_verified() -> None:
    entry = _report("r1", [], [_not_run("f", "HIGH", ("a", "b"))])["services"]["f"]
    assert entry == {
        "name": "f",
        "priority": "HIGH",
        "phase": "C",
        "migrations": {"a": False, "b": False},
        "overall_success": False,
        "status": "not-run",
        "failed_stage": None,
        "reason": "phase A failed",
        "stages": [],
        "tests": None,
        "markers": [],
        "diff": {},
        "preexisting_failures": [],
        "images": {},
        "folder": "",
        "reused": None,  # nothing of an earlier run stands in for it
    }
    assert _report("r1", [], [_not_run("g", reason=None)])["services"]["g"]["reason"] == "not run"
    assert _report("r1", [], [_not_run("g", reason="")])["services"]["g"]["reason"] == "not run"


def test_merging_shards_a_real_result_wins_over_not_run_whatever_the_order() -> None:
    first = _report(
        "2024-01-01-a", [_outcome("a", True), _outcome("b", False, stage="test")], [_not_run("c")]
    )
    second = _report("2024-01-01-b", [_outcome("c", True, "HIGH", migrations=("tenacity",))], [_not_run("a")])
    for documents in ([first, second], [second, first]):
        merged = merge_reports(documents)
        assert merged["run_id"] == "2024-01-01-b-merged"
        assert merged["merged_from"] == ["2024-01-01-a", "2024-01-01-b"]
        assert {name: s["status"] for name, s in merged["services"].items()} == {
            "a": "verified",
            "b": "failed",
            "c": "verified",
        }
        assert merged["totals"] == {"services": 3, "verified": 2, "failed": 1, "not_run": 0, "reused": 0}
        assert merged["by_priority"] == {
            "HIGH": {"total": 1, "verified": 1},
            "LOW": {"total": 2, "verified": 1},
        }
        assert merged["by_migration"]["aiomqtt"] == {"total": 2, "verified": 1, "stopped_at": {"test": 1}}


def test_merging_keeps_a_not_run_service_counted_as_not_run() -> None:
    first = _report("r1", [_outcome("a", False, stage="build")], [_not_run("z")], stopped="a")
    second = _report("r2", [], [_not_run("z")], stopped="b")
    merged = merge_reports([second, first], run_id="night")
    assert merged["run_id"] == "night" and merged["run_folder"] == ".sandbox/runs/night"
    assert merged["totals"] == {"services": 2, "verified": 0, "failed": 1, "not_run": 1, "reused": 0}
    assert merged["stopped_after_phase"] == "A"  # the earliest phase that stopped
    assert merged["by_migration"]["tenacity"] == {"total": 1, "verified": 0, "stopped_at": {"not-run": 1}}


def test_merging_spans_the_shards_times_images_and_interruptions() -> None:
    first = build_report("r1", [_outcome("a", True)], {"base": {"ref": "b1"}}, 5.0, None, False)
    second = build_report("r2", [_outcome("b", True)], {"mosquitto": {"ref": "m1"}}, 5.0, None, True)
    first["started_at"], first["ended_at"] = "2024-01-01T00:00:00+00:00", "2024-01-01T00:01:00+00:00"
    second["started_at"], second["ended_at"] = "2024-01-01T00:00:30+00:00", "2024-01-01T00:02:30.25+00:00"
    merged = merge_reports([first, second])
    assert (merged["started_at"], merged["ended_at"]) == (first["started_at"], second["ended_at"])
    assert merged["duration_seconds"] == 150.2
    assert merged["images"] == {"base": {"ref": "b1"}, "mosquitto": {"ref": "m1"}}
    assert merged["interrupted"] is True and merged["stopped_after_phase"] is None
    assert merged["tool"] == first["tool"] and merged["schema_version"] == first["schema_version"]
    assert merge_reports([first])["interrupted"] is False


def test_a_single_report_has_its_run_folder_and_a_stop_in_capitals() -> None:
    report = _report("r9", [_outcome("a", False, stage="test")], stopped="c")
    assert report["run_folder"] == ".sandbox/runs/r9" and report["stopped_after_phase"] == "C"
    assert report["totals"] == {"services": 1, "verified": 0, "failed": 1, "not_run": 0, "reused": 0}
