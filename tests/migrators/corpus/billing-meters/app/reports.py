"""Monthly reports; the Flux here is assembled from optional pieces."""
from app.influx import get_gateway


def _region_filter(region: str | None) -> str:
    if not region:
        return ""
    # site: bil-q11
    return f'  |> filter(fn: (r) => r.region == "{region}")\n'


def consumption_by_region(days: int, region: str | None = None) -> dict:
    gw = get_gateway()
    # site: bil-q12
    flux = (
        f'from(bucket: "{gw.bucket}")\n'
        f"  |> range(start: -{days}d)\n"
        '  |> filter(fn: (r) => r._measurement == "meter_reading" and r._field == "kwh")\n'
        + _region_filter(region)
        + '  |> group(columns: ["region"])\n'
        + "  |> sum()\n"
    )
    return {r["region"]: r["_value"] for r in gw._execute_query(flux)}


def top_consumers(n: int = 10, period: str = "30d") -> list[tuple[str, float]]:
    gw = get_gateway()
    # site: bil-q13
    flux = f"""
from(bucket: "{gw.bucket}")
  |> range(start: -{period})
  |> filter(fn: (r) => r._measurement == "meter_reading" and r._field == "kwh")
  |> group(columns: ["meter_id"])
  |> sum()
  |> group()
  |> sort(columns: ["_value"], desc: true)
  |> limit(n: {n})
"""
    return [(r["meter_id"], r["_value"]) for r in gw._execute_query(flux)]


def voltage_anomalies() -> list[dict]:
    gw = get_gateway()
    # site: bil-q14
    flux = """from(bucket: "meters")
  |> range(start: -1d)
  |> filter(fn: (r) => r._measurement == "meter_reading" and r._field == "voltage")
  |> filter(fn: (r) => exists r.phase)
  |> map(fn: (r) => ({ r with _value: r._value - 230.0 }))
  |> filter(fn: (r) => r._value > 10.0 or r._value < -10.0)"""
    return gw._execute_query(flux)


def measurements() -> list[str]:
    gw = get_gateway()
    # site: bil-q15
    flux = 'import "influxdata/influxdb/schema"\n\nschema.measurements(bucket: "' + gw.bucket + '")'
    return [r["_value"] for r in gw._execute_query(flux)]
