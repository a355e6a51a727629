"""InfluxDB helper on the v2 client (influxdb-client): one client, synchronous writes, Flux reads.

Services create one `InfluxHelper` at start-up and close it on shutdown.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from fleet_common.config import Settings

log = logging.getLogger(__name__)


class InfluxHelper:
    def __init__(self, settings: Settings, timeout_ms: int = 10_000) -> None:
        self.bucket = settings.influx_bucket
        self.org = settings.influx_org
        self.client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token,
                                     org=settings.influx_org, timeout=timeout_ms)
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self.query_api = self.client.query_api()

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception as exc:  # connection refused, DNS, timeout: not reachable
            log.debug("influx ping failed: %s", exc)
            return False

    def write(self, records: Point | Iterable[Point] | str, precision: str = WritePrecision.NS) -> None:
        try:
            self.write_api.write(bucket=self.bucket, org=self.org, record=records, write_precision=precision)
        except ApiException as exc:
            log.error("influx write rejected: %s %s", exc.status, exc.body)
            raise

    def latest(self, measurement: str, field: str, tag: str, value: str) -> tuple[datetime, float] | None:
        """The newest value of one field for one series in the last 30 days."""
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -30d)
  |> filter(fn: (r) => r._measurement == "{measurement}")
  |> filter(fn: (r) => r._field == "{field}")
  |> filter(fn: (r) => r.{tag} == "{value}")
  |> last()
'''
        tables = self.query_api.query(flux, org=self.org)
        for table in tables:
            for record in table.records:
                return record.get_time(), record.get_value()
        return None

    def count(self, measurement: str, field: str, days: int) -> int:
        """How many points one field has in the last `days` days, over all series."""
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "{measurement}" and r._field == "{field}")
  |> group()
  |> count()
'''
        total = 0
        for table in self.query_api.query(flux, org=self.org):
            for record in table.records:
                total += int(record.get_value())
        return total

    def close(self) -> None:
        self.write_api.close()
        self.client.close()
