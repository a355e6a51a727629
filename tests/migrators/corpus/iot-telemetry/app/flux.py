"""Flux builders used by the repository and alert modules."""
from datetime import datetime

from app.config import INFLUX_BUCKET

LAST_SEEN_WINDOW = "-15m"


def latest_reading(device_id: str) -> str:
    # site: iot-q01
    return f'''
from(bucket: "{INFLUX_BUCKET}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "sensor" and r.device_id == "{device_id}")
  |> last()
'''


def series(device_id: str, field: str, start: datetime, stop: datetime) -> str:
    # site: iot-q02
    return f'''
from(bucket: "{INFLUX_BUCKET}")
  |> range(start: {start.isoformat()}Z, stop: {stop.isoformat()}Z)
  |> filter(fn: (r) => r._measurement == "sensor")
  |> filter(fn: (r) => r.device_id == "{device_id}" and r._field == "{field}")
  |> aggregateWindow(every: 5m, fn: mean, createEmpty: false)
'''


def hourly_means(hours: int) -> str:
    # site: iot-q03
    return f"""from(bucket: "{INFLUX_BUCKET}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r._measurement == "sensor")
  |> filter(fn: (r) => r._field == "temperature" or r._field == "humidity")
  |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")"""


def silent_devices() -> str:
    # site: iot-q04
    return (
        f'from(bucket: "{INFLUX_BUCKET}")'
        f" |> range(start: {LAST_SEEN_WINDOW})"
        ' |> filter(fn: (r) => r._measurement == "heartbeat")'
        " |> group(columns: [\"device_id\"])"
        " |> last()"
        ' |> keep(columns: ["device_id", "_time"])'
    )


def device_filter(device_ids: list[str]) -> str:
    clauses = " or ".join(f'r.device_id == "{d}"' for d in device_ids)
    # site: iot-q05
    return f"  |> filter(fn: (r) => {clauses})\n"


def battery_levels(device_ids: list[str]) -> str:
    # site: iot-q06
    return f'''from(bucket: "{INFLUX_BUCKET}")
  |> range(start: -24h)
  |> filter(fn: (r) => r._measurement == "power" and r._field == "battery_pct")
{device_filter(device_ids)}  |> last()
'''


def reading_count(device_id: str) -> str:
    # site: iot-q07
    return (
        'from(bucket: "' + INFLUX_BUCKET + '")'
        + ' |> range(start: -24h) |> filter(fn: (r) => r._measurement == "sensor" and r.device_id == "' + device_id + '")'
        + " |> count()"
    )
