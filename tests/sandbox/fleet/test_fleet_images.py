"""The fleet in Docker, unmigrated, per issue 4's "Done when":

- every service image builds from its own Dockerfile, `FROM python:3.11-slim` mapped to the local
  offline base (`sandbox/base:local`) the way the sandbox maps it;
- its unit tests pass in a container built on the service image (the pipeline's own test-image
  recipe: requirements-dev installed, the service folder at the image's working directory);
- its MQTT integration tests pass against a real Mosquitto with the old asyncio-mqtt;
- its InfluxDB write paths pass against InfluxDB 3's v2-compatible write endpoint;
- its Flux tests fail against InfluxDB 3 (Flux does not exist there): the point of the migration.

Runtime: services run concurrently (3 at a time) inside one module fixture; images are tagged
`sandbox-fleet/<name>:test` and kept, so the layer cache makes later runs fast. Every container and
network is labelled `sandbox.project=sandbox-migrate` and removed.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.config import load_service
from sandbox.deps import ServiceDeps
from sandbox.engine.images import build_mapped
from sandbox.pipeline.test import TEST_DOCKERFILE, parse_junit

SERVICES = Path(__file__).resolve().parents[3] / "services"
NAMES = sorted(p.name for p in SERVICES.iterdir() if (p / "Dockerfile").is_file())
BASE = "sandbox/base:local"
MAPPING = {"python:3.11-slim": BASE}
LABELS = {"sandbox.project": "sandbox-migrate", "sandbox.role": "fleet-test"}
JUNIT = "/tmp/fleet-junit.xml"
RUN_TIMEOUT = 300
WORKERS = 3

UNIT = "not influx and not mqtt"
MQTT = "mqtt"
INFLUX_WRITES = "influx and not flux"
FLUX = "flux"


@dataclass
class Outcome:
    name: str
    build_s: float = 0.0
    test_image_s: float = 0.0
    image: str = ""
    runs: dict[str, dict] = field(default_factory=dict)  # marker expression -> counts + exit + log
    errors: dict[str, str] = field(
        default_factory=dict
    )  # marker expression (or "build") -> why it did not run


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc")}


def _build_images(client, name: str, outcome: Outcome) -> str:
    config = load_service(SERVICES / name)
    started = time.monotonic()
    outcome.image = build_mapped(
        client,
        config.context_path,
        config.path / config.dockerfile,
        f"sandbox-fleet/{name}:test",
        MAPPING,
        dict(LABELS),
    )
    outcome.build_s = time.monotonic() - started
    started = time.monotonic()
    attrs = client.images.get(outcome.image).attrs["Config"]
    with tempfile.TemporaryDirectory(prefix="fleet-test-ctx-") as tmp:
        context = Path(tmp)
        shutil.copytree(config.path, context / "src", ignore=_ignore)
        (context / "req").mkdir()
        for requirements in config.path.glob("requirements*.txt"):
            shutil.copy2(requirements, context / "req" / requirements.name)
        (context / "Dockerfile").write_text(
            TEST_DOCKERFILE.format(
                image=outcome.image,
                workdir=attrs.get("WorkingDir") or "/app",
                user=attrs.get("User") or "root",
            )
        )
        tag = f"sandbox-fleet/{name}-tests:test"
        build_mapped(client, context, context / "Dockerfile", tag, {}, dict(LABELS))
    outcome.test_image_s = time.monotonic() - started
    return tag


def _read_junit(container) -> dict | None:
    try:
        stream, _ = container.get_archive(JUNIT)
    except Exception:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        data = tar.extractfile(member).read() if member else b""
    return parse_junit(data) if data else None


def _pytest(client, image: str, marker: str, env: dict[str, str], network: str) -> dict:
    container = client.containers.create(
        image,
        [
            "python",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            marker,
            "-rfE",
            f"--junitxml={JUNIT}",
        ],
        environment=env,
        network=network,
        labels=dict(LABELS),
        mem_limit="1g",
    )
    try:
        container.start()
        code = int(container.wait(timeout=RUN_TIMEOUT)["StatusCode"])
        log = container.logs().decode(errors="replace")
        counts = _read_junit(container) or {
            "tests": 0,
            "failures": 0,
            "errors": 0,
            "skipped": 0,
            "failed_tests": [],
        }
    finally:
        container.remove(force=True)
    return {"exit": code, "log": log[-4000:], **counts}


def _run_service(client, name: str) -> Outcome:
    outcome = Outcome(name)
    try:
        tests_image = _build_images(client, name, outcome)
    except Exception as exc:  # reported by every test of this service, with the cause
        outcome.errors["build"] = f"{type(exc).__name__}: {exc}"
        return outcome
    needs = load_service(SERVICES / name).needs
    database = name.replace("-", "_")
    stages = [((UNIT,), None)]
    if "mosquitto" in needs:
        stages.append(((MQTT,), "mosquitto"))
    if "influxdb3" in needs:
        stages.append(((INFLUX_WRITES, FLUX), "influxdb3"))
    for markers, dependency in stages:
        try:
            if dependency is None:
                for marker in markers:
                    outcome.runs[marker] = _pytest(client, tests_image, marker, {}, "none")
                continue
            with ServiceDeps(client, labels=dict(LABELS), needs=(dependency,), database=database) as deps:
                for marker in markers:
                    outcome.runs[marker] = _pytest(
                        client, tests_image, marker, deps.container_env, deps.network
                    )
        except Exception as exc:  # this stage's tests report it; the other stages still run
            for marker in markers:
                outcome.errors.setdefault(marker, f"{type(exc).__name__}: {exc}")
    return outcome


@pytest.fixture(scope="module")
def fleet(docker_client) -> dict[str, Outcome]:
    try:
        docker_client.images.get(BASE)
    except Exception:
        pytest.fail(
            f"{BASE} is missing: build it first (sandbox images build base / scripts/setup.sh)", pytrace=False
        )
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = dict(zip(NAMES, pool.map(lambda n: _run_service(docker_client, n), NAMES), strict=True))
    print(
        "\nfleet build times: "
        + ", ".join(f"{o.name} {o.build_s:.0f}s+{o.test_image_s:.0f}s" for o in outcomes.values())
    )
    return outcomes


def _run(fleet: dict[str, Outcome], name: str, marker: str) -> dict:
    outcome = fleet[name]
    assert "build" not in outcome.errors, f"{name}: {outcome.errors['build']}"
    assert marker in outcome.runs, f"{name}: -m {marker!r} did not run: {outcome.errors.get(marker)}"
    return outcome.runs[marker]


def _needs(name: str) -> tuple[str, ...]:
    return load_service(SERVICES / name).needs


@pytest.mark.parametrize("name", NAMES)
def test_image_builds_non_root_with_healthcheck(fleet, docker_client, name):
    outcome = fleet[name]
    assert outcome.image, f"{name}: {outcome.errors.get('build')}"
    config = docker_client.images.get(outcome.image).attrs["Config"]
    assert config.get("User") not in (None, "", "root", "0")
    assert config.get("Healthcheck", {}).get("Test")
    assert config.get("WorkingDir") == "/app"


@pytest.mark.parametrize("name", NAMES)
def test_unit_tests_pass(fleet, name):
    run = _run(fleet, name, UNIT)
    assert run["exit"] == 0 and run["tests"] >= 10 and not run["failures"] and not run["errors"], run["log"]


@pytest.mark.parametrize("name", [n for n in NAMES if "mosquitto" in _needs(n)])
def test_mqtt_integration_passes_with_old_asyncio_mqtt(fleet, name):
    run = _run(fleet, name, MQTT)
    assert run["exit"] == 0 and run["tests"] >= 2 and not run["failures"] and not run["errors"], run["log"]


@pytest.mark.parametrize("name", [n for n in NAMES if "influxdb3" in _needs(n)])
def test_influx_writes_pass_on_the_v2_compatible_endpoint(fleet, name):
    run = _run(fleet, name, INFLUX_WRITES)
    assert run["exit"] == 0 and run["tests"] >= 2 and not run["failures"] and not run["errors"], run["log"]


@pytest.mark.parametrize("name", [n for n in NAMES if "influxdb3" in _needs(n)])
def test_flux_queries_fail_against_influxdb3(fleet, name):
    run = _run(fleet, name, FLUX)
    assert run["tests"] >= 1, run["log"]
    assert run["exit"] == 1 and run["failures"] + run["errors"] == run["tests"], (
        f"{name}: every Flux test must fail unmigrated; passed: "
        f"{run['tests'] - run['failures'] - run['errors']}\n{run['log']}"
    )
