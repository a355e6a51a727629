"""Writes and Flux reads against the InfluxDB named by INFLUXDB_URL.

Writes use the v2 write endpoint and work on InfluxDB 2 and 3. Tests marked `flux` read through
Flux (or delete through /api/v2/delete): InfluxDB 3 has neither, so they fail until the service
is migrated.
"""

from datetime import datetime, timedelta, timezone

import pytest

from app.downsample import Downsampler, raw_points
from app.expiry import delete_expired
from app.job import RetentionJob
from fleet_common.influx import InfluxHelper

pytestmark = pytest.mark.influx


@pytest.fixture
def influx(live_settings):
    helper = InfluxHelper(live_settings)
    yield helper
    helper.close()


def two_hours_ago_readings(sensor: str, values: list[float]) -> tuple[list[dict], datetime]:
    hour_start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    readings = [{"sensor": sensor, "value": v, "time": (hour_start + timedelta(minutes=10 * (i + 1))).isoformat()}
                for i, v in enumerate(values)]
    return readings, hour_start + timedelta(hours=1)


def test_ping(influx):
    assert influx.ping()


def test_raw_readings_are_accepted(influx, sensor_id):
    readings, _ = two_hours_ago_readings(sensor_id, [1.0, 2.0, 3.0])
    influx.write(raw_points(readings), precision="s")


@pytest.mark.flux
def test_hourly_means(influx, sensor_id):
    readings, window_end = two_hours_ago_readings(sensor_id, [1.0, 2.0, 6.0])
    influx.write(raw_points(readings), precision="s")

    means = [m for m in Downsampler(influx).hourly_means(hours=6) if m.sensor == sensor_id]

    assert len(means) == 1
    assert means[0].mean == pytest.approx(3.0)
    assert means[0].time.replace(tzinfo=timezone.utc) == window_end


@pytest.mark.flux
def test_downsample_writes_hourly_points(influx, sensor_id):
    readings, window_end = two_hours_ago_readings(sensor_id, [10.0, 20.0])
    influx.write(raw_points(readings), precision="s")

    assert Downsampler(influx).run(hours=6) >= 1

    latest = influx.latest("sensor_readings_hourly", "mean", "sensor", sensor_id)
    assert latest is not None
    assert latest[1] == pytest.approx(15.0)


@pytest.mark.flux
def test_stats_count_raw_points(influx, sensor_id):
    readings, _ = two_hours_ago_readings(sensor_id, [1.0, 1.0, 1.0, 1.0])
    influx.write(raw_points(readings), precision="s")

    stats = RetentionJob(influx).stats(days=1)

    assert stats["raw_points"] >= 4


@pytest.mark.flux
def test_expired_raw_data_is_deleted(influx, sensor_id):
    old = datetime.now(timezone.utc) - timedelta(days=40)
    influx.write(raw_points([{"sensor": sensor_id, "value": 1.0, "time": old.isoformat()}]), precision="s")

    window = delete_expired(influx)

    assert window.stop < datetime.now(timezone.utc) - timedelta(days=29)
