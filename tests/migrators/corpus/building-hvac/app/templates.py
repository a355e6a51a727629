"""Flux templates for the building dashboards (filled with str.format / f-strings by callers)."""

ZONE_TEMPS = '''
from(bucket: "{bucket}")
  |> range(start: -{window})
  |> filter(fn: (r) => r._measurement == "zone" and r.building == "{building}")
  |> filter(fn: (r) => r._field == "temp_c" or r._field == "setpoint_c")
  |> aggregateWindow(every: 15m, fn: mean, createEmpty: false)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
'''  # site: hvac-q01

AHU_STATUS = 'from(bucket: "{bucket}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "ahu") |> last() |> drop(columns: ["_start", "_stop"])'  # site: hvac-q02

CO2_OVER = """from(bucket: "hvac")
  |> range(start: -30m)
  |> filter(fn: (r) => r._measurement == "air_quality" and r._field == "co2_ppm")
  |> filter(fn: (r) => r._value > 1000.0)
  |> group(columns: ["zone"])
  |> max()"""  # site: hvac-q03

BUILDINGS = 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "hvac", tag: "building")'  # site: hvac-q04


def zone_temps(bucket: str, building: str, window: str = "6h") -> str:
    return ZONE_TEMPS.format(bucket=bucket, building=building, window=window)
