"""BACnet gateway ingestion: the event loop must never block on a write."""
import asyncio
import functools
import logging

from influxdb_client import Point
from influxdb_client.client.write_api import SYNCHRONOUS

from app.deps import BUCKET, ORG, get_client

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(self, client=None):
        self.client = client or get_client()
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)  # site: hvac-c06

    async def zone_reading(self, building: str, zone: str, temp_c: float, rh_pct: float) -> None:
        point = Point("zone").tag("building", building).tag("zone", zone).field("temp_c", temp_c).field("rh_pct", rh_pct)
        await asyncio.to_thread(self.write_api.write, bucket=BUCKET, org=ORG, record=point)  # site: hvac-w02

    async def batch(self, lines: list[str]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(self.write_api.write, BUCKET, ORG, lines))  # site: hvac-w03

    async def alarms(self, alarms: list[dict]) -> None:
        points = [Point("alarm").tag("zone", a["zone"]).field("code", a["code"]) for a in alarms]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self.write_api.write(bucket=BUCKET, org=ORG, record=points))  # site: hvac-w04

    def close(self) -> None:
        self.write_api.close()  # site: hvac-w05
