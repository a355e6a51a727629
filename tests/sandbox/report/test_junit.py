"""junit.xml against junit-10.xsd (tests/sandbox/report/junit-10.xsd): one suite per service, every
stage present, the service's own tests included."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from sandbox.report import junit_xml
from sandbox.report.document import STAGE_NAMES
from tests.sandbox.report.samples import junit_errors, sample_report


def _suites(tmp_path: Path) -> dict[str, etree._Element]:
    root = etree.fromstring(junit_xml(sample_report(tmp_path)))
    return {suite.get("name"): suite for suite in root.iter("testsuite")}


def test_junit_validates_against_the_jenkins_schema(tmp_path: Path) -> None:
    assert junit_errors(junit_xml(sample_report(tmp_path))) == []


def test_the_schema_rejects_a_suite_without_errors() -> None:
    old = b'<testsuites><testsuite name="s" tests="1" failures="0"><testcase name="t"/></testsuite></testsuites>'
    assert any("errors" in e for e in junit_errors(old))


def test_every_stage_is_a_case_of_every_service_in_run_order(tmp_path: Path) -> None:
    suites = _suites(tmp_path)
    assert list(suites) == [
        "rag-service",
        "data-retention",
        "websocket-ingestion",
        "weather-api",
        "admin-api",
    ]
    for suite in suites.values():
        stages = [c.get("name") for c in suite.iter("testcase") if c.get("classname").startswith("sandbox.")]
        assert tuple(stages) == STAGE_NAMES
    stopped = {c.get("name"): c for c in suites["data-retention"].iter("testcase")}
    assert stopped["migrate"].find("failure") is not None
    assert "stopped at migrate" in stopped["build"].find("skipped").get("message")
    assert "not requested" in stopped["baseline"].find("skipped").get("message")
    assert suites["data-retention"].get("skipped") == "6" and suites["data-retention"].get("failures") == "1"


def test_a_timeout_is_an_error_and_counted(tmp_path: Path) -> None:
    suite = _suites(tmp_path)["weather-api"]
    health = next(c for c in suite.iter("testcase") if c.get("name") == "health")
    assert health.find("error").get("type") == "timeout" and suite.get("errors") == "1"


def test_the_services_own_tests_are_cases_of_its_suite(tmp_path: Path) -> None:
    suite = _suites(tmp_path)["websocket-ingestion"]
    own = {c.get("name"): c for c in suite.iter("testcase") if not c.get("classname").startswith("sandbox.")}
    assert set(own) == {"test_publish", "test_reconnect", "test_batch"}
    assert own["test_reconnect"].get("classname") == "websocket-ingestion.tests.test_mqtt"
    failure = own["test_reconnect"].find("failure")
    assert failure.get("message") == "AttributeError: filtered_messages" and "\x1b" not in failure.text
    assert own["test_batch"].find("skipped") is not None
    assert suite.get("tests") == str(len(STAGE_NAMES) + 3) and suite.get("failures") == "2"


def test_a_failed_stage_names_its_log_relative_to_the_repo(tmp_path: Path) -> None:
    suite = _suites(tmp_path)["websocket-ingestion"]
    test = next(c for c in suite.iter("testcase") if c.get("name") == "test")
    assert test.find("failure").text.endswith(
        "log: .sandbox/runs/20261126-010000-abcdef/websocket-ingestion/test.log"
    )
    assert str(tmp_path) not in junit_xml(sample_report(tmp_path)).decode()
