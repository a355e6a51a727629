"""Lazy helper around influxdb-client (the client is only built on first use)."""
import os

INFLUX_URL = os.getenv("INFLUX_URL", "http://influxdb:8086")
INFLUX_TOKEN = os.getenv("INFLUX_TOKEN", "")
INFLUX_ORG = os.getenv("INFLUX_ORG", "solar")


class InfluxHelper:
    def __init__(self):
        self._client = None

    def _get_client(self):
        if not self._client:
            from influxdb_client import InfluxDBClient

            self._client = InfluxDBClient(url=INFLUX_URL, token=INFLUX_TOKEN, org=INFLUX_ORG)  # site: sol-c01
        return self._client

    def query(self, flux_query: str, params: dict | None = None) -> list[dict]:
        tables = self._get_client().query_api().query(flux_query, params=params)  # site: sol-k01
        return [record.values for table in tables for record in table.records]  # site: sol-r01


helper = InfluxHelper()
