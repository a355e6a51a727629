import os
import uuid

import pytest

from fleet_common.config import Settings


class FakeInflux:
    """Stands in for fleet_common.influx.InfluxHelper in unit tests."""

    bucket = "test"
    org = "test"

    def __init__(self, settings=None, reachable=True, means=None):
        self.reachable = reachable
        self.written = []
        self.means = means or []
        self.closed = False

    def ping(self):
        return self.reachable

    def write(self, records, precision="ns"):
        self.written.extend(records if isinstance(records, list) else [records])

    def count(self, measurement, field, days):
        return len(self.written)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_influx():
    return FakeInflux()


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: integration tests need the sandbox dependencies "
                    f"(or deselect them with -m 'not influx and not mqtt')", pytrace=False)
    return value


@pytest.fixture
def live_settings() -> Settings:
    _require("INFLUXDB_URL")
    _require("MQTT_HOST")
    return Settings.from_env()


@pytest.fixture
def sensor_id() -> str:
    return f"sensor-{uuid.uuid4().hex[:10]}"
