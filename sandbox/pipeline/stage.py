"""The pipeline's stages for one service: migrate, build, test, health (plus baseline).

Each stage has a timeout, writes its log into the service's run folder and returns a
StageResult; a failed stage stops the service's pipeline (pipeline.py). Containers run with the
run's labels, no privileges, no Docker socket, memory/CPU/pid limits and the image's own user.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, BuildError, NotFound

from sandbox import workspace as wsmod
from sandbox.images import Resolver, build_mapped
from sandbox.inventory import ServiceConfig
from sandbox.labels import labels_for

# dns_opt: the private network resolves only its own containers; a name outside it would
# otherwise take 10 s per lookup to fail (two 5 s resolver timeouts), slowing every retry.
LIMITS = {
    "mem_limit": "1g",
    "nano_cpus": 1_000_000_000,
    "pids_limit": 512,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "privileged": False,
    "dns_opt": ["timeout:1", "attempts:1"],
}
JUNIT_IN_CONTAINER = "/tmp/sandbox-junit.xml"


@dataclass
class StageResult:
    name: str
    status: str  # passed | failed | timeout | skipped
    seconds: float = 0.0
    reason: str = ""
    log: str | None = None  # file name inside the service's run folder
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "reason": self.reason,
            "log": self.log,
            "details": self.details,
        }


@dataclass
class StageContext:
    """What every stage of one service needs."""

    client: docker.DockerClient
    resolver: Resolver
    run_id: str
    config: ServiceConfig
    ws: wsmod.Workspace
    cancelled: threading.Event
    on_event: Callable[[str, str, str], None]  # (service, stage, message)

    def labels(self, role: str) -> dict[str, str]:
        return labels_for(self.run_id, role, self.config.name)

    def write_log(self, name: str, text: str) -> str:
        (self.ws.folder / name).write_text(text)
        return name

    @property
    def image_tag(self) -> str:
        return f"sandbox-run/{self.config.name}:{self.run_id}"

    @property
    def test_image_tag(self) -> str:
        return f"sandbox-run/{self.config.name}-tests:{self.run_id}"


def timed(name: str, body: Callable[[], StageResult]) -> StageResult:
    begin = time.monotonic()
    try:
        result = body()
    except (APIError, BuildError, OSError, ValueError) as exc:
        result = StageResult(name, "failed", reason=f"{type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - begin
    return result


def _run_with_timeout(work: Callable[[], Any], seconds: float) -> tuple[bool, Any, BaseException | None]:
    """Run `work` in a thread; (finished, value, error). Used where the Engine API has no timeout."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # forwarded to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return (not thread.is_alive(), box.get("value"), box.get("error"))


# --- migrate ---------------------------------------------------------------------------------------


def migrate(ctx: StageContext) -> StageResult:
    """Run the codemods in the migrator container with no network, over the service and shared paths."""
    image = ctx.resolver.resolve("migrator").ref
    logs, reports, failures = [], [], []
    # The service and each shared path get a migrator container of their own, side by side.
    with ThreadPoolExecutor(max_workers=len(ctx.ws.rel_paths) or 1) as pool:
        runs = list(pool.map(lambda rel: _run_migrator(ctx, image, rel), ctx.ws.rel_paths))
    for rel, (args, code, stdout, stderr) in zip(ctx.ws.rel_paths, runs):
        logs.append(f"$ python -m migrators {' '.join(args)}  (exit {code})\n{stderr}\n{stdout}\n")
        reports.append(_parse_json(stdout))
        if code is None:
            return StageResult(
                "migrate",
                "timeout",
                reason=f"codemods on {rel} exceeded {ctx.config.timeouts['migrate']}s",
                log=ctx.write_log("migrate.log", "".join(logs)),
            )
        if code not in (0, 1):
            failures.append(f"{rel}: migrator exit {code}: {_last_lines(stderr or stdout)}")
    log = ctx.write_log("migrate.log", "".join(logs))
    file_changes = wsmod.changes(ctx.ws)
    (ctx.ws.folder / "diff.patch").write_text(wsmod.unified_diff(file_changes))
    markers = wsmod.find_markers(ctx.ws)
    details = {
        "reports": reports,
        "diff": wsmod.diff_stats(file_changes),
        "markers": [marker.__dict__ for marker in markers],
    }
    if failures:
        return StageResult("migrate", "failed", reason="; ".join(failures), log=log, details=details)
    if markers:
        first = markers[0]
        reason = (
            f"{len(markers)} MIGRATION-BLOCKER marker(s); first at {first.path}:{first.line}: {first.text}"
        )
        return StageResult("migrate", "failed", reason=reason, log=log, details=details)
    return StageResult("migrate", "passed", log=log, details=details)


def _run_migrator(ctx: StageContext, image: str, rel: str) -> tuple[list[str], int | None, str, str]:
    """`python -m migrators` on one path of the workspace, no network; (args, exit code, out, err)."""
    args = [f"/work/{rel}", "--json"]
    for name in ctx.config.migrations_include:
        args += ["--only", name]
    for name in ctx.config.migrations_exclude:
        args += ["--skip", name]
    container = ctx.client.containers.create(
        image,
        args,
        network_mode="none",
        labels=ctx.labels("migrator"),
        volumes={str(ctx.ws.work): {"bind": "/work", "mode": "rw"}},
        user=f"{os.getuid()}:{os.getgid()}",
        **LIMITS,
    )
    try:
        container.start()
        code = _wait(container, ctx.config.timeouts["migrate"])
        stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
    finally:
        _remove(container)
    return args, code, stdout, stderr


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"raw": text[-4000:]}


def _last_lines(text: str, count: int = 5) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-count:])


def _wait(container, seconds: float) -> int | None:
    """The container's exit code, or None after killing it at the timeout."""
    try:
        return int(container.wait(timeout=seconds)["StatusCode"])
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        try:
            container.kill()
        except APIError:
            pass
        return None


def _remove(container) -> None:
    try:
        container.remove(force=True, v=True)
    except (NotFound, APIError):
        pass


# --- build -----------------------------------------------------------------------------------------


def build(
    ctx: StageContext, tag: str | None = None, name: str = "build", service_dir: Path | None = None
) -> StageResult:
    """`docker build` of the service's own Dockerfile, FROM mapped to the resolved base."""
    service_dir = service_dir or ctx.ws.service_dir
    context = (service_dir / ctx.config.context).resolve()
    lines: list[str] = []
    work = lambda: build_mapped(
        ctx.client,
        context,
        service_dir / ctx.config.dockerfile,
        tag or ctx.image_tag,
        ctx.resolver.image_map(),
        ctx.labels("service-image"),
        on_log=lines.append,
    )
    finished, image_id, error = _run_with_timeout(work, ctx.config.timeouts["build"])
    log = ctx.write_log(f"{name}.log", "\n".join(lines) + (f"\n{error}\n" if error else "\n"))
    if not finished:
        return StageResult(
            name, "timeout", reason=f"docker build exceeded {ctx.config.timeouts['build']}s", log=log
        )
    if error is not None:
        reason = str(error) if isinstance(error, BuildError) else f"{type(error).__name__}: {error}"
        return StageResult(name, "failed", reason=f"docker build failed: {reason}", log=log)
    return StageResult(name, "passed", log=log, details={"image": image_id})


# --- test ------------------------------------------------------------------------------------------

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


def unlabelled_ancestor(client: docker.DockerClient, image_ref: str) -> str:
    """The service image without the run's LABEL steps.

    The run labels make every service image unique, so a test image built FROM it would never
    hit the cache for its pip layer; FROM the last real build step it does, across runs.
    """
    image = client.images.get(image_ref)
    while image.attrs.get("Parent"):
        created_by = (image.history() or [{}])[0].get("CreatedBy", "")
        if "LABEL sandbox." not in created_by:
            break
        image = client.images.get(image.attrs["Parent"])
    return image.id


def build_test_image(ctx: StageContext, service_image: str, tag: str, service_dir: Path) -> str:
    """The service image plus its dev requirements and tests, at the image's working directory.

    Requirements go in a layer of their own before the code, so services with the same dev
    requirements share the cached install.
    """
    config = ctx.client.images.get(service_image).attrs["Config"]
    workdir = config.get("WorkingDir") or "/app"
    user = config.get("User") or "root"
    base = unlabelled_ancestor(ctx.client, service_image)
    with tempfile.TemporaryDirectory(prefix="sandbox-test-ctx-") as tmp:
        context = Path(tmp)
        shutil.copytree(service_dir, context / "src", ignore=wsmod.IGNORED, symlinks=True)
        (context / "req").mkdir()
        for requirements in service_dir.glob("requirements*.txt"):
            shutil.copy2(requirements, context / "req" / requirements.name)
        (context / "Dockerfile").write_text(TEST_DOCKERFILE.format(image=base, workdir=workdir, user=user))
        return build_mapped(ctx.client, context, context / "Dockerfile", tag, {}, ctx.labels("test-image"))


def run_tests(
    ctx: StageContext, image: str, env: dict[str, str], network: str, name: str = "test"
) -> StageResult:
    """pytest in a container on the private network; counts come from its JUnit XML."""
    container = ctx.client.containers.create(
        image,
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={JUNIT_IN_CONTAINER}"],
        environment=env,
        network=network,
        labels=ctx.labels("tests"),
        **LIMITS,
    )
    try:
        container.start()
        code = _wait(container, ctx.config.timeouts["test"])
        output = container.logs().decode(errors="replace")
        junit = _read_file(container, JUNIT_IN_CONTAINER)
    finally:
        _remove(container)
    log = ctx.write_log(f"{name}.log", output)
    counts = (
        parse_junit(junit)
        if junit
        else {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "failed_tests": []}
    )
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
        failed = ", ".join(counts["failed_tests"][:3]) or _last_lines(output)
        return StageResult(
            name,
            "failed",
            reason=f"{counts['failures'] + counts['errors']} of "
            f"{counts['tests']} tests failed (pytest exit {code}): {failed}",
            log=log,
            details=counts,
        )
    return StageResult(name, "passed", log=log, details=counts)


def _read_file(container, path: str) -> bytes | None:
    try:
        stream, _ = container.get_archive(path)
    except (NotFound, APIError):
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        extracted = tar.extractfile(member) if member else None
        return extracted.read() if extracted else None


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
    return counts
