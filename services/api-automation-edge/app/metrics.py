"""Call metrics in InfluxDB (measurement `edge_calls`) through the v2 client."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from app.config import Config

log = logging.getLogger(__name__)


def call_point(automation_id: str, outcome: str, attempts: int, duration_ms: float,
               when: datetime | None = None) -> Point:
    return (
        Point("edge_calls")
        .tag("automation", automation_id)
        .tag("outcome", outcome)
        .field("attempts", attempts)
        .field("duration_ms", float(duration_ms))
        .time(when or datetime.now(timezone.utc), WritePrecision.MS)
    )


class MetricsRecorder:
    def __init__(self, config: Config) -> None:
        self.bucket = config.influx_bucket
        self.org = config.influx_org
        self.client = InfluxDBClient(url=config.influx_url, token=config.influx_token, org=config.influx_org,
                                     timeout=5_000)
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self.dropped = 0

    def ping(self) -> bool:
        return self.client.ping()

    def record(self, point: Point) -> bool:
        """Write one point, retrying once; a metrics outage never fails the call itself."""
        try:
            for attempt in Retrying(stop=stop_after_attempt(2), wait=wait_fixed(0.2),
                                    retry=retry_if_exception_type(ApiException), reraise=True):
                with attempt:
                    self.write_api.write(bucket=self.bucket, org=self.org, record=point)
        except Exception as exc:
            self.dropped += 1
            log.warning("metrics point dropped: %s", exc)
            return False
        return True

    def summary(self, hours: int) -> dict[str, int]:
        """Calls per outcome in the last `hours` hours."""
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r._measurement == "edge_calls" and r._field == "attempts")
  |> group(columns: ["outcome"])
  |> count()
'''
        counts: dict[str, int] = {}
        for table in self.client.query_api().query(flux, org=self.org):
            for record in table.records:
                counts[record.values["outcome"]] = int(record.get_value())
        return counts

    def close(self) -> None:
        self.write_api.close()
        self.client.close()
