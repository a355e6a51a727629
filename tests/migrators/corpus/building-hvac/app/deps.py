"""FastAPI dependencies: one client per process, handed to routes via Depends."""
import os
from functools import lru_cache

from influxdb_client import InfluxDBClient
from influxdb_client.client.query_api import QueryApi


@lru_cache(maxsize=1)
def get_client() -> InfluxDBClient:
    return InfluxDBClient(  # site: hvac-c01
        url=os.environ["INFLUXDB_URL"],
        token=os.environ["INFLUXDB_TOKEN"],
        org=os.environ.get("INFLUXDB_ORG", "facilities"),
    )


def get_query_api() -> QueryApi:
    return get_client().query_api()  # site: hvac-c02


ORG = os.environ.get("INFLUXDB_ORG", "facilities")
BUCKET = os.environ.get("INFLUXDB_BUCKET", "hvac")
