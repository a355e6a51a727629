"""Adding a dependency takes one `Dependency` and one registration, no edit of the sandbox.

An HTTP echo server (`python -m http.server` on the local base image) is registered at test time
with a smoke step kind of its own; a service written into a temporary repo needs it. `sandbox.toml`
validation accepts it only once registered, and a real `verify` run starts it on the service's
private network, hands the service its environment, and runs its smoke step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from sandbox.config import ConfigError, load_service
from sandbox.deps import Dependency, container_ip, register, unregister
from sandbox.engine import ResolvedImage, new_run_id
from sandbox.pipeline.run import Options, new_run, verify_fleet
from tests.sandbox.pipeline.fixture_fleet import BASE, SANDBOX_TOML

ECHO_PORT = 8080


class EchoReady(WaitStrategy):
    """Ready when GET / answers 200 from the host."""

    def __init__(self, network: str) -> None:
        super().__init__()
        self._network = network

    def wait_until_ready(self, container) -> None:  # type: ignore[override]
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            try:
                url = f"http://{container_ip(container, self._network)}:{ECHO_PORT}/"
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except (requests.RequestException, KeyError):
                pass
            time.sleep(self._poll_interval)
        raise TimeoutError(f"echo server not ready within {self._startup_timeout}s")


def echo_container(image: ResolvedImage, network: Network, labels: dict[str, str]) -> DockerContainer:
    command = ["python3", "-m", "http.server", str(ECHO_PORT)]
    return DockerContainer(image.ref, command=command, labels=labels, mem_limit="128m")


def echo_env(host: str, database: str) -> dict[str, str]:
    return {"ECHO_URL": f"http://{host}:{ECHO_PORT}/"}


def echo_get_smoke(options: dict[str, Any], base_url: str, host_env: Mapping[str, str]) -> str:
    answer = requests.get(host_env["ECHO_URL"] + options.get("path", ""), timeout=5)
    return "passed" if answer.status_code == 200 else f"HTTP {answer.status_code}"


ECHO = Dependency(
    name="echo",
    image="base",
    container=echo_container,
    wait=lambda network: EchoReady(network).with_startup_timeout(60).with_poll_interval(0.2),
    env=echo_env,
    smoke={"echo-get": echo_get_smoke},
)

ECHO_TEST = """\
import os
import urllib.request


def test_the_echo_dependency_answers_on_the_private_network() -> None:
    with urllib.request.urlopen(os.environ["ECHO_URL"], timeout=10) as answer:
        assert answer.status == 200
"""

ECHO_TOML = SANDBOX_TOML.replace('needs = ["mosquitto"]', 'needs = ["echo"]') + (
    '\n[[smoke]]\nname = "echo answers"\nkind = "echo-get"\n'
)


def write_echo_service(repo: Path) -> Path:
    files = {**BASE, "tests/test_echo.py": ECHO_TEST, "sandbox.toml": ECHO_TOML}
    root = repo / "services" / "echo-svc"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def echo_registered() -> Iterator[Dependency]:
    register(ECHO)
    try:
        yield ECHO
    finally:
        unregister(ECHO.name)


def test_needs_names_only_registered_dependencies(tmp_path: Path) -> None:
    service = write_echo_service(tmp_path)
    with pytest.raises(ConfigError, match="needs: unknown dependency 'echo'"):
        load_service(service)


def test_a_registered_dependency_serves_a_verified_service(tmp_path: Path, echo_registered) -> None:
    config = load_service(write_echo_service(tmp_path))
    assert config.needs == ("echo",)
    events: list[tuple[str, str, str]] = []
    run = new_run(tmp_path, new_run_id(), Options(jobs=1), lambda *event: events.append(event))
    outcome = verify_fleet(run, [config]).outcomes[0]
    stages = {stage.name: stage for stage in outcome.stages}
    assert outcome.verified, [stage.to_dict() for stage in outcome.stages]
    assert stages["test"].details["tests"] == 3 and stages["test"].details["failures"] == 0
    assert set(stages["test"].details["dependencies"]) == {"echo"}
    assert stages["health"].details["smoke"] == [
        {"name": "health answers over HTTP", "result": "passed"},
        {"name": "echo answers", "result": "passed"},
    ]
