"""Writer used by the field-gateway importer; the bucket is chosen per call (one per utility)."""
from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.write_api import SYNCHRONOUS


class MeterWriter:
    def __init__(self, url: str, token: str, org: str):
        self.org = org
        self.client = InfluxDBClient(url=url, token=token, org=org)  # site: bil-c04
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)  # site: bil-c05

    def write(self, bucket_name: str, meter_id: str, kwh: float) -> None:
        point = Point("meter_reading").tag("meter_id", meter_id).field("kwh", kwh)
        self.write_api.write(bucket=bucket_name, org=self.org, record=point)  # site: bil-w05

    def last(self, bucket_name: str, meter_id: str):
        # site: bil-q19
        flux = f'from(bucket: "{bucket_name}") |> range(start: -1d) |> filter(fn: (r) => r._measurement == "meter_reading" and r.meter_id == "{meter_id}" and r._field == "kwh") |> last()'
        return self.client.query_api().query(flux, org=self.org)  # site: bil-k07
