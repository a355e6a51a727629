"""Settings from the environment contract only."""

from __future__ import annotations

import os
from dataclasses import dataclass

DOWNSTREAM_URL = "http://homeassistant:8123"


@dataclass(frozen=True)
class Config:
    influx_url: str
    influx_token: str
    influx_org: str
    influx_bucket: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        return cls(
            influx_url=env.get("INFLUXDB_URL") or env.get("INFLUXDB_HOST") or "http://localhost:8086",
            influx_token=env.get("INFLUXDB_TOKEN", ""),
            influx_org=env.get("INFLUXDB_ORG", "home"),
            influx_bucket=env.get("INFLUXDB_BUCKET") or env.get("INFLUXDB_DATABASE") or "edge",
        )
