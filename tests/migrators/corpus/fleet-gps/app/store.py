"""Position store; the client is built lazily behind properties."""
from functools import cached_property

from influxdb_client import InfluxDBClient as idbc
from influxdb_client.client.write_api import SYNCHRONOUS

from app.settings import Settings, settings


class PositionStore:
    def __init__(self, cfg: Settings = settings):
        self.cfg = cfg

    @cached_property
    def client(self) -> idbc:
        return idbc(url=self.cfg.influx_url, token=self.cfg.influx_token, org=self.cfg.influx_org)  # site: gps-c01

    @property
    def query_api(self):
        return self.client.query_api()  # site: gps-c02

    @property
    def writer(self):
        return self.client.write_api(write_options=SYNCHRONOUS)  # site: gps-c03

    def query(self, flux: str):
        return self.query_api.query(flux, org=self.cfg.influx_org)  # site: gps-k01

    def record_fix(self, vehicle_id: str, lat: float, lon: float, speed: float, ts: int) -> None:
        line = f"position,vehicle_id={vehicle_id} lat={lat},lon={lon},speed={speed} {ts}"
        self.writer.write(bucket=self.cfg.bucket, org=self.cfg.influx_org, record=line, write_precision="s")  # site: gps-w01

    def record_fixes(self, lines: list[str]) -> None:
        # the client lives as long as the store: a write block must not close it
        with self.client.write_api(write_options=SYNCHRONOUS) as batch:  # site: gps-w04
            batch.write(self.cfg.bucket, self.cfg.influx_org, lines)  # site: gps-w05
