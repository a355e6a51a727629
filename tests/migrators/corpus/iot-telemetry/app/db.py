"""Module-level client singleton shared by the whole service."""
import atexit

import influxdb_client as ic
from influxdb_client.client.write_api import SYNCHRONOUS

from app.config import INFLUX_BUCKET, INFLUX_ORG, INFLUX_TOKEN, INFLUX_URL

client = ic.InfluxDBClient(url=INFLUX_URL, token=INFLUX_TOKEN, org=INFLUX_ORG, timeout=30_000)  # site: iot-c01
query_api = client.query_api()  # site: iot-c02
write_api = client.write_api(write_options=SYNCHRONOUS)  # site: iot-c03

BUCKET = INFLUX_BUCKET
ORG = INFLUX_ORG


@atexit.register
def _shutdown():
    write_api.close()  # site: iot-w01
    client.close()
