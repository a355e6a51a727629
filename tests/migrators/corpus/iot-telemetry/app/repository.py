import asyncio
import logging
from datetime import datetime, timedelta, timezone

from app import db
from app import flux as fluxq

log = logging.getLogger(__name__)


class TelemetryRepository:
    """Reads sensor data; the API and the alert loop share one instance."""

    def __init__(self, bucket: str = db.BUCKET, org: str = db.ORG):
        self.bucket = bucket
        self.org = org
        self.query_api = db.query_api

    async def latest(self, device_id: str) -> dict:
        q = fluxq.latest_reading(device_id)
        tables = await asyncio.to_thread(self.query_api.query, query=q, org=self.org)  # site: iot-k01
        out = {}
        for table in tables:  # site: iot-r01
            for record in table.records:
                out[record.get_field()] = record.get_value()
        return out

    async def series(self, device_id: str, field: str, hours: int = 6) -> list[dict]:
        stop = datetime.utcnow()
        start = stop - timedelta(hours=hours)
        series_flux = fluxq.series(device_id, field, start, stop)
        tables = await asyncio.to_thread(self.query_api.query, query=series_flux, org=self.org)  # site: iot-k02
        return [  # site: iot-r02
            {"time": rec.get_time().isoformat(), "value": rec.get_value()}
            for table in tables
            for rec in table.records
        ]

    def hourly_frame(self, hours: int = 24):
        # query_data_frame returns a DataFrame (or a list of them when the result has several tables)
        df = self.query_api.query_data_frame(fluxq.hourly_means(hours), org=self.org)  # site: iot-k03
        if isinstance(df, list):
            df = df[0]
        return df.drop(columns=["result", "table"], errors="ignore")

    def silent_devices(self) -> list[str]:
        tables = self.query_api.query(fluxq.silent_devices(), org=self.org)  # site: iot-k04
        return sorted({r.values.get("device_id") for t in tables for r in t.records})  # site: iot-r03

    def battery(self, device_ids: list[str]) -> dict[str, float]:
        tables = self.query_api.query(fluxq.battery_levels(device_ids), org=self.org)  # site: iot-k05
        return {r["device_id"]: r["_value"] for t in tables for r in t.records}  # site: iot-r04

    def reading_count(self, device_id: str) -> int:
        tables = self.query_api.query(fluxq.reading_count(device_id), org=self.org)
        # to_values flattens every table into rows of the named columns
        rows = tables.to_values(columns=["_value"])  # site: iot-r05
        return int(rows[0][0]) if rows else 0

    def temperatures_since(self, since: datetime) -> list[float]:
        # site: iot-q08
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: time(v: "{since.isoformat()}"))
  |> filter(fn: (r) => r._measurement == "sensor" and r._field == "temperature")
  |> filter(fn: (r) => exists r.room)
'''
        return [r.get_value() for r in self._records(flux)]

    def _records(self, flux: str):
        # generator helper: callers iterate the records without seeing tables
        for table in self.query_api.query(flux, org=self.org):  # site: iot-r06
            yield from table.records

    def max_by_room(self, start: str = "-7d") -> dict:
        # site: iot-q09
        flux = f"""from(bucket: "{self.bucket}")
  |> range(start: {start})
  |> filter(fn: (r) => r._measurement == "sensor" and r._field == "temperature")
  |> group(columns: ["room"])
  |> max()
  |> sort(columns: ["_value"], desc: true)
  |> limit(n: 10)"""
        return {r.values.get("room"): r.get_value() for r in self._records(flux)}

    def measurements(self) -> list[str]:
        # site: iot-q10
        flux = 'import "influxdata/influxdb/schema"\nschema.measurements(bucket: "%s")' % self.bucket
        return [r.get_value() for r in self._records(flux)]
