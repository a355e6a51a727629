"""Pure verdicts: health bodies, JUnit counts, the run summary's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.pipeline import STAGES
from sandbox.pipeline.health import judge
from sandbox.pipeline.migrate import blockers
from sandbox.pipeline.run import ServiceOutcome
from sandbox.pipeline.stage import StageResult
from sandbox.pipeline.test import parse_junit, skips_that_verify_nothing
from sandbox.report import build_report, junit_xml, summary_text
from sandbox.upgrades import upgrade_for_rule

HEALTHY = ("ok", "healthy", "pass", "up")


def test_health_200_with_degraded_status_fails() -> None:
    assert not judge(200, '{"status": "degraded", "influxdb": false}', HEALTHY).healthy


def test_health_200_with_ok_status_or_plain_text_passes() -> None:
    assert judge(200, '{"status": "ok"}', HEALTHY).healthy
    assert judge(204, "", HEALTHY).healthy
    assert judge(200, "OK", HEALTHY).healthy


def test_health_non_2xx_fails_whatever_the_body() -> None:
    assert not judge(503, '{"status": "ok"}', HEALTHY).healthy


JUNIT = b"""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1"
failures="1" skipped="1" tests="5"><testcase classname="tests.test_a" name="test_ok"/>
<testcase classname="tests.test_a" name="test_bad"><failure message="boom"/></testcase>
<testcase classname="tests.test_b" name="test_err"><error message="x"/></testcase>
</testsuite></testsuites>"""


def test_junit_counts_and_failed_ids() -> None:
    counts = parse_junit(JUNIT)
    assert (counts["tests"], counts["failures"], counts["errors"], counts["skipped"]) == (5, 1, 1, 1)
    assert counts["failed_tests"] == ["tests.test_a::test_bad", "tests.test_b::test_err"]


def _outcome(name: str, ok: bool, priority: str, stage: str | None = None) -> dict:
    stages = [{"name": "migrate", "status": "passed", "seconds": 1.0, "reason": "", "log": "migrate.log"}]
    if stage:
        stages.append(
            {
                "name": stage,
                "status": "failed",
                "seconds": 2.0,
                "reason": "3 of 9 tests failed\nsecond",
                "log": f"{stage}.log",
            }
        )
    return {
        "name": name,
        "priority": priority,
        "migrations": {"tenacity": ok},
        "overall_success": ok,
        "failed_stage": stage,
        "reason": "3 of 9 tests failed\nsecond" if stage else "",
        "stages": stages,
        "folder": f"/runs/r/{name}",
    }


def _junit(*cases: str) -> dict:
    skipped = sum("<skipped" in case for case in cases)
    body = "".join(cases)
    return parse_junit(
        f'<testsuite name="pytest" tests="{len(cases)}" skipped="{skipped}" failures="0" errors="0">'
        f"{body}</testsuite>".encode()
    )


OK_CASE = '<testcase classname="tests.test_a" name="test_ok"/>'
V2_SKIP = (
    '<testcase classname="tests.test_store" name="test_store"><skipped type="pytest.skip" '
    "message=\"could not import 'influxdb_client': No module named 'influxdb_client'\"/></testcase>"
)
MODULE_SKIP = (  # importorskip at module level: pytest skips the file at collection
    '<testcase classname="" name="tests.test_query"><skipped message="collection skipped">'
    "('/svc/tests/test_query.py', 3, \"Skipped: could not import 'influxdb_client': No module named "
    "'influxdb_client'\")</skipped></testcase>"
)
OPTIONAL_SKIP = (
    '<testcase classname="tests.test_fast" name="test_fast"><skipped type="pytest.skip" '
    "message=\"could not import 'uvloop': No module named 'uvloop'\"/></testcase>"
)


def test_tests_that_skip_on_a_module_the_migration_replaced_verify_nothing() -> None:
    reason = skips_that_verify_nothing(_junit(OK_CASE, V2_SKIP), {"influxdb_client"})
    assert reason and reason.startswith("1 test(s) skipped because they could not import influxdb_client")
    reason = skips_that_verify_nothing(_junit(OK_CASE, V2_SKIP, MODULE_SKIP), {"influxdb_client"})
    assert reason and reason.startswith("2 test(s) skipped")
    # a skip on a module the migration does not touch is the service's own business
    assert skips_that_verify_nothing(_junit(OK_CASE, OPTIONAL_SKIP), {"influxdb_client"}) is None
    assert skips_that_verify_nothing(_junit(OK_CASE, V2_SKIP), {"tenacity"}) is None


def test_all_tests_skipped_is_not_a_verdict() -> None:
    reason = skips_that_verify_nothing(_junit(OPTIONAL_SKIP, OPTIONAL_SKIP), set())
    assert reason == "all 2 tests were skipped: nothing was verified"


def test_summary_has_the_seeds_sections_and_points_at_logs(tmp_path: Path) -> None:
    report = build_report(
        "r",
        [_outcome("rag-service", True, "LOW"), _outcome("ai-core", False, "HIGH", "test")],
        {},
        12.0,
        None,
        False,
    )
    text = summary_text(report, tmp_path)
    assert "By Priority:" in text and "By Migration Type:" in text and "Failed Services:" in text
    assert "ai-core [test]: 3 of 9 tests failed" in text
    assert "log: /runs/r/ai-core/test.log" in text
    assert "tenacity        1/2 verified" in text
    xml = junit_xml(report).decode()
    # Every stage of both services is a case (those that did not run are skipped).
    assert xml.count("<testcase") == 2 * len(STAGES) and xml.count("<failure") == 1


def _blocked(migrations: list[str], blockers: list[dict]) -> ServiceOutcome:
    outcome = ServiceOutcome("data-retention", "HIGH", "c", migrations)
    marker = {
        "path": "services/data-retention/app/cleanup.py",
        "line": 3,
        "text": "# MIGRATION-BLOCKER(IX-9): InfluxDB 3 has no predicate delete",
    }
    outcome.stages = [
        StageResult("resolve", "passed"),
        StageResult("migrate", "passed"),
        StageResult("fix", "failed", reason="1 marker", details={"markers": [marker], "blockers": blockers}),
    ]
    return outcome


MIGRATIONS = ["aiomqtt", "influxdb3", "pytest-asyncio"]


def test_a_blocker_of_one_upgrade_leaves_every_migration_unverified() -> None:
    """The service stopped at its blockers (judged by the fix stage, after the hand fixes): nothing
    was built, tested or health-checked (issue 13)."""
    outcome = _blocked(MIGRATIONS, [{"rule": "IX-9", "upgrade": "influxdb3"}])
    assert set(outcome.to_dict({})["migrations"].values()) == {False}
    assert outcome.to_dict({})["failed_stage"] == "fix"
    outcome.stages.append(StageResult("build", "failed"))
    outcome.stages[2].status = "passed"
    assert set(outcome.to_dict({})["migrations"].values()) == {False}


@pytest.mark.parametrize(
    "blockers",
    [
        [{"rule": "ZZ-1", "upgrade": None}],  # a rule no upgrade claims
        [{"rule": "IX-9", "upgrade": "influxdb3"}, {"rule": None, "upgrade": None, "unreported": 1}],
        [{"rule": "PD-1", "upgrade": "pydantic"}],  # an upgrade the service was not migrated for
        [],  # markers in the copy but no report of them
    ],
)
def test_a_blocker_of_unknown_upgrade_fails_every_upgrade(blockers: list[dict]) -> None:
    assert set(_blocked(MIGRATIONS, blockers).to_dict({})["migrations"].values()) == {False}


def test_blockers_take_the_upgrade_from_the_report_else_from_the_rule() -> None:
    reports = [
        {
            "markers": [
                {"path": "app/cleanup.py", "line": 3, "rule": "IX-9", "upgrade": "influxdb3"},
                {"path": "app/x.py", "line": 1, "rule": "ZZ-404", "message": "no upgrade has this rule"},
            ]
        },
        {"raw": "not json"},
    ]
    found = blockers(["services/data-retention", "services/common"], reports, found=3)
    assert [(b["path"], b["rule"], b["upgrade"]) for b in found] == [
        ("services/data-retention/app/cleanup.py", "IX-9", "influxdb3"),
        ("services/data-retention/app/x.py", "ZZ-404", upgrade_for_rule("ZZ-404")),
        (None, None, None),
    ]
    assert upgrade_for_rule("ZZ-404") is None
    assert found[-1]["unreported"] == 1


def test_a_blocked_service_names_the_shared_change_it_holds() -> None:
    outcome = _blocked(MIGRATIONS, [{"rule": "IX-9", "upgrade": "influxdb3"}])
    outcome.stages[1].details["shared_changed"] = ["services/common"]
    held = outcome.to_dict({})["holds_shared"]
    assert held == [{"path": "services/common", "reason": "fix: 1 marker"}]
    outcome.verified = True
    assert outcome.to_dict({})["holds_shared"] == []


def test_a_service_without_migrations_ends_with_its_reason_not_a_blank_failure() -> None:
    outcome = ServiceOutcome("static-site", "LOW", "a", [])
    outcome.stages = [
        StageResult("resolve", "passed"),
        StageResult("copy", "skipped", reason="no migration applies"),
    ]
    document = outcome.to_dict({})
    assert document["failed_stage"] == "copy" and document["reason"] == "no migration applies"
    assert document["skipped"] is True and document["overall_success"] is False
