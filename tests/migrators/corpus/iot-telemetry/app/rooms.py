"""Per-room summaries used by the facilities dashboard."""
from app.db import BUCKET, ORG, query_api


def room_summary(room: str, hours: int = 12) -> dict:
    # site: iot-q17
    flux = f"""
from(bucket: "{BUCKET}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r._measurement == "sensor" and r.room == "{room}")
  |> filter(fn: (r) => r._field == "temperature" or r._field == "humidity" or r._field == "co2")
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
"""
    for table in query_api.query(flux, org=ORG):  # site: iot-k12
        for record in table.records:
            return {k: record.values.get(k) for k in ("temperature", "humidity", "co2")}
    return {}


def rooms() -> list[str]:
    # site: iot-q18
    flux = 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "telemetry", tag: "room")'
    return [r.get_value() for t in query_api.query(flux, org=ORG) for r in t.records]
