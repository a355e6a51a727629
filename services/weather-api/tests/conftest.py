import os
import uuid

import pytest

from fleet_common.config import Settings


class FakeStore:
    def __init__(self, settings=None, reachable=True):
        self.reachable = reachable
        self.readings = []
        self.closed = False

    def ping(self):
        return self.reachable

    def store(self, readings):
        self.readings.extend(readings)
        return len(readings)

    def latest(self, city):
        matching = [r for r in self.readings if r.city == city]
        if not matching:
            return None
        newest = max(matching, key=lambda r: r.time)
        return {"city": city, "time": newest.time.isoformat(), "temperature": newest.temperature}

    def daily(self, city, days):
        return []

    def close(self):
        self.closed = True


@pytest.fixture
def live_settings() -> Settings:
    if not os.environ.get("INFLUXDB_URL"):
        pytest.fail("INFLUXDB_URL is not set: integration tests need the sandbox dependencies "
                    "(or deselect them with -m 'not influx')", pytrace=False)
    return Settings.from_env()


@pytest.fixture
def city() -> str:
    return f"testcity{uuid.uuid4().hex[:8]}"
