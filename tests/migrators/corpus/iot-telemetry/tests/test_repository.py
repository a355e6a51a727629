from unittest.mock import MagicMock, patch

import pytest

from app import flux as fluxq


class FakeRecord:
    def __init__(self, field, value, time=None, **values):
        self._field, self._value, self._time = field, value, time
        self.values = {"_field": field, "_value": value, **values}

    def get_field(self):
        return self._field

    def get_value(self):
        return self._value

    def get_time(self):
        return self._time

    def __getitem__(self, key):
        return self.values[key]


class FakeTable:
    def __init__(self, records):
        self.records = records  # site: iot-m01


@pytest.fixture
def repo():
    with patch("app.db.client") as client:  # site: iot-m02
        from app.repository import TelemetryRepository

        r = TelemetryRepository()
        r.query_api = MagicMock()
        yield r


def test_battery(repo):
    repo.query_api.query.return_value = [FakeTable([FakeRecord("battery_pct", 80, device_id="d1")])]  # site: iot-m03
    assert repo.battery(["d1"]) == {"d1": 80}


def test_latest_reading_flux():
    flux = fluxq.latest_reading("d1")
    assert 'r.device_id == "d1"' in flux  # site: iot-a01
    assert "|> last()" in flux  # site: iot-a02


def test_count_flux():
    assert fluxq.reading_count("d9").endswith("|> count()")  # site: iot-a03
