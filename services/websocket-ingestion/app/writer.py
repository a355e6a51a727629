"""Batched writes of state changes to InfluxDB (v2 client), and reads of recent history (Flux)."""

from __future__ import annotations

import logging
from datetime import datetime

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import WriteOptions

from app.normalize import StateChange
from fleet_common.config import Settings

log = logging.getLogger(__name__)

MEASUREMENT = "home_events"


def to_point(change: StateChange) -> Point:
    point = (
        Point(MEASUREMENT)
        .tag("entity_id", change.entity_id)
        .tag("domain", change.domain)
        .field("state", change.state)
        .time(change.time, WritePrecision.MS)
    )
    if change.value is not None:
        point = point.field("value", change.value)
    unit = change.attributes.get("unit_of_measurement")
    if unit:
        point = point.field("unit", str(unit))  # a field: tags are fixed once a table exists
    return point


class EventWriter:
    def __init__(self, settings: Settings, batch_size: int = 500, flush_interval_ms: int = 1_000) -> None:
        self.bucket = settings.influx_bucket
        self.org = settings.influx_org
        self.written_batches = 0
        self.failed_batches = 0
        self.last_error: str | None = None
        self.client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token,
                                     org=settings.influx_org, timeout=10_000)
        self.write_api = self.client.write_api(
            write_options=WriteOptions(batch_size=batch_size, flush_interval=flush_interval_ms,
                                       retry_interval=1_000, max_retries=2),
            success_callback=self._on_success,
            error_callback=self._on_error,
        )
        self.query_api = self.client.query_api()

    def _on_success(self, conf, data) -> None:
        self.written_batches += 1

    def _on_error(self, conf, data, exception) -> None:
        self.failed_batches += 1
        self.last_error = f"{type(exception).__name__}: {exception}"
        log.error("batch to %s failed: %s", conf, self.last_error)

    def ping(self) -> bool:
        return self.client.ping()

    def write(self, changes: list[StateChange]) -> int:
        points = [to_point(change) for change in changes]
        self.write_api.write(bucket=self.bucket, org=self.org, record=points)
        return len(points)

    def recent(self, entity_id: str, limit: int = 20) -> list[dict]:
        """The newest states of one entity in the last 24 hours, newest first."""
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -24h)
  |> filter(fn: (r) => r._measurement == "home_events" and r._field == "state")
  |> filter(fn: (r) => r.entity_id == params.entity)
  |> sort(columns: ["_time"], desc: true)
  |> limit(n: 50)
'''
        tables = self.query_api.query(flux, org=self.org, params={"entity": entity_id})
        rows = tables.to_values(columns=["_time", "entity_id", "_value"])
        return [{"time": when.isoformat() if isinstance(when, datetime) else when, "entity_id": entity,
                 "state": state} for when, entity, state in rows[:limit]]

    def close(self) -> None:
        """Flush pending batches and close the client."""
        self.write_api.close()
        self.client.close()
