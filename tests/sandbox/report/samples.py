"""Service outcomes in the shape of `ServiceOutcome.to_dict`, for report tests without Docker: one
verified service, one stopped at migrate by a blocker that blames one of its two upgrades, one whose
tests failed (with its own pytest cases), one whose health check timed out, and one never run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from lxml import etree

from sandbox.report import build_report, load_schema

XSD = Path(__file__).with_name("junit-10.xsd")
LONG_REASON = (
    "3 of 9 tests failed (pytest exit 1): tests.test_mqtt::test_reconnect_uses_the_new_client_context_manager, "
    "tests.test_mqtt::test_messages_iterator_yields_decoded_payloads, tests.test_write::test_batch\n"
    "E   AttributeError: 'Client' object has no attribute 'filtered_messages'\nthird line of the reason"
)


def stage(
    name: str,
    status: str = "passed",
    seconds: float = 1.0,
    reason: str = "",
    log: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "seconds": seconds,
        "reason": reason,
        "log": log,
        "details": details or {},
    }


def outcome(
    name: str,
    priority: str,
    migrations: list[str],
    stages: list[dict],
    folder: Path,
    tests: dict | None = None,
) -> dict[str, Any]:
    failed = next((s for s in stages if s["status"] not in ("passed", "skipped")), None)
    verified = failed is None and stages[-1]["name"] == "gate"
    return {
        "name": name,
        "priority": priority,
        "phase": {"LOW": "A", "MEDIUM": "B", "HIGH": "C", "CRITICAL": "D"}[priority],
        # What the pipeline used to claim: a blocker of one upgrade left the others "verified".
        "migrations": {
            m: verified or (failed["name"] == "migrate" and m != migrations[-1]) for m in migrations
        },
        "overall_success": verified,
        "failed_stage": failed["name"] if failed else None,
        "reason": failed["reason"] if failed else "",
        "stages": stages,
        "tests": tests,
        "markers": [],
        "diff": {"files": 1},
        "preexisting_failures": [],
        "images": {},
        "folder": str(folder / name),
    }


def pipeline(*last: dict[str, Any]) -> list[dict[str, Any]]:
    return [stage("resolve", seconds=0.0), stage("copy", seconds=0.1), *last]


TEST_CASES = {
    "tests": 3,
    "failures": 1,
    "errors": 0,
    "skipped": 1,
    "failed_tests": ["tests.test_mqtt::test_reconnect"],
    "cases": [
        {
            "classname": "tests.test_mqtt",
            "name": "test_publish",
            "seconds": 0.01,
            "outcome": "passed",
            "message": "",
            "text": "",
        },
        {
            "classname": "tests.test_mqtt",
            "name": "test_reconnect",
            "seconds": 0.2,
            "outcome": "failure",
            "message": "AttributeError: filtered_messages",
            "text": "Traceback\x1b[31m (most recent call last)",
        },
        {
            "classname": "tests.test_write",
            "name": "test_batch",
            "seconds": 0.0,
            "outcome": "skipped",
            "message": "needs a broker",
            "text": "",
        },
    ],
}


def outcomes(folder: Path) -> list[dict[str, Any]]:
    full = [
        stage("migrate", log="migrate.log"),
        stage("build", seconds=30, log="build.log"),
        stage("test", seconds=12, log="test.log", details={"tests": 2}),
        stage("health", seconds=3, log="health.log"),
        stage("gate", seconds=0.0),
    ]
    return [
        outcome("rag-service", "LOW", ["tenacity"], pipeline(*full), folder),
        outcome(
            "data-retention",
            "HIGH",
            ["aiomqtt", "influxdb3"],
            pipeline(
                stage(
                    "migrate",
                    "failed",
                    4.0,
                    "1 MIGRATION-BLOCKER marker(s): IX-9 predicate delete",
                    "migrate.log",
                )
            ),
            folder,
        ),
        outcome(
            "websocket-ingestion",
            "CRITICAL",
            ["aiomqtt", "pytest-asyncio"],
            pipeline(
                stage("migrate", log="migrate.log"),
                stage("build", seconds=20, log="build.log"),
                stage("test", "failed", 9.5, LONG_REASON, "test.log", TEST_CASES),
            ),
            folder,
            tests=TEST_CASES,
        ),
        outcome(
            "weather-api",
            "MEDIUM",
            ["influxdb3"],
            pipeline(
                *full[:3], stage("health", "timeout", 20.0, "no healthy answer within 20s", "health.log")
            ),
            folder,
        ),
    ]


NOT_RUN = [
    {
        "name": "admin-api",
        "priority": "CRITICAL",
        "phase": "d",
        "migrations": ["influxdb3"],
        "reason": "phase C failure rate 50% > 20%: stopped before phase D",
    }
]


def sample_report(
    folder: Path, run_id: str = "20261126-010000-abcdef", repo: Path | None = None
) -> dict[str, Any]:
    return build_report(run_id, outcomes(folder), {}, 80.0, "c", False, repo_root=repo, not_run=NOT_RUN)


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def junit_errors(data: bytes) -> list[str]:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    document = etree.fromstring(data)
    return [] if schema.validate(document) else [str(e) for e in schema.error_log]


def report_files_errors(root: Path) -> dict[str, list[str]]:
    """Every run's report.json and junit.xml under `root` (at any depth) against their schemas."""
    problems = {}
    for path in sorted(root.rglob(".sandbox/runs/*/report.json")):
        errors = schema_errors(json.loads(path.read_text()))
        junit = path.with_name("junit.xml")
        errors += junit_errors(junit.read_bytes()) if junit.is_file() else ["junit.xml missing"]
        if errors:
            problems[str(path)] = errors
    return problems
