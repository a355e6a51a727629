"""Climate store of the greenhouse controller: one client for the process, typed attributes."""

import logging
import os

from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.query_api import QueryApi
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi

log = logging.getLogger(__name__)


class ClimateStore:
    def __init__(self) -> None:
        self.bucket: str = os.environ.get("GREENHOUSE_BUCKET", "greenhouse")
        self.client: InfluxDBClient = InfluxDBClient(  # site: gh-c01
            url=os.environ["INFLUX_URL"], token=os.environ["INFLUX_TOKEN"], org="farm"
        )
        self.qapi: QueryApi = self.client.query_api()  # site: gh-c02
        self.writer: WriteApi = self.client.write_api(write_options=SYNCHRONOUS)  # site: gh-c03

    def record(self, bay: str, temp_c: float, rh_pct: float) -> None:
        point = Point("bay_climate").tag("bay", bay).field("temp_c", temp_c).field("rh_pct", rh_pct)
        self.writer.write(bucket=self.bucket, record=point)  # site: gh-w01

    def run(self, flux: str):
        log.debug("flux: %s", flux)
        return self.qapi.query(flux, org="farm")  # site: gh-k01

    def temperatures(self, bay: str) -> list[float]:
        # site: gh-q01
        flux = (
            f'from(bucket: "{self.bucket}") |> range(start: -30m) '
            f'|> filter(fn: (r) => r._measurement == "bay_climate" and r.bay == "{bay}" and r._field == "temp_c")'
        )
        return [rec.get_value() for table in self.run(flux) for rec in table.records]

    def humidity(self, bay: str) -> list[dict]:
        # site: gh-q02
        query: str = (
            f'from(bucket: "{self.bucket}") |> range(start: -6h) '
            f'|> filter(fn: (r) => r._measurement == "bay_climate" and r.bay == "{bay}" and r._field == "rh_pct")'
        )
        tables = self.client.query_api().query(query)  # site: gh-k02
        out: list[dict] = []
        for table in tables:  # site: gh-r01
            for rec in table.records:
                out.append({"time": rec.get_time(), "rh": rec.get_value()})
        return out
