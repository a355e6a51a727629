"""Thin gateway over influxdb-client: every module of the service goes through it."""
from __future__ import annotations

import logging
import os
from typing import Any, Iterable

from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.write_api import ASYNCHRONOUS, WriteOptions

logger = logging.getLogger(__name__)


class InfluxGateway:
    def __init__(self, url: str | None = None, token: str | None = None, org: str | None = None, bucket: str | None = None):
        self.url = url or os.getenv("INFLUXDB_URL", "http://influxdb:8086")
        self.org = org or os.getenv("INFLUXDB_ORG", "billing")
        self.bucket = bucket or os.getenv("INFLUXDB_BUCKET", "meters")
        self._client = InfluxDBClient(url=self.url, token=token or os.getenv("INFLUXDB_TOKEN"), org=self.org)  # site: bil-c01
        self._query_api = self._client.query_api()  # site: bil-c02
        self._write_api = self._client.write_api(  # site: bil-c03
            write_options=WriteOptions(batch_size=500, flush_interval=5_000, jitter_interval=1_000, retry_interval=5_000)
        )

    def _execute_query(self, query: str) -> list[dict[str, Any]]:
        """Run Flux and return plain dict rows (one per record)."""
        logger.debug("flux: %s", query)
        tables = self._query_api.query(query, org=self.org)  # site: bil-k01
        rows = []
        for table in tables:  # site: bil-r01
            for record in table.records:
                rows.append(dict(record.values))
        return rows

    def query_frame(self, query: str):
        return self._query_api.query_data_frame(query=query, org=self.org)  # site: bil-k02

    def write_points(self, points: Iterable[Point]) -> None:
        self._write_api.write(bucket=self.bucket, org=self.org, record=list(points))  # site: bil-w01

    def write_line(self, line: str) -> None:
        self._write_api.write(self.bucket, self.org, line)  # site: bil-w02

    def close(self) -> None:
        self._write_api.flush()  # site: bil-w03
        self._write_api.close()
        self._client.close()


_gateway: InfluxGateway | None = None


def get_gateway() -> InfluxGateway:
    global _gateway
    if _gateway is None:
        _gateway = InfluxGateway()
    return _gateway
