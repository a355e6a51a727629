"""Storage against the InfluxDB named by INFLUXDB_URL. `flux` tests read through Flux and fail
against InfluxDB 3 until the service is migrated."""

from datetime import datetime, timedelta, timezone

import pytest

from app.provider import Reading
from app.storage import WeatherStore

pytestmark = pytest.mark.influx


@pytest.fixture
def store(live_settings):
    s = WeatherStore(live_settings)
    yield s
    s.close()


def reading(city, when, temperature, humidity=50.0):
    return Reading(city, when, temperature, humidity, 2.0, "clear")


def test_ping(store):
    assert store.ping()


def test_readings_are_written(store, city):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    assert store.store([reading(city, now - timedelta(minutes=m), 10.0 + m) for m in range(3)]) == 3


@pytest.mark.flux
def test_latest_returns_newest_reading(store, city):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    store.store([reading(city, now - timedelta(hours=2), 5.0), reading(city, now - timedelta(minutes=5), 7.5, 61.0)])

    row = store.latest(city)

    assert row is not None
    assert row["temperature"] == pytest.approx(7.5)
    assert row["humidity"] == pytest.approx(61.0)


@pytest.mark.flux
def test_latest_unknown_city_is_none(store, city):
    store.store([reading(city, datetime.now(timezone.utc).replace(microsecond=0), 1.0)])
    assert store.latest(city + "x") is None


@pytest.mark.flux
def test_daily_means(store, city):
    day = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    store.store([reading(city, day + timedelta(hours=6), 10.0, 40.0),
                 reading(city, day + timedelta(hours=18), 20.0, 60.0)])

    rows = [row for row in store.daily(city, days=5) if row["day"] == day.date().isoformat()]

    assert len(rows) == 1
    assert rows[0]["temperature_mean"] == pytest.approx(15.0)
    assert rows[0]["humidity_mean"] == pytest.approx(50.0)
