import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    influx_url: str = os.getenv("INFLUX_URL", "http://localhost:8086")
    influx_token: str = os.getenv("INFLUX_TOKEN", "")
    influx_org: str = os.getenv("INFLUX_ORG", "fleet")
    bucket: str = os.getenv("INFLUX_BUCKET", "gps")


settings = Settings()
