"""A tiny fleet for pipeline tests, written into a temporary repo: one healthy tenacity service and
one variant per failure the gate must catch. Services are built from one template plus overrides,
so each variant differs from `ok-svc` by exactly the defect it carries.

Also the in-process fleet of the pipeline's rule tests (no Docker): services named by phase, the engine
replaced by stand-ins (`stand_in_engine`) and a fleet run in one call (`run_fleet`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandbox.config import ServiceConfig
from sandbox.engine.cleanup import CleanupReport
from sandbox.pipeline import run as run_mod
from sandbox.pipeline.run import FleetResult, Options, ServiceOutcome, new_run, verify_fleet

SANDBOX = [sys.executable, "-m", "sandbox.cli"]

SERVER = """\
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tenacity import retry, stop_after_attempt


@retry(stop=stop_after_attempt(3))
def ping() -> str:
    return "pong"


def attempts() -> int | None:
    return ping.retry.statistics.get("attempt_number")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/health":
            self.send_error(404)
            return
        ping()
        body = json.dumps({"status": "ok", "attempts": attempts()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
"""

DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app/ app/
RUN useradd --create-home svc
USER svc
EXPOSE 8000
CMD ["python", "-m", "app.server"]
"""

TESTS = """\
from app.server import attempts, ping


def test_ping_answers() -> None:
    assert ping() == "pong"


def test_statistics_count_attempts() -> None:
    ping()
    assert attempts() == 1
"""

SANDBOX_TOML = """\
priority = "LOW"
port = 8000
health = "/health"
needs = ["mosquitto"]

[timeouts]
health = 20
test = 120

[[smoke]]
name = "health answers over HTTP"
kind = "http"
path = "/health"
expect_status = 200
"""

BASE = {
    "Dockerfile": DOCKERFILE,
    "requirements.txt": "tenacity==8.2.3\n",
    "requirements-dev.txt": "-r requirements.txt\npytest==8.3.5\n",
    "app/__init__.py": "",
    "app/server.py": SERVER,
    "tests/__init__.py": "",
    "tests/test_app.py": TESTS,
    "sandbox.toml": SANDBOX_TOML,
}

VARIANTS: dict[str, dict[str, str | None]] = {
    "ok-svc": {},
    # TN-7: wait_chain() with no arguments raises on 9.2: the codemod must stop, not guess.
    "blocker-svc": {"app/backoff.py": "from tenacity import wait_chain\n\nBACKOFF = wait_chain()\n"},
    # The image build pins the old major version: the migrated requirements break the build.
    "build-fail-svc": {
        "Dockerfile": DOCKERFILE.replace(
            "COPY app/ app/",
            "RUN python -c \"import importlib.metadata as m, sys; sys.exit(m.version('tenacity')[0] != '8')\"\n"
            "COPY app/ app/",
        )
    },
    # TN-3: tenacity 9 never waits below min; a test pinned to the old distribution fails.
    "tests-fail-svc": {
        "tests/test_wait.py": textwrap.dedent("""\
        from tenacity import wait_random_exponential


        def test_first_wait_can_be_below_min() -> None:
            from tenacity import RetryCallState
            state = RetryCallState(None, None, (), {})
            state.attempt_number = 1
            waits = [wait_random_exponential(multiplier=1, max=60, min=5)(state) for _ in range(50)]
            assert min(waits) < 5
        """)
    },
    "no-tests-svc": {"tests/test_app.py": None, "tests/conftest.py": "# fixtures would go here\n"},
    "no-health-svc": {
        "Dockerfile": DOCKERFILE.replace(
            'CMD ["python", "-m", "app.server"]', 'CMD ["python", "-c", "import time; time.sleep(3600)"]'
        ),
        "sandbox.toml": SANDBOX_TOML.replace("health = 20", "health = 8"),
    },
    "hang-svc": {
        "tests/test_hang.py": "import time\n\n\ndef test_waits_forever() -> None:\n    time.sleep(3600)\n",
        "sandbox.toml": SANDBOX_TOML.replace("test = 120", "test = 25"),
    },
}


def write_service(services: Path, name: str) -> Path:
    files = {**BASE, **VARIANTS[name]}
    root = services / name
    for rel, text in files.items():
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def write_fleet(repo: Path, names: list[str] | None = None) -> Path:
    services = repo / "services"
    for name in names or list(VARIANTS):
        write_service(services, name)
    return repo


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def env_for(repo: Path) -> dict[str, str]:
    """The environment that points the `sandbox` CLI at a test repo."""
    return {**os.environ, "SANDBOX_REPO": str(repo), "PYTHONUNBUFFERED": "1"}


def sandbox(repo: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SANDBOX, *args], capture_output=True, text=True, timeout=timeout, env=env_for(repo)
    )


def run_report(repo: Path) -> dict:
    """report.json of the newest run in the repo's run folder."""
    runs = sorted((repo / ".sandbox" / "runs").iterdir())
    return json.loads((runs[-1] / "report.json").read_text())


class FakeResolver:
    """Stands in for sandbox.engine.Resolver in fleet tests that run no stage: resolves nothing and
    remembers what it was asked for."""

    def __init__(self, client, on_log) -> None:
        self.decisions: dict = {}
        self.resolved: list[str] = []

    def resolve(self, name: str) -> None:
        self.resolved.append(name)


# A fleet test in-process (stand-in stages, no Docker) ends within seconds; one that waits for a phase
# decision that never comes would otherwise hang until the suite's global timeout. Under mutation
# testing every such hang (a mutant of the schedule) costs this long instead of mutmut's own limit.
FLEET_TEST_TIMEOUT = 30


PHASE_PRIORITY = {"a": "LOW", "b": "MEDIUM", "c": "HIGH", "d": "CRITICAL"}


def phase_config(repo: Path, name: str, phase: str = "a", needs: tuple[str, ...] = ()) -> ServiceConfig:
    """A service of `phase` under repo/services; nothing is written (the stand-in stages read nothing)."""
    return ServiceConfig(
        name=name, path=repo / "services" / name, priority=PHASE_PRIORITY[phase], needs=needs
    )


@contextmanager
def quiet_scope(client, run_id, keep=False, built=None) -> Iterator[CleanupReport]:
    """Stands in for the run's cleanup scope: nothing to clean, nothing to report."""
    yield CleanupReport()


def stand_in_engine(
    monkeypatch: pytest.MonkeyPatch,
    verify: Callable[..., ServiceOutcome] | None = None,
    scope: Callable = quiet_scope,
) -> None:
    """verify_fleet without an engine: the client is the string "client", images resolve to nothing
    (FakeResolver), `scope` is the run's cleanup and, when given, `verify` runs in place of each
    service's stages (called as verify_service is: run, config, slots, index)."""
    monkeypatch.setattr(run_mod, "connect", lambda: "client")
    monkeypatch.setattr(run_mod, "Resolver", FakeResolver)
    monkeypatch.setattr(run_mod, "run_scope", scope)
    if verify is not None:
        monkeypatch.setattr(run_mod, "verify_service", verify)


def run_fleet(repo: Path, services: list[tuple[str, str]], **options) -> FleetResult:
    """One fleet run (id r1) of (name, phase) services with these Options, its events dropped."""
    run = new_run(repo, "r1", Options(**options), lambda *event: None)
    return verify_fleet(run, [phase_config(repo, name, phase) for name, phase in services])
