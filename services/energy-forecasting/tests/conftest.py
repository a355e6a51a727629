import os
import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from fleet_common.config import Settings


def history(circuits=("kitchen", "heat_pump"), days=3, end=datetime(2024, 1, 10, tzinfo=timezone.utc)):
    rows = []
    for day in range(days):
        for hour in range(24):
            when = end - timedelta(days=days - day) + timedelta(hours=hour)
            for index, circuit in enumerate(circuits):
                rows.append({"time": when, "circuit": circuit, "energy_wh": 100.0 * (index + 1) + hour + day})
    return pd.DataFrame(rows)


class FakeStore:
    def __init__(self, settings=None, reachable=True, frame=None):
        self.reachable = reachable
        self.frame = history() if frame is None else frame
        self.readings = []
        self.forecasts = []
        self.closed = False

    def ping(self):
        return self.reachable

    def add_readings(self, readings):
        self.readings.extend(readings)
        return len(readings)

    def hourly_consumption(self, days):
        return self.frame

    def write_forecast(self, forecast):
        self.forecasts.append(forecast)
        return len(forecast)

    def close(self):
        self.closed = True


@pytest.fixture
def live_settings() -> Settings:
    if not os.environ.get("INFLUXDB_URL"):
        pytest.fail("INFLUXDB_URL is not set: integration tests need the sandbox dependencies "
                    "(or deselect them with -m 'not influx')", pytrace=False)
    return Settings.from_env()


@pytest.fixture
def circuit() -> str:
    return f"circuit_{uuid.uuid4().hex[:8]}"
