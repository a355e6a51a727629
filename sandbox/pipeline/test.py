"""The test stage: the service's own pytest suite in a container on the private dependency network.

The test image is the service image plus its dev requirements and tests; counts come from pytest's
JUnit XML. Zero collected tests is a failure, not a pass.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from sandbox import workspace as wsmod
from sandbox.engine import build_mapped
from sandbox.engine.cleanup import keep_build
from sandbox.engine.containers import (
    NOBODY,
    NOBODY_ENV,
    TEST_LIMITS,
    capped_logs,
    non_root,
    read_file,
    remove,
    wait_exit,
)
from sandbox.engine.labels import temp_prefix
from sandbox.pipeline.stage import StageContext, StageResult, last_lines
from sandbox.upgrade_facts import upgrade_modules

HINT = (
    "read the failing tests in the log; `sandbox verify {name} --baseline` shows which "
    "failures were there before the migration"
)
JUNIT_IN_CONTAINER = "/tmp/sandbox-junit.xml"
TEST_DOCKERFILE = """\
FROM {image}
USER root
COPY req/ /tmp/sandbox-req/
RUN cd /tmp/sandbox-req \\
 && if [ -f requirements-dev.txt ]; then pip install --no-cache-dir -r requirements-dev.txt; \\
    elif [ -f requirements-test.txt ]; then pip install --no-cache-dir -r requirements-test.txt; \\
    else pip install --no-cache-dir pytest; fi
COPY src/ {workdir}/
USER {user}
"""


def test(ctx: StageContext) -> StageResult:
    """The migrated service's tests against the stage's fresh dependencies; the test image is built
    while they start."""
    begin = time.monotonic()
    image = build_test_image(ctx, ctx.service_image, ctx.ws.service_dir)
    built = time.monotonic() - begin
    deps = ctx.take_deps()
    result = run_tests(ctx, image, deps.container_env, deps.network)
    result.details["test_image_seconds"] = round(built, 2)  # where the stage's time goes (bench)
    return result


def build_test_image(ctx: StageContext, service_image: str, service_dir: Path) -> str:
    """The service image plus its dev requirements and tests, at the image's working directory.

    Requirements go in a layer of their own before the code, so services with the same dev
    requirements share the cached install. Like the service image (sandbox.pipeline.build), it is a
    build cache from the start (`sandbox-cache/<service>:test-image.<run>`), without a LABEL step.
    """
    config = ctx.client.images.get(service_image).attrs["Config"]
    workdir = config.get("WorkingDir") or "/app"
    user = config.get("User") or "root"
    with tempfile.TemporaryDirectory(prefix=temp_prefix("test-ctx")) as tmp:
        context = Path(tmp)
        shutil.copytree(service_dir, context / "src", ignore=wsmod.IGNORED, symlinks=True)
        (context / "req").mkdir()
        for requirements in service_dir.glob("requirements*.txt"):
            shutil.copy2(requirements, context / "req" / requirements.name)
        (context / "Dockerfile").write_text(
            TEST_DOCKERFILE.format(image=service_image, workdir=workdir, user=user)
        )
        try:
            image_id = build_mapped(ctx.client, context, context / "Dockerfile", None, {}, {})
        except BaseException:  # an image may still appear: the run's end lists by label
            ctx.built.incomplete()
            raise
        keep_build(ctx.client, image_id, ctx.labels("test-image"), ctx.built)
        return image_id


def run_tests(
    ctx: StageContext, image: str, env: dict[str, str], network: str, name: str = "test"
) -> StageResult:
    """pytest in a container on the private network; counts come from its JUnit XML."""
    user = non_root(ctx.client.images.get(image).attrs["Config"].get("User"))
    container = ctx.client.containers.create(
        image,
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={JUNIT_IN_CONTAINER}"],
        environment={**env, **(NOBODY_ENV if user == NOBODY else {})},
        network=network,
        labels=ctx.labels("tests"),
        user=user,
        **TEST_LIMITS,
    )
    try:
        container.start()
        code = wait_exit(container, ctx.config.timeouts["test"])
        output = capped_logs(container).text
        junit = read_file(container, JUNIT_IN_CONTAINER)
    finally:
        remove(container)
    log = ctx.write_log(f"{name}.log", output)
    counts = parse_junit(junit) if junit else no_counts()
    return judge_tests(ctx, name, code, counts, output, log)


def no_counts() -> dict[str, Any]:
    return {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "failed_tests": [], "cases": []}


def judge_tests(
    ctx: StageContext, name: str, code: int | None, counts: dict[str, Any], output: str, log: str
) -> StageResult:
    if code is None:
        return StageResult(
            name,
            "timeout",
            reason=f"tests exceeded {ctx.config.timeouts['test']}s; container killed",
            log=log,
            details=counts,
        )
    if counts["tests"] == 0 or code == 5:
        return StageResult(
            name, "failed", reason="no tests collected (zero tests is a failure)", log=log, details=counts
        )
    if code != 0 or counts["failures"] or counts["errors"]:
        failed = ", ".join(counts["failed_tests"][:3]) or last_lines(output)
        return StageResult(
            name,
            "failed",
            reason=f"{counts['failures'] + counts['errors']} of "
            f"{counts['tests']} tests failed (pytest exit {code}): {failed}",
            log=log,
            details=counts,
        )
    empty = skips_that_verify_nothing(counts, upgrade_modules(ctx.migrations))
    if empty:
        return StageResult(name, "failed", reason=empty, log=log, details=counts)
    return StageResult(name, "passed", log=log, details=counts)


IMPORT_SKIP = re.compile(r"could not import '([\w.]+)'")  # pytest.importorskip's skip message


def skips_that_verify_nothing(counts: dict[str, Any], migrated: set[str]) -> str | None:
    """Green is not verified when nothing ran, or when tests skipped themselves because a module the
    migration replaced or upgraded no longer imports (`pytest.importorskip("influxdb_client")`): the
    code they cover went through untested, and the report would call it verified."""
    if counts["tests"] - counts["skipped"] <= 0:
        return f"all {counts['tests']} tests were skipped: nothing was verified"
    modules = [
        found.group(1)
        for case in counts.get("cases", [])
        if case["outcome"] == "skipped"
        # a test's skip says it in the message; a module skipped at collection, in the text
        and (found := IMPORT_SKIP.search(f"{case['message']}\n{case['text']}"))
        and found.group(1).split(".")[0] in migrated
    ]
    if not modules:
        return None
    return (
        f"{len(modules)} test(s) skipped because they could not import {', '.join(sorted(set(modules)))}, "
        "which the migration replaced or upgraded (pytest.importorskip): they verify nothing; make them "
        "import what the migrated service uses"
    )


def parse_junit(data: bytes) -> dict[str, Any]:
    """Test counts and failed test ids from pytest's JUnit XML."""
    root = ET.fromstring(data)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {
        key: sum(int(suite.get(key, 0)) for suite in suites)
        for key in ("tests", "failures", "errors", "skipped")
    }
    failed = []
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    counts["failed_tests"] = failed
    # Each test's own result, so the run's junit.xml carries the service's tests, not just a count.
    counts["cases"] = [_case(case) for case in root.iter("testcase")]
    return counts


CASE_TEXT_LIMIT = 4000  # a traceback's tail is what a person reads; report.json stays small


def _case(case: ET.Element) -> dict[str, Any]:
    outcome, message, text = "passed", "", ""
    for kind in ("failure", "error", "skipped"):
        found = case.find(kind)
        if found is not None:
            outcome, message, text = kind, found.get("message", ""), (found.text or "")
            break
    try:
        seconds = float(case.get("time") or 0)
    except ValueError:
        seconds = 0.0
    return {
        "classname": case.get("classname") or "",
        "name": case.get("name") or "",
        "seconds": round(seconds, 3),
        "outcome": outcome,
        "message": message,
        "text": text[-CASE_TEXT_LIMIT:],
    }
