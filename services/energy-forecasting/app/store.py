"""InfluxDB access: meter readings in (`power`, field `energy_wh`, tag `circuit`), hourly sums out
through query_data_frame, forecasts written back as a DataFrame (`energy_forecast`)."""

from __future__ import annotations

import logging
from datetime import datetime

import pandas as pd
from influxdb_client import Point, WritePrecision

from fleet_common.config import Settings
from fleet_common.influx import InfluxHelper

log = logging.getLogger(__name__)


def reading_points(readings: list[dict]) -> list[Point]:
    points = []
    for reading in readings:
        when = reading["time"]
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        points.append(Point("power").tag("circuit", reading["circuit"])
                      .field("energy_wh", float(reading["energy_wh"])).time(when, WritePrecision.S))
    return points


class EnergyStore:
    def __init__(self, settings: Settings) -> None:
        self.influx = InfluxHelper(settings)
        self.bucket = settings.influx_bucket

    def ping(self) -> bool:
        return self.influx.ping()

    def add_readings(self, readings: list[dict]) -> int:
        points = reading_points(readings)
        self.influx.write(points, precision=WritePrecision.S)
        return len(points)

    def hourly_consumption(self, days: int) -> pd.DataFrame:
        """Hourly energy per circuit: columns time, circuit, energy_wh."""
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "power" and r._field == "energy_wh")
  |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)
  |> keep(columns: ["_time", "_value", "circuit"])
'''
        frame = self.influx.query_api.query_data_frame(flux, org=self.influx.org)
        if isinstance(frame, list):  # one frame per table schema
            frame = pd.concat(frame, ignore_index=True) if frame else pd.DataFrame()
        if frame.empty:
            return pd.DataFrame(columns=["time", "circuit", "energy_wh"])
        frame = frame.rename(columns={"_time": "time", "_value": "energy_wh"})
        return frame[["time", "circuit", "energy_wh"]].reset_index(drop=True)

    def write_forecast(self, forecast: pd.DataFrame) -> int:
        if forecast.empty:
            return 0
        frame = forecast.set_index("time")
        self.influx.write_api.write(bucket=self.bucket, org=self.influx.org, record=frame,
                                    data_frame_measurement_name="energy_forecast",
                                    data_frame_tag_columns=["circuit"], write_precision=WritePrecision.S)
        return len(frame)

    def close(self) -> None:
        self.influx.close()
