"""junit.xml in the shape of Jenkins' junit-10.xsd (tests/sandbox/report/junit-10.xsd says what we rely on).

One <testsuite> per service. Its test cases are every stage of the pipeline, in run order, whether it
ran or not (a stage that did not run is <skipped> with the reason), so a dashboard's tests never
disappear between nights (a result reused from an earlier run, sandbox.cache, has every stage
<skipped> with that run named, and the property `reused_from_run`); then the service's own tests from
its pytest JUnit XML, under the classname `<service>.<their classname>`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from sandbox.report.document import service_seconds, stage_results

# Stage status → (child element, its type attribute); passed stages have no child.
STAGE_CHILD = {
    "failed": ("failure", "stage-failed"),
    "timeout": ("error", "timeout"),
    "skipped": ("skipped", ""),
}
CASE_CHILD = {"failure": "failure", "error": "error", "skipped": "skipped"}
# Characters XML 1.0 cannot carry (ANSI escapes, other controls from logs): dropped, or the file is invalid.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_LIMIT = 500  # an attribute is shown on one line; the full text is the element's body


def junit_xml(report: dict[str, Any]) -> bytes:
    suites = ET.Element("testsuites", name=f"sandbox run {report['run_id']}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for service in report["services"].values():
        suite = service_suite(service, report)
        suites.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        seconds += float(suite.get("time", "0"))
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", f"{seconds:.3f}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def service_suite(service: dict[str, Any], report: dict[str, Any]) -> ET.Element:
    name = service["name"]
    suite = ET.Element("testsuite", name=name)
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("priority", service["priority"]),
        ("phase", service.get("phase", "")),
        ("status", service["status"]),
        ("migrations", ", ".join(service["migrations"])),
        ("stopped_at", service["failed_stage"] or ""),
        # A result reused from an earlier run names that run; its stages are <skipped> here (nothing ran).
        ("reused_from_run", (service.get("reused") or {}).get("run_id", "")),
    ):
        ET.SubElement(properties, "property", name=key, value=value)
    cases = [stage_case(name, stage, report) for stage in stage_results(service).values()]
    cases += [own_test_case(name, case) for case in (service.get("tests") or {}).get("cases", [])]
    suite.extend(cases)
    counts = {kind: sum(case.find(kind) is not None for case in cases) for kind in CASE_CHILD}
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{service_seconds(service):.3f}")
    suite.set("timestamp", report["started_at"][:19])
    suite.set("hostname", report["machine"]["hostname"])
    return suite


def stage_case(service: str, stage: dict[str, Any], report: dict[str, Any]) -> ET.Element:
    case = ET.Element("testcase", name=stage["name"], classname=f"sandbox.{service}", time=_time(stage))
    child = STAGE_CHILD.get(stage["status"])
    if child is None:
        return case
    tag, kind = child
    reason = stage["reason"] or stage["status"]
    element = ET.SubElement(case, tag, message=_one_line(reason))
    if kind:
        element.set("type", kind)
    if tag != "skipped":
        log = f"\nlog: {report['run_folder']}/{service}/{stage['log']}" if stage.get("log") else ""
        element.text = clean(reason + log)
    return case


def own_test_case(service: str, found: dict[str, Any]) -> ET.Element:
    classname = f"{service}.{found['classname']}" if found["classname"] else service
    case = ET.Element("testcase", name=found["name"], classname=classname, time=f"{found['seconds']:.3f}")
    tag = CASE_CHILD.get(found["outcome"])
    if tag:
        element = ET.SubElement(case, tag, message=_one_line(found["message"] or found["outcome"]))
        if tag != "skipped" and found.get("text"):
            element.text = clean(found["text"])
    return case


def _time(stage: dict[str, Any]) -> str:
    return f"{float(stage.get('seconds') or 0.0):.3f}"


def _one_line(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), text)
    return clean(first[:MESSAGE_LIMIT])


def clean(text: str) -> str:
    return NOT_XML.sub("", text)
