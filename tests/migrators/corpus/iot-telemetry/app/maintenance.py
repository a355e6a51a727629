"""Nightly housekeeping: purge test devices, report stale sensors."""
from datetime import datetime, timezone

from influxdb_client import InfluxDBClient


def purge_device(client: InfluxDBClient, device_id: str, bucket: str, org: str) -> None:
    start = datetime(1970, 1, 1, tzinfo=timezone.utc)
    stop = datetime.now(timezone.utc)
    client.delete_api().delete(start, stop, f'device_id="{device_id}"', bucket=bucket, org=org)  # site: iot-x01


def stale_sensors(client: InfluxDBClient, bucket: str, org: str, days: int = 2) -> list[str]:
    # site: iot-q13
    flux = 'from(bucket: "%s") |> range(start: -%dd) |> filter(fn: (r) => r._measurement == "heartbeat") |> first()' % (bucket, days)
    tables = client.query_api().query(flux, org=org)  # site: iot-k08
    return [record.values.get("device_id") for table in tables for record in table.records]


def firmware_versions(client, bucket, org):
    # site: iot-q14
    flux = f'''import "influxdata/influxdb/schema"
schema.tagValues(bucket: "{bucket}", tag: "firmware")'''
    return [r.get_value() for t in client.query_api().query(flux, org=org) for r in t.records]  # site: iot-k09
