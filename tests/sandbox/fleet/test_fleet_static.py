"""The services fleet, checked without Docker: files, sandbox.toml, Dockerfiles, old pins, old APIs.

The fleet is the "before" state of the migration, so these tests also guard against a new API
sneaking in (influxdb_client_3, aiomqtt, loop_scope) and against pins drifting to new versions.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from sandbox.config import load_service, validate_layout
from sandbox.deps import dependencies, smoke_runners

SERVICES = Path(__file__).resolve().parents[3] / "services"

# name: (priority, libraries it must use) — the fleet table
FLEET = {
    "data-retention": ("HIGH", {"pytest_asyncio", "asyncio_mqtt", "influxdb_client"}),
    "websocket-ingestion": ("CRITICAL", {"pytest_asyncio", "asyncio_mqtt", "influxdb_client"}),
    "weather-api": ("MEDIUM", {"pytest_asyncio", "influxdb_client"}),
    "energy-forecasting": ("MEDIUM", {"influxdb_client"}),
    "api-automation-edge": ("CRITICAL", {"tenacity", "influxdb_client"}),
    "ai-core-service": ("HIGH", {"pytest_asyncio", "tenacity"}),
    "automation-miner": ("LOW", {"pytest_asyncio"}),
    "rag-service": ("LOW", {"tenacity"}),
}
NAMES = sorted(FLEET)
REQUIRED_FILES = (
    "Dockerfile",
    "requirements.txt",
    "requirements-dev.txt",
    "sandbox.toml",
    "README.md",
    "pytest.ini",
    "app/__init__.py",
    "app/main.py",
)
# distribution -> (import name, predicate on the pinned version)
OLD_PINS = {
    "influxdb-client": lambda v: re.fullmatch(r"1\.(3\d|4\d)\.\d+", v),
    "asyncio-mqtt": lambda v: re.fullmatch(r"0\.16\.\d+", v),
    "paho-mqtt": lambda v: re.fullmatch(r"1\.6\.\d+", v),
    "tenacity": lambda v: re.fullmatch(r"8\.2\.\d+", v),
    "pytest-asyncio": lambda v: re.fullmatch(r"0\.21\.\d+", v),
    "pytest": lambda v: re.fullmatch(r"8\.1\.\d+", v),
}
DIST_FOR_IMPORT = {
    "influxdb_client": "influxdb-client",
    "asyncio_mqtt": "asyncio-mqtt",
    "tenacity": "tenacity",
    "pytest_asyncio": "pytest-asyncio",
}
NEW_API = re.compile(r"\b(influxdb_client_3|aiomqtt|loop_scope)\b|influxdb3-python")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]+\])?==(?P<version>[^\s;#]+)")


def code_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and (p.suffix == ".py" or p.name in ("Dockerfile", "pytest.ini") or p.name.startswith("requirements"))
    )


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.relative_to(SERVICES)}: {line!r} is not pinned with =="
        found[match.group("name").lower()] = match.group("version")
    return found


def installed_requirements(name: str) -> Path:
    """The requirements file the Dockerfile installs."""
    text = (SERVICES / name / "Dockerfile").read_text()
    match = re.search(r"pip install[^\n]*-r\s+(\S+)", text)
    assert match, f"{name}: Dockerfile does not pip install -r a requirements file"
    return SERVICES / name / Path(match.group(1)).name


def imports(paths: list[Path]) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def uses(name: str) -> set[str]:
    """The migration-relevant libraries a service uses: its own imports, what it uses of
    fleet_common, and pytest-asyncio through imports, markers or auto mode."""
    own = sorted((SERVICES / name).rglob("*.py"))
    found = imports(own) & set(DIST_FOR_IMPORT)
    text = "".join(p.read_text() for p in own)
    if re.search(r"fleet_common\.influx\b", text):
        found.add("influxdb_client")
    if re.search(r"fleet_common\.mqtt\b", text):
        found.add("asyncio_mqtt")
    if "mark.asyncio" in text or "asyncio_mode" in (SERVICES / name / "pytest.ini").read_text():
        found.add("pytest_asyncio")
    return found


def service_py(name: str, include_shared: bool = True) -> list[Path]:
    files = sorted((SERVICES / name).rglob("*.py"))
    if include_shared:
        for shared in load_service(SERVICES / name).shared:
            files += sorted((SERVICES / shared).rglob("*.py"))
    return files


def test_fleet_is_complete():
    present = {p.name for p in SERVICES.iterdir() if p.is_dir() and (p / "Dockerfile").exists()}
    assert present == set(FLEET)
    assert (SERVICES / "common" / "fleet_common" / "__init__.py").is_file()
    assert (SERVICES / "README.md").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_required_files(name):
    missing = [f for f in REQUIRED_FILES if not (SERVICES / name / f).is_file()]
    assert not missing, f"{name}: missing {missing}"
    assert list((SERVICES / name / "tests").glob("test_*.py")), f"{name}: no tests/test_*.py"


@pytest.mark.parametrize("name", NAMES)
def test_sandbox_toml_is_valid(name):
    raw = tomllib.loads((SERVICES / name / "sandbox.toml").read_text())
    assert raw["priority"] == FLEET[name][0]
    assert isinstance(raw["port"], int) and 1024 < raw["port"] < 65536
    assert raw["health"].startswith("/")
    assert set(raw["needs"]) <= set(dependencies())
    for stage, seconds in raw.get("timeouts", {}).items():
        assert stage in ("build", "test", "health") and seconds > 0
    config = load_service(SERVICES / name)  # the sandbox's own parser accepts it
    assert validate_layout(config) == []
    for step in raw.get("smoke", []):
        assert step["name"] and step["kind"] in smoke_runners()
        if step["kind"] == "http":
            assert step["method"] in ("GET", "POST", "PUT", "DELETE") and step["path"].startswith("/")
            assert isinstance(step["expect_status"], int)
        elif step["kind"] == "mqtt-publish":
            assert step["topic"] and "payload" in step
            assert "mosquitto" in raw["needs"]
        else:
            assert step["sql"].upper().startswith("SELECT") and step["expect_min_rows"] >= 1
            assert "influxdb3" in raw["needs"]


def test_ports_are_unique():
    ports = [tomllib.loads((SERVICES / n / "sandbox.toml").read_text())["port"] for n in NAMES]
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize("name", NAMES)
def test_needs_match_what_the_code_uses(name):
    used = uses(name)
    needs = set(load_service(SERVICES / name).needs)
    assert ("influxdb3" in needs) == ("influxdb_client" in used)
    assert ("mosquitto" in needs) == ("asyncio_mqtt" in used)


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile(name):
    text = (SERVICES / name / "Dockerfile").read_text()
    froms = [line for line in text.splitlines() if line.startswith("FROM")]
    assert froms == ["FROM python:3.11-slim"]
    port = load_service(SERVICES / name).port
    assert re.search(r"^USER (?!root)\S+", text, re.M), "runs as a non-root user"
    assert "HEALTHCHECK" in text and "curl" not in text and f"127.0.0.1:{port}/health" in text
    assert f"EXPOSE {port}" in text
    assert re.search(rf'CMD \["uvicorn", "app.main:app", .*"--port", "{port}"\]', text)
    assert installed_requirements(name).is_file()


def test_shared_code_builds_from_the_services_folder():
    users = []
    for name in NAMES:
        config = load_service(SERVICES / name)
        text = (SERVICES / name / "Dockerfile").read_text()
        if config.context == "..":
            assert config.shared == ("common",), name
            assert "COPY common/" in text and f"COPY {name}/" in text, name
            assert "fleet_common" in imports(service_py(name, include_shared=False)), name
            users.append(name)
        else:
            assert "common/" not in text and "fleet_common" not in imports(service_py(name)), name
    assert len(users) >= 3


def test_one_service_installs_requirements_prod():
    prod = [n for n in NAMES if installed_requirements(n).name == "requirements-prod.txt"]
    assert prod == ["energy-forecasting"]


@pytest.mark.parametrize("name", NAMES)
def test_requirements_pin_old_versions(name):
    files = sorted((SERVICES / name).glob("requirements*.txt"))
    for path in files:
        for dist, version in pins(path).items():
            if dist in OLD_PINS:
                assert OLD_PINS[dist](version), (
                    f"{path.relative_to(SERVICES)}: {dist}=={version} is not the old pin"
                )
            assert dist not in ("influxdb3-python", "aiomqtt"), (
                f"{path.relative_to(SERVICES)}: new library {dist}"
            )
    runtime = pins(installed_requirements(name))
    dev = pins(SERVICES / name / "requirements-dev.txt")
    assert "pytest" in dev and "httpx" in dev
    used = uses(name)
    assert used == FLEET[name][1], (
        f"{name} uses {sorted(used)}, the fleet table says {sorted(FLEET[name][1])}"
    )
    for module, dist in DIST_FOR_IMPORT.items():
        if module == "pytest_asyncio":
            assert (module in used) == (dist in dev), f"{name}: pytest-asyncio use and dev pin disagree"
        elif module in used:
            assert dist in runtime, f"{name}: imports {module} but the image does not install {dist}"
    if "asyncio-mqtt" in runtime:
        assert "paho-mqtt" in runtime


def test_no_service_uses_a_new_api():
    offenders = []
    for path in code_files(SERVICES):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if NEW_API.search(line):
                offenders.append(f"{path.relative_to(SERVICES)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_no_migration_markers_before_migration():
    """Verification greps the whole tree for the marker: not even a README may spell it. The hand
    fixes of `migration-fixes/` are the one exception (their patch text quotes the marker they
    resolve), and the scan skips them too (sandbox.pipeline.migrate.codemod_markers)."""
    assert not [
        p
        for p in SERVICES.rglob("*")
        if p.is_file()
        and "migration-fixes" not in p.parts
        and "MIGRATION-BLOCKER(" in p.read_text(errors="ignore")
    ]


@pytest.mark.parametrize("name", NAMES)
def test_test_counts_and_markers(name):
    tests = 0
    markers_used = set()
    for path in (SERVICES / name / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                tests += 1
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "mark"
                and node.attr in ("influx", "mqtt", "flux")
            ):
                markers_used.add(node.attr)
    assert 10 <= tests <= 40, f"{name}: {tests} test functions"
    declared = set(re.findall(r"^\s+(\w+):", (SERVICES / name / "pytest.ini").read_text(), re.M))
    assert markers_used <= declared, f"{name}: undeclared markers {markers_used - declared}"
    needs = set(load_service(SERVICES / name).needs)
    assert ("influx" in markers_used) == ("influxdb3" in needs)
    assert ("mqtt" in markers_used) == ("mosquitto" in needs)
    if "influx" in markers_used:
        assert "flux" in markers_used, f"{name}: Flux read paths need a `flux` test"


def test_every_python_file_parses():
    for path in SERVICES.rglob("*.py"):
        ast.parse(path.read_text(), str(path))


def test_flux_appears_where_influx_is_used():
    for name in NAMES:
        text = "".join(p.read_text() for p in (SERVICES / name / "app").rglob("*.py"))
        if "influxdb3" in load_service(SERVICES / name).needs:
            assert "from(bucket:" in text, f"{name}: no Flux query of its own"
    common = (SERVICES / "common" / "fleet_common" / "influx.py").read_text()
    assert common.count("from(bucket:") >= 2


def test_delete_api_only_behind_the_data_retention_seam():
    users = [
        p.relative_to(SERVICES)
        for p in SERVICES.rglob("*.py")
        if "delete_api" in p.read_text() and "tests" not in p.parts
    ]
    assert users == [Path("data-retention/app/expiry.py")]
    readme = (SERVICES / "data-retention" / "README.md").read_text()
    assert "retention period" in readme and "IX-9" in readme


def test_one_health_answers_degraded_with_200():
    degraded = [n for n in NAMES if '"degraded"' in (SERVICES / n / "app" / "main.py").read_text()]
    assert degraded == ["weather-api"]
    healthcheck = (SERVICES / "weather-api" / "Dockerfile").read_text()
    assert "get('status') == 'ok'" in healthcheck  # the image's own check reads the body


def test_old_api_shapes_are_spread_across_the_fleet():
    text = {n: "".join(p.read_text() for p in service_py(n)) for n in NAMES}
    everything = "".join(text.values())
    shapes = [
        "aggregateWindow(",
        "pivot(",
        "last()",
        "query_data_frame(",
        ".get_value()",
        "WriteOptions(",
        "WritePrecision.",
        "filtered_messages(",
        ".messages()",
        "client_id=",
        "def event_loop(",
        "(event_loop",
        "asyncio(scope=",
        ".retry.statistics",
        "RetryError",
        "AsyncRetrying",
        "wait_random_exponential(",
        "min=",
        "delete_api()",
        "to_values(",
        "params=",
    ]
    missing = [shape for shape in shapes if shape not in everything]
    assert not missing, f"old-API shapes missing from the fleet: {missing}"
    assert "message.topic == " in text["data-retention"]
