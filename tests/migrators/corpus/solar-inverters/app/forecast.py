"""Forecast vs actual, pulled into pandas for the model."""
from influxdb_client import InfluxDBClient

from app.influx_helper import INFLUX_ORG, INFLUX_TOKEN, INFLUX_URL

BUCKET = "solar"


def actual_frame(hours: int = 48):
    client = InfluxDBClient(url=INFLUX_URL, token=INFLUX_TOKEN, org=INFLUX_ORG)  # site: sol-c03
    try:
        # site: sol-q05
        flux = f"""from(bucket: "{BUCKET}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r["_measurement"] == "inverter" and (r["_field"] == "ac_power_w" or r["_field"] == "irradiance"))
  |> aggregateWindow(every: 15m, fn: mean, createEmpty: false)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> keep(columns: ["_time", "inverter", "ac_power_w", "irradiance"])"""
        df = client.query_api().query_data_frame(flux)  # site: sol-k03
        return df.set_index("_time")
    finally:
        client.close()


def write_forecast(df, run_id: str) -> None:
    from influxdb_client.client.write_api import SYNCHRONOUS

    with InfluxDBClient(url=INFLUX_URL, token=INFLUX_TOKEN, org=INFLUX_ORG) as client:
        with client.write_api(write_options=SYNCHRONOUS) as write_api:  # site: sol-w01
            df["run_id"] = run_id
            write_api.write(bucket=BUCKET, record=df, data_frame_measurement_name="forecast", data_frame_tag_columns=["inverter", "run_id"])  # site: sol-w02
