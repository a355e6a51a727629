"""HTTP API of the greenhouse: the client lives on app.state from start-up; reads go through a cached
query API; the irrigation log uses lazy module getters."""

import os
from contextlib import asynccontextmanager
from functools import cached_property

from fastapi import FastAPI, Request
from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.write_api import SYNCHRONOUS

BUCKET = os.environ.get("GREENHOUSE_BUCKET", "greenhouse")
_client = None
_writer = None


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.influx = InfluxDBClient(url=os.environ["INFLUX_URL"], token=os.environ["INFLUX_TOKEN"], org="farm")
    app.state.writer = app.state.influx.write_api(write_options=SYNCHRONOUS)
    yield
    app.state.influx.close()


app = FastAPI(lifespan=lifespan)


@app.post("/vents/{bay}")
async def vent(bay: str, opening: float, request: Request):
    point = Point("vent").tag("bay", bay).field("opening", opening)
    request.app.state.writer.write(bucket=BUCKET, record=point)  # site: gh-w03
    return {"ok": True}


class Readings:
    def __init__(self, client: InfluxDBClient):
        self.client = client

    @cached_property
    def reader(self):
        return self.client.query_api()

    def fetch(self, flux: str):
        return self.reader.query(flux, org="farm")  # site: gh-k03

    def openings(self, bay: str) -> list[float]:
        # site: gh-q03
        flux = f'from(bucket: "{BUCKET}") |> range(start: -2h) |> filter(fn: (r) => r._measurement == "vent" and r.bay == "{bay}" and r._field == "opening")'
        return [rec.get_value() for table in self.fetch(flux) for rec in table.records]


def irrigation_client() -> InfluxDBClient:
    global _client
    if _client is None:
        _client = InfluxDBClient(url=os.environ["INFLUX_URL"], token=os.environ["INFLUX_TOKEN"], org="farm")
    return _client


def irrigation_writer():
    global _writer
    if _writer is None:
        _writer = irrigation_client().write_api(write_options=SYNCHRONOUS)  # site: gh-c05
    return _writer


def log_irrigation(bay: str, litres: float) -> None:
    irrigation_writer().write(bucket=BUCKET, record=f"irrigation,bay={bay} litres={litres}")  # site: gh-w04
