"""Readings in InfluxDB (measurement `weather`, tag `city`). Optional: without influxdb-client the
API still serves live provider data and /health reports "degraded"."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from app.provider import Reading
from fleet_common.config import Settings

try:
    from influxdb_client import Point, WritePrecision

    from fleet_common.influx import InfluxHelper
    STORAGE_AVAILABLE = True
except ImportError:  # lets the API run without the storage extra installed
    Point = WritePrecision = InfluxHelper = None
    STORAGE_AVAILABLE = False

log = logging.getLogger(__name__)

FIELDS = ("temperature", "humidity", "wind_speed")


def to_point(reading: Reading):
    return (
        Point("weather")
        .tag("city", reading.city)
        .field("temperature", reading.temperature)
        .field("humidity", reading.humidity)
        .field("wind_speed", reading.wind_speed)
        .field("condition", reading.condition)
        .time(reading.time, WritePrecision.S)
    )


class WeatherStore:
    def __init__(self, settings: Settings) -> None:
        self.influx = InfluxHelper(settings)
        self.bucket = settings.influx_bucket

    def ping(self) -> bool:
        return self.influx.ping()

    def store(self, readings: list[Reading]) -> int:
        self.influx.write([to_point(r) for r in readings], precision=WritePrecision.S)
        return len(readings)

    def latest(self, city: str) -> dict | None:
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -7d)
  |> filter(fn: (r) => r._measurement == "weather" and r.city == "{city}")
  |> filter(fn: (r) => r._field == "temperature" or r._field == "humidity" or r._field == "wind_speed")
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
'''
        tables = self.influx.query_api.query(flux, org=self.influx.org)
        for table in tables:
            for record in table.records:
                return {"city": city, "time": record.get_time().isoformat(),
                        **{name: record.values.get(name) for name in FIELDS}}
        return None

    def daily(self, city: str, days: int) -> list[dict]:
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "weather" and r.city == "{city}")
  |> filter(fn: (r) => r._field == "temperature" or r._field == "humidity")
  |> aggregateWindow(every: 1d, fn: mean, createEmpty: false)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["_time"])
'''
        rows = []
        for table in self.influx.query_api.query(flux, org=self.influx.org):
            for record in table.records:
                day_end = record.get_time().astimezone(timezone.utc)
                rows.append({"day": (day_end - timedelta(days=1)).date().isoformat(),
                             "temperature_mean": record["temperature"], "humidity_mean": record["humidity"]})
        return rows

    def close(self) -> None:
        self.influx.close()


def open_store(settings: Settings) -> WeatherStore | None:
    if not STORAGE_AVAILABLE:
        log.warning("influxdb-client is not installed: storage disabled, serving live data only")
        return None
    return WeatherStore(settings)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
