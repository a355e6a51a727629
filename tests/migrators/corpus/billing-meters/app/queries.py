"""Flux templates shared by the usage and invoice modules."""

DAILY_USAGE = """
from(bucket: "{bucket}")
  |> range(start: {start}, stop: {stop})
  |> filter(fn: (r) => r._measurement == "meter_reading" and r.meter_id == "{meter_id}")
  |> filter(fn: (r) => r._field == "kwh")
  |> aggregateWindow(every: 1d, fn: sum, createEmpty: false)
"""  # site: bil-q01

PEAK_DEMAND = """
from(bucket: "%(bucket)s")
  |> range(start: -%(days)dd)
  |> filter(fn: (r) => r._measurement == "meter_reading" and r._field == "kw")
  |> group(columns: ["meter_id"])
  |> max()
"""  # site: bil-q02

TARIFF_FIELDS = 'from(bucket: "tariffs") |> range(start: -365d) |> filter(fn: (r) => r._measurement == "tariff")'  # site: bil-q03

METER_IDS = """import "influxdata/influxdb/schema"
schema.tagValues(bucket: "meters", tag: "meter_id", predicate: (r) => r._measurement == "meter_reading")
"""  # site: bil-q04


def usage_between(bucket: str, meter_id: str, start: str, stop: str) -> str:
    return DAILY_USAGE.format(bucket=bucket, start=start, stop=stop, meter_id=meter_id)
