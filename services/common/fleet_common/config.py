"""Settings from the environment only (INFLUXDB_* and MQTT_*), shared by every service."""

from __future__ import annotations

import os
from dataclasses import dataclass


class SettingsError(RuntimeError):
    """A required environment variable is missing or unusable."""


@dataclass(frozen=True)
class Settings:
    influx_url: str
    influx_token: str
    influx_org: str
    influx_bucket: str
    mqtt_host: str
    mqtt_port: int

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        url = env.get("INFLUXDB_URL") or env.get("INFLUXDB_HOST") or "http://localhost:8086"
        if "://" not in url:
            url = f"http://{url}"
        bucket = env.get("INFLUXDB_BUCKET") or env.get("INFLUXDB_DATABASE") or "home"
        try:
            port = int(env.get("MQTT_PORT", "1883"))
        except ValueError as exc:
            raise SettingsError(f"MQTT_PORT must be an integer, got {env.get('MQTT_PORT')!r}") from exc
        return cls(
            influx_url=url,
            influx_token=env.get("INFLUXDB_TOKEN", ""),
            influx_org=env.get("INFLUXDB_ORG", "home"),
            influx_bucket=bucket,
            mqtt_host=env.get("MQTT_HOST", "localhost"),
            mqtt_port=port,
        )
