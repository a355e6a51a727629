"""Generate services in the shape of real ones, for the codemod bench (deterministic, seeded).

    .venv/bin/python bench/gen_services.py DEST [--services 40] [--seed 16]

Each service is a folder with requirements, a pytest.ini and an `app/` and `tests/` package the way
the fleet's services are written: an InfluxDB helper keeping its client and write/query APIs on
`self`, Flux builders in f-strings, an MQTT listener and publisher on asyncio-mqtt, tenacity retries
(and `.retry.statistics` in tests), a conftest with an `event_loop` override and async fixtures, and
many test modules with pytest-asyncio marks. A few plain modules (models, settings) pass no
pre-check, as in real code. Same seed, same bytes: nothing generated is committed.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

MEASUREMENTS = ("sensor", "meter", "inverter", "gateway", "battery", "hvac", "pump", "vehicle")
FIELDS = ("temperature", "humidity", "power", "voltage", "current", "pressure", "speed", "level")
TAGS = ("device_id", "site", "room", "zone", "line", "unit")
WINDOWS = ("1m", "5m", "15m", "1h")
NOUNS = ("reading", "alert", "report", "sample", "event", "command", "status", "forecast")


@dataclass(frozen=True)
class Shape:
    """The random choices of one service: names its modules use, so files refer to each other."""

    name: str
    measurement: str
    fields: tuple[str, ...]
    tag: str
    window: str
    mode: str
    tests: int
    handlers: int


def requirements(shape: Shape) -> str:
    return (
        "fastapi==0.110.0\nuvicorn==0.29.0\ninfluxdb-client==1.40.0\nasyncio-mqtt==0.16.1\ntenacity==8.2.3\n"
    )


def requirements_dev(shape: Shape) -> str:
    return "-r requirements.txt\npytest==8.1.2\npytest-asyncio==0.21.1\n"


def pytest_ini(shape: Shape) -> str:
    return f"[pytest]\nasyncio_mode = {shape.mode}\ntestpaths = tests\nmarkers =\n    influx: live\n"


def config_py(shape: Shape) -> str:
    return f'''"""Settings of {shape.name}, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    influx_url: str = "http://localhost:8086"
    influx_token: str = "dev-token"
    influx_org: str = "fleet"
    bucket: str = "{shape.name}"
    mqtt_host: str = "localhost"
    mqtt_port: int = 1883
    window: str = "{shape.window}"

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            influx_url=os.environ.get("INFLUXDB_URL", cls.influx_url),
            influx_token=os.environ.get("INFLUXDB_TOKEN", cls.influx_token),
            influx_org=os.environ.get("INFLUXDB_ORG", cls.influx_org),
            bucket=os.environ.get("INFLUXDB_BUCKET", cls.bucket),
            mqtt_host=os.environ.get("MQTT_HOST", cls.mqtt_host),
            mqtt_port=int(os.environ.get("MQTT_PORT", cls.mqtt_port)),
        )
'''


def models_py(shape: Shape, rng: random.Random) -> str:
    classes = []
    for noun in rng.sample(NOUNS, 4):
        fields = "\n".join(f"    {f}: float = 0.0" for f in shape.fields)
        classes.append(
            f'''@dataclass
class {noun.title()}:
    {shape.tag}: str
{fields}

    def as_point(self) -> dict:
        return {{"measurement": "{shape.measurement}", "tags": {{"{shape.tag}": self.{shape.tag}}},
                "fields": {{{", ".join(f'"{f}": self.{f}' for f in shape.fields)}}}}}
'''
        )
    return '"""Plain data types."""\n\nfrom dataclasses import dataclass\n\n\n' + "\n\n".join(classes)


def influx_py(shape: Shape) -> str:
    field_list = ", ".join(f'"{f}"' for f in shape.fields)
    return f'''"""The InfluxDB helper every module of {shape.name} shares: client and APIs kept on self."""

from __future__ import annotations

import logging

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from app.config import Settings

log = logging.getLogger(__name__)
FIELDS = ({field_list},)


class InfluxHelper:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.org = settings.influx_org
        self.client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token, org=self.org)
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self.query_api = self.client.query_api()

    def ping(self) -> bool:
        try:
            return self.client.ping()
        except ApiException as exc:
            log.warning("influx unreachable: %s", exc)
            return False

    def write(self, {shape.tag}: str, values: dict[str, float]) -> None:
        point = Point("{shape.measurement}").tag("{shape.tag}", {shape.tag})
        for key, value in values.items():
            point = point.field(key, value)
        self.write_api.write(bucket=self.bucket, org=self.org, record=point,
                             write_precision=WritePrecision.NS)

    def latest(self, {shape.tag}: str) -> dict[str, float]:
        flux = f\'\'\'from(bucket: "{{self.bucket}}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "{shape.measurement}" and r.{shape.tag} == "{{{shape.tag}}}")
  |> last()\'\'\'
        tables = self.query_api.query(flux, org=self.org)
        return {{record.get_field(): record.get_value() for table in tables for record in table.records}}

    def mean(self, field: str, hours: int = 6) -> float | None:
        flux = (
            f'from(bucket: "{{self.bucket}}") |> range(start: -{{hours}}h) '
            f'|> filter(fn: (r) => r._measurement == "{shape.measurement}" and r._field == "{{field}}") '
            "|> mean()"
        )
        tables = self.query_api.query(flux, org=self.org)
        for table in tables:
            for record in table.records:
                return record.get_value()
        return None

    def close(self) -> None:
        self.write_api.close()
        self.client.close()
'''


def flux_py(shape: Shape, rng: random.Random) -> str:
    builders = []
    for i, field in enumerate(shape.fields):
        window = rng.choice(WINDOWS)
        builders.append(
            f'''def {field}_series(bucket: str, {shape.tag}: str, hours: int = {rng.randint(1, 48)}) -> str:
    return f\'\'\'from(bucket: "{{bucket}}")
  |> range(start: -{{hours}}h)
  |> filter(fn: (r) => r._measurement == "{shape.measurement}")
  |> filter(fn: (r) => r._field == "{field}" and r.{shape.tag} == "{{{shape.tag}}}")
  |> aggregateWindow(every: {window}, fn: mean, createEmpty: false)\'\'\'


def {field}_max_{i}(bucket: str) -> str:
    return (
        f'from(bucket: "{{bucket}}") |> range(start: -1d) '
        '|> filter(fn: (r) => r._measurement == "{shape.measurement}" and r._field == "{field}") '
        '|> group(columns: ["{shape.tag}"]) |> max()'
    )
'''
        )
    return '"""Flux builders the repository and the tests share."""\n\n\n' + "\n\n".join(builders)


def mqtt_py(shape: Shape) -> str:
    return f'''"""MQTT: commands in, {shape.measurement} events out; the client is kept on self."""

from __future__ import annotations

import asyncio
import json
import logging

from asyncio_mqtt import Client, MqttError

from app.config import Settings

log = logging.getLogger(__name__)
COMMANDS = "{shape.name}/commands/#"


class Listener:
    def __init__(self, settings: Settings, reconnect_interval: float = 3.0) -> None:
        self.settings = settings
        self.reconnect_interval = reconnect_interval
        self.client: Client | None = None
        self.handled = 0

    async def run_forever(self) -> None:
        while True:
            try:
                await self.listen_once()
            except MqttError as exc:
                log.warning("mqtt lost (%s); retry in %ss", exc, self.reconnect_interval)
            await asyncio.sleep(self.reconnect_interval)

    async def listen_once(self) -> None:
        async with Client(hostname=self.settings.mqtt_host, port=self.settings.mqtt_port) as client:
            self.client = client
            async with client.filtered_messages(COMMANDS) as messages:
                await client.subscribe(COMMANDS, qos=1)
                async for message in messages:
                    self.handled += 1
                    await self.handle(message.topic, message.payload)

    async def handle(self, topic: str, payload: bytes) -> None:
        data = json.loads(payload or b"{{}}")
        if self.client is not None:
            ack = json.dumps({{"topic": topic, **data}})
            await self.client.publish("{shape.name}/events/ack", ack, qos=1)


async def publish(settings: Settings, {shape.tag}: str, values: dict) -> None:
    async with Client(settings.mqtt_host, port=settings.mqtt_port) as client:
        await client.publish(f"{shape.name}/{{{shape.tag}}}/{shape.measurement}", json.dumps(values), qos=0)
'''


def retry_py(shape: Shape) -> str:
    return f'''"""Retries around the network calls of {shape.name}."""

from __future__ import annotations

import logging

import tenacity
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from app.influx import InfluxHelper

log = logging.getLogger(__name__)


@retry(stop=stop_after_attempt(5), wait=wait_random_exponential(multiplier=0.5, max=10),
       retry=retry_if_exception_type(ConnectionError), reraise=True)
def write_with_retry(helper: InfluxHelper, {shape.tag}: str, values: dict[str, float]) -> None:
    helper.write({shape.tag}, values)


@tenacity.retry(stop=tenacity.stop_after_delay(30), wait=tenacity.wait_fixed(1))
async def ping_until_up(helper: InfluxHelper) -> bool:
    if not helper.ping():
        raise ConnectionError("influx not ready")
    return True


def attempts() -> int:
    return write_with_retry.retry.statistics.get("attempt_number", 0)
'''


def handler_py(shape: Shape, rng: random.Random, index: int) -> str:
    noun = rng.choice(NOUNS)
    field = rng.choice(shape.fields)
    threshold = rng.randint(10, 90)
    return f'''"""Handles {noun}s: validates, stores through the helper, publishes a summary."""

from __future__ import annotations

import json
import logging

from asyncio_mqtt import Client
from tenacity import AsyncRetrying, stop_after_attempt, wait_fixed

from app.config import Settings
from app.influx import InfluxHelper

log = logging.getLogger(__name__)
THRESHOLD = {threshold}


class {noun.title()}Handler{index}:
    def __init__(self, settings: Settings, helper: InfluxHelper) -> None:
        self.settings = settings
        self.helper = helper
        self.query_api = helper.query_api
        self.seen = 0

    def accept(self, payload: dict) -> bool:
        value = payload.get("{field}")
        return isinstance(value, (int, float)) and value < THRESHOLD * 10

    async def store(self, {shape.tag}: str, payload: dict) -> None:
        async for attempt in AsyncRetrying(stop=stop_after_attempt(3), wait=wait_fixed(0.2)):
            with attempt:
                self.helper.write({shape.tag}, {{"{field}": float(payload["{field}"])}})
        self.seen += 1

    def over_threshold(self) -> list[str]:
        flux = f\'\'\'from(bucket: "{{self.helper.bucket}}")
  |> range(start: -{{THRESHOLD}}m)
  |> filter(fn: (r) => r._measurement == "{shape.measurement}" and r._field == "{field}")
  |> filter(fn: (r) => r._value > {threshold})\'\'\'
        tables = self.query_api.query(flux)
        return sorted({{r.values.get("{shape.tag}") for t in tables for r in t.records}})

    async def summarize(self) -> None:
        async with Client(self.settings.mqtt_host) as client:
            await client.publish("{shape.name}/summary/{noun}", json.dumps({{"seen": self.seen}}))
'''


def conftest_py(shape: Shape, rng: random.Random) -> str:
    scope = rng.choice(("session", "module", "function"))
    return f'''import asyncio
from unittest.mock import MagicMock

import pytest
import pytest_asyncio

from app.config import Settings


@pytest.fixture(scope="{scope}")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def fake_client():
    fake = MagicMock(name="InfluxDBClient")
    fake.write_api.return_value.write.return_value = None
    fake.query_api.return_value.query.return_value = []
    return fake


@pytest_asyncio.fixture
async def started(settings):
    queue: asyncio.Queue = asyncio.Queue()
    yield queue
    while not queue.empty():
        queue.get_nowait()


@pytest.fixture
async def session_data():
    yield {{"{shape.tag}": "d1", "{shape.fields[0]}": 1.5}}
'''


def test_py(shape: Shape, rng: random.Random, index: int) -> str:
    field = rng.choice(shape.fields)
    parts = [
        f"""import asyncio

import pytest
import pytest_asyncio
from tenacity import RetryError

from app import retry as retries
from app.config import Settings
from app.influx import InfluxHelper


@pytest_asyncio.fixture
async def helper_{index}(fake_client, monkeypatch):
    monkeypatch.setattr("app.influx.InfluxDBClient", lambda **kw: fake_client)
    helper = InfluxHelper(Settings())
    yield helper
    helper.close()
"""
    ]
    for case in range(rng.randint(4, 8)):
        kind = rng.randrange(5)
        if kind == 0:
            parts.append(
                f'''@pytest.mark.asyncio
async def test_write_{case}(helper_{index}, fake_client):
    helper_{index}.write("d{case}", {{"{field}": {case}.5}})
    assert fake_client.write_api.return_value.write.called
'''
            )
        elif kind == 1:
            parts.append(
                f"""@pytest.mark.asyncio
async def test_loop_{case}(event_loop, started):
    await started.put({case})
    assert event_loop.is_running()
    assert await started.get() == {case}
"""
            )
        elif kind == 2:
            parts.append(
                f"""def test_retry_stats_{case}(monkeypatch):
    monkeypatch.setattr(retries.write_with_retry.retry, "sleep", lambda _: None)
    with pytest.raises(ConnectionError):
        retries.write_with_retry(None, "d{case}", {{}})
    assert retries.write_with_retry.retry.statistics["attempt_number"] >= 1
"""
            )
        elif kind == 3:
            parts.append(
                f'''@pytest.mark.asyncio(scope="module")
async def test_latest_{case}(helper_{index}, fake_client, session_data):
    fake_client.query_api.return_value.query.return_value = []
    assert helper_{index}.latest(session_data["{shape.tag}"]) == {{}}
    await asyncio.sleep(0)
'''
            )
        else:
            parts.append(
                f'''class TestGroup{case}:
    @pytest.mark.asyncio
    async def test_mean_{case}(self, helper_{index}):
        assert helper_{index}.mean("{field}", hours={case + 1}) is None

    def test_settings_{case}(self, settings):
        assert settings.bucket == "{shape.name}"
'''
            )
    return "\n\n".join(parts)


def service_files(shape: Shape, rng: random.Random) -> dict[str, str]:
    files = {
        "requirements.txt": requirements(shape),
        "requirements-dev.txt": requirements_dev(shape),
        "pytest.ini": pytest_ini(shape),
        "app/__init__.py": "",
        "app/config.py": config_py(shape),
        "app/models.py": models_py(shape, rng),
        "app/influx.py": influx_py(shape),
        "app/flux.py": flux_py(shape, rng),
        "app/mqtt.py": mqtt_py(shape),
        "app/retry.py": retry_py(shape),
        "tests/__init__.py": "",
        "tests/conftest.py": conftest_py(shape, rng),
    }
    for i in range(shape.handlers):
        files[f"app/handlers_{i}.py"] = handler_py(shape, rng, i)
    for i in range(shape.tests):
        files[f"tests/test_unit_{i}.py"] = test_py(shape, rng, i)
    return files


def make_shape(index: int, rng: random.Random) -> Shape:
    return Shape(
        name=f"svc-{index:03d}",
        measurement=rng.choice(MEASUREMENTS),
        fields=tuple(rng.sample(FIELDS, 3)),
        tag=rng.choice(TAGS),
        window=rng.choice(WINDOWS),
        mode=rng.choice(("strict", "auto")),
        tests=rng.randint(10, 16),
        handlers=rng.randint(2, 5),
    )


def generate(dest: Path, services: int = 40, seed: int = 16) -> list[Path]:
    """Write `services` generated services under `dest`; the Python files written, sorted."""
    rng = random.Random(seed)
    written = []
    for index in range(services):
        shape = make_shape(index, rng)
        for rel, text in service_files(shape, rng).items():
            path = dest / shape.name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if rel.endswith(".py"):
                written.append(path)
    return sorted(written)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--services", type=int, default=40)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    files = generate(args.dest, args.services, args.seed)
    print(f"{len(files)} Python files in {args.services} services under {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
