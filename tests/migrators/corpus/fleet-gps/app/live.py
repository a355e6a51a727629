"""Live dashboard feed: uses the async client directly."""
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from app.settings import settings


class LiveFeed:
    def __init__(self):
        self.client = InfluxDBClientAsync(url=settings.influx_url, token=settings.influx_token, org=settings.influx_org)  # site: gps-c04

    async def moving(self) -> list[str]:
        # site: gps-q05
        flux = f'''from(bucket: "{settings.bucket}")
  |> range(start: -5m)
  |> filter(fn: (r) => r._measurement == "position" and r._field == "speed")
  |> last()
  |> filter(fn: (r) => r._value > 0.0)'''
        tables = await self.client.query_api().query(flux)  # site: gps-k03
        return [rec.values.get("vehicle_id") for table in tables for rec in table.records]

    async def stream_positions(self, vehicle_id: str):
        # site: gps-q06
        flux = f'from(bucket: "{settings.bucket}") |> range(start: -10m) |> filter(fn: (r) => r._measurement == "position" and r.vehicle_id == "{vehicle_id}" and (r._field == "lat" or r._field == "lon"))'
        records = await self.client.query_api().query_stream(flux)  # site: gps-k04
        async for rec in records:
            yield rec.get_measurement(), rec.get_field(), rec.get_value()

    async def record(self, point) -> None:
        await self.client.write_api().write(bucket=settings.bucket, record=point)  # site: gps-w02

    async def close(self):
        await self.client.close()
