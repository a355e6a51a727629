import functools
import logging
import asyncio

from app.db import client, ORG, BUCKET

log = logging.getLogger(__name__)

OVERHEAT_QUERY = """
from(bucket: "telemetry")
  |> range(start: -10m)
  |> filter(fn: (r) => r._measurement == "sensor" and r._field == "temperature")
  |> filter(fn: (r) => r._value > 70.0)
"""  # site: iot-q11

HUMIDITY_QUERY = (  # site: iot-q12
    'from(bucket: "{bucket}") |> range(start: -{minutes}m) '
    '|> filter(fn: (r) => r._measurement == "sensor" and r._field == "humidity") '
    "|> mean()"
)


def _query_api():
    # factory: every caller gets the same query API of the singleton client
    return client.query_api()  # site: iot-c04


async def overheated() -> list[str]:
    loop = asyncio.get_running_loop()
    tables = await loop.run_in_executor(None, functools.partial(_query_api().query, OVERHEAT_QUERY, org=ORG))  # site: iot-k06
    return [rec.values["device_id"] for table in tables for rec in table.records]  # site: iot-r07


async def humidity_mean(minutes: int = 30) -> float | None:
    q = HUMIDITY_QUERY.format(bucket=BUCKET, minutes=minutes)
    loop = asyncio.get_running_loop()
    tables = await loop.run_in_executor(None, lambda: _query_api().query(q, org=ORG))  # site: iot-k07
    for table in tables:
        for record in table.records:
            return record.get_value()
    return None


def write_alert(device_id: str, reason: str, severity: int) -> None:
    from influxdb_client import Point

    point = Point("alert").tag("device_id", device_id).field("reason", reason).field("severity", severity)
    client.write_api().write(bucket=BUCKET, org=ORG, record=point)  # site: iot-w02
