"""Inverter production. Most queries were pasted from the InfluxDB Data Explorer and adapted."""
import asyncio
from datetime import datetime

from influxdb_client import InfluxDBClient

from app.influx_helper import INFLUX_ORG, INFLUX_TOKEN, INFLUX_URL, helper

BUCKET = "solar"


async def power_series(inverter: str, start: datetime, stop: datetime) -> list[dict]:
    # site: sol-q01
    query = f'''
    from(bucket: "{BUCKET}")
        |> range(start: {start.isoformat()}Z, stop: {stop.isoformat()}Z)
        |> filter(fn: (r) => r["_measurement"] == "inverter")
        |> filter(fn: (r) => r["_field"] == "ac_power_w")
        |> filter(fn: (r) => r["inverter"] == "{inverter}")
        |> aggregateWindow(every: 5m, fn: mean, createEmpty: false)
        |> yield(name: "mean")
    '''

    def sync_query():
        with InfluxDBClient(url=INFLUX_URL, token=INFLUX_TOKEN, org=INFLUX_ORG) as client:  # site: sol-c02
            tables = client.query_api().query(query)  # site: sol-k02
            result = []
            for table in tables:  # site: sol-r02
                for record in table.records:
                    result.append({"time": record.get_time().isoformat(), "value": record.get_value()})
            return result

    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(None, sync_query)


def daily_yield(days: int = 30) -> list[dict]:
    # site: sol-q02
    query = """
from(bucket: "solar")
  |> range(start: duration(v: params.window))
  |> filter(fn: (r) => r["_measurement"] == "inverter" and r["_field"] == "energy_wh")
  |> aggregateWindow(every: 1d, fn: sum, createEmpty: false)
"""
    return helper.query(query, params={"window": f"-{days}d"})


def string_voltages(inverter: str) -> list[dict]:
    # site: sol-q03
    query = f"""from(bucket: "{BUCKET}")
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
  |> filter(fn: (r) => r["_measurement"] == "mppt" and r["inverter"] == "{inverter}")
  |> filter(fn: (r) => r["_field"] == "v1" or r["_field"] == "v2")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")"""
    return helper.query(query.replace("v.timeRangeStart", "-1h").replace("v.timeRangeStop", "now()"))


def fault_counts(hours: int = 24) -> dict[str, int]:
    # site: sol-q04
    query = f'''from(bucket: "{BUCKET}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r["_measurement"] == "fault")
  |> group(columns: ["inverter"])
  |> count(column: "_value")'''
    return {row["inverter"]: row["_value"] for row in helper.query(query)}
