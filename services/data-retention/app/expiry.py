"""Expiry of raw data: the ONE place this service deletes points.

With InfluxDB 2 the service deletes raw points older than the retention window itself, through
`delete_api` and a predicate. InfluxDB 3 has no predicate delete: there, retention is a property
of the database (a retention period set when the database is created), and expired points are
dropped by the server. See README.md, "Expiry on InfluxDB 3". Everything else in the service
talks to InfluxDB through fleet_common; keep deletes here so that moving to a retention period is a
change to this file only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from app.constants import RAW_MEASUREMENT, RETENTION_DAYS
from fleet_common.influx import InfluxHelper

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ExpiryWindow:
    start: datetime
    stop: datetime
    predicate: str


def expiry_window(now: datetime | None = None, retention_days: int = RETENTION_DAYS,
                  measurement: str = RAW_MEASUREMENT) -> ExpiryWindow:
    now = now or datetime.now(timezone.utc)
    return ExpiryWindow(start=EPOCH, stop=now - timedelta(days=retention_days),
                        predicate=f'_measurement="{measurement}"')


def delete_expired(influx: InfluxHelper, now: datetime | None = None,
                   retention_days: int = RETENTION_DAYS) -> ExpiryWindow:
    """Delete raw points older than the retention window."""
    window = expiry_window(now, retention_days)
    delete_api = influx.client.delete_api()
    delete_api.delete(window.start, window.stop, window.predicate, bucket=influx.bucket, org=influx.org)
    log.info("deleted %s before %s", window.predicate, window.stop.isoformat())
    return window
