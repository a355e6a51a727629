"""CSV export of raw readings, streamed so a month of data never sits in memory."""
import csv
import io

from app import db


def stream_readings(device_id: str, days: int = 30):
    # site: iot-q15
    flux = f"""
from(bucket: "{db.BUCKET}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "sensor" and r.device_id == "{device_id}")
  |> drop(columns: ["_start", "_stop"])
"""
    for record in db.query_api.query_stream(flux, org=db.ORG):  # site: iot-k10
        yield record.get_time(), record.get_field(), record.get_value()


def to_csv(device_id: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in stream_readings(device_id):
        writer.writerow(row)  # site: iot-d02
    return buf.getvalue()


def converted(device_id: str) -> list[dict]:
    # site: iot-q16
    flux = f'''from(bucket: "{db.BUCKET}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "sensor" and r._field == "temperature" and r.device_id == "{device_id}")
  |> map(fn: (r) => ({{ r with _value: r._value * 1.8 + 32.0 }}))
  |> yield(name: "fahrenheit")'''
    return [{"t": r.get_time(), "f": r.get_value()} for r in db.client.query_api().query(flux, org=db.ORG)[0].records]  # site: iot-k11
