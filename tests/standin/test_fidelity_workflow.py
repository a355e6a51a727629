"""The nightly fidelity job (.github/workflows/standin-fidelity.yml): linted as tests/sandbox/cli/
test_workflow.py lints the nightly workflows, runs the same suites against the real server and
the stand-in (the stand-in's run must not resolve `influxdb3` to the official image the job
pulled), and its comparison fails on any difference."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.sandbox.cli.test_workflow import _actionlint, _zizmor
from tests.standin.compare_outcomes import differences, main, outcomes

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github/workflows/standin-fidelity.yml"


def steps() -> dict[str, dict]:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["fidelity"]
    return {step.get("name", step.get("uses", "")): step for step in job["steps"]}


def test_zizmor_and_actionlint_find_nothing() -> None:
    zizmor = subprocess.run(
        [_zizmor(), "--offline", str(WORKFLOW)], capture_output=True, text=True, timeout=120
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = _actionlint(WORKFLOW)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_both_servers_run_the_same_suites_and_the_standin_is_built() -> None:
    found = steps()
    real = found["Conformance suites against influxdb:3-core"]
    standin = found["Conformance suites against the stand-in"]
    suites = re.compile(r"tests/standin/\S+\.py")
    assert suites.findall(real["run"]) == suites.findall(standin["run"])
    assert "tests/standin/test_flightsql.py" in suites.findall(real["run"])
    assert real["env"]["INFLUXDB3_CONFORMANCE_URL"] and "INFLUXDB3_CONFORMANCE_URL" not in standin.get(
        "env", {}
    )
    # Without it the resolver takes the influxdb:3-core image the job just pulled.
    assert standin["env"]["SANDBOX_LOCAL_IMAGES"] == "1"
    assert "compare_outcomes.py real.xml standin.xml" in found["Compare outcomes"]["run"]


def report(tmp_path: Path, name: str, cases: dict[str, str]) -> Path:
    body = "".join(
        f'<testcase classname="t" name="{case}">' + ("" if kind == "passed" else f"<{kind}/>") + "</testcase>"
        for case, kind in cases.items()
    )
    path = tmp_path / name
    path.write_text(f"<testsuites><testsuite>{body}</testsuite></testsuites>")
    return path


def test_comparison_fails_on_any_difference(tmp_path: Path) -> None:
    same = {"a": "passed", "b": "passed"}
    real = report(tmp_path, "real.xml", same)
    assert main(["x", str(real), str(report(tmp_path, "s.xml", same))]) == 0
    for other in ({"a": "passed", "b": "failure"}, {"a": "passed"}, {"a": "passed", "b": "skipped"}):
        assert main(["x", str(real), str(report(tmp_path, "s.xml", other))]) == 1, other
    both_fail = {"a": "passed", "b": "error"}
    failing = outcomes(report(tmp_path, "r.xml", both_fail))
    assert differences(failing, failing) == ["t::b: real=error standin=error"]
    assert main(["x", str(report(tmp_path, "e.xml", {})), str(report(tmp_path, "e2.xml", {}))]) == 1
