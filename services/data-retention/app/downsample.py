"""Downsample raw sensor readings into hourly means (Flux aggregateWindow) and write them back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from influxdb_client import Point, WritePrecision

from app.constants import FIELD, HOURLY_MEASUREMENT, RAW_MEASUREMENT
from fleet_common.influx import InfluxHelper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HourlyMean:
    sensor: str
    time: datetime
    mean: float


def build_hourly_points(means: list[HourlyMean]) -> list[Point]:
    """One point per sensor and hour; the time is the end of the hour (Flux's window label)."""
    points = []
    for item in means:
        if item.mean is None:
            continue
        when = item.time if item.time.tzinfo else item.time.replace(tzinfo=timezone.utc)
        points.append(
            Point(HOURLY_MEASUREMENT)
            .tag("sensor", item.sensor)
            .field("mean", float(item.mean))
            .time(when, WritePrecision.S)
        )
    return points


class Downsampler:
    def __init__(self, influx: InfluxHelper) -> None:
        self.influx = influx

    def hourly_means(self, hours: int) -> list[HourlyMean]:
        bucket = self.influx.bucket
        flux = f'''
from(bucket: "{bucket}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r._measurement == "sensor_readings")
  |> filter(fn: (r) => r._field == "value")
  |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
'''
        tables = self.influx.query_api.query(flux, org=self.influx.org)
        means = []
        for table in tables:
            for record in table.records:
                means.append(HourlyMean(sensor=record["sensor"], time=record.get_time(),
                                        mean=record.get_value()))
        return means

    def run(self, hours: int) -> int:
        means = self.hourly_means(hours)
        points = build_hourly_points(means)
        if points:
            self.influx.write(points, precision=WritePrecision.S)
        log.info("downsampled %s raw series-hours from %s into %s (%s points)",
                 len(means), RAW_MEASUREMENT, HOURLY_MEASUREMENT, len(points))
        return len(points)


def raw_points(readings: list[dict]) -> list[Point]:
    """Raw readings posted by importers: {"sensor": str, "value": number, "time": iso8601?}."""
    points = []
    for reading in readings:
        point = Point(RAW_MEASUREMENT).tag("sensor", str(reading["sensor"])).field(FIELD, float(reading["value"]))
        if reading.get("time"):
            when = reading["time"]
            if isinstance(when, str):
                when = datetime.fromisoformat(when.replace("Z", "+00:00"))
            point = point.time(when, WritePrecision.S)
        points.append(point)
    return points
