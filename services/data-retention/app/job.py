"""One retention run: downsample the last N hours, expire old raw data, report what happened."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from app import expiry
from app.constants import DEFAULT_WINDOW_HOURS, FIELD, HOURLY_MEASUREMENT, MAX_WINDOW_HOURS, RAW_MEASUREMENT
from app.downsample import Downsampler
from fleet_common.influx import InfluxHelper

log = logging.getLogger(__name__)


class CommandError(ValueError):
    """A "run now" command payload that cannot be used."""


def parse_command(payload: bytes | str | None) -> dict[str, Any]:
    """`{"hours": 6}` or an empty payload (defaults)."""
    if payload in (None, b"", ""):
        return {"hours": DEFAULT_WINDOW_HOURS, "expire": True}
    try:
        data = json.loads(payload)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"command payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError("command payload must be a JSON object")
    hours = data.get("hours", DEFAULT_WINDOW_HOURS)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_WINDOW_HOURS:
        raise CommandError(f"hours must be an integer between 1 and {MAX_WINDOW_HOURS}")
    return {"hours": hours, "expire": bool(data.get("expire", True))}


class RetentionJob:
    def __init__(self, influx: InfluxHelper) -> None:
        self.influx = influx
        self.downsampler = Downsampler(influx)
        self.last_result: dict[str, Any] | None = None

    def run(self, hours: int = DEFAULT_WINDOW_HOURS, expire: bool = True) -> dict[str, Any]:
        started = time.monotonic()
        result: dict[str, Any] = {"status": "ok", "hours": hours, "hourly_points": 0, "expired_before": None,
                                  "started_at": datetime.now(timezone.utc).isoformat()}
        try:
            result["hourly_points"] = self.downsampler.run(hours)
            if expire:
                window = expiry.delete_expired(self.influx)
                result["expired_before"] = window.stop.isoformat()
        except Exception as exc:  # reported to the caller and on MQTT, never swallowed silently
            log.exception("retention run failed")
            result["status"] = "failed"
            result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        result["duration_s"] = round(time.monotonic() - started, 3)
        self.last_result = result
        return result

    def stats(self, days: int = 7) -> dict[str, Any]:
        return {
            "window_days": days,
            "raw_points": self.influx.count(RAW_MEASUREMENT, FIELD, days),
            "hourly_points": self.influx.count(HOURLY_MEASUREMENT, "mean", days),
            "retention_days": expiry.RETENTION_DAYS,
            "last_run": self.last_result,
        }
