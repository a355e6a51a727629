"""Tariff lookups. Prices are stored as points in the `tariffs` bucket."""
from app.influx import InfluxGateway

_TARIFF_BY_PLAN = (
    'from(bucket: "tariffs")'
    " |> range(start: -365d)"
    ' |> filter(fn: (r) => r._measurement == "tariff" and r.plan == "%s")'
    " |> last()"
)  # site: bil-q16


def price_for(gateway: InfluxGateway, plan: str) -> dict[str, float]:
    rows = gateway._execute_query(_TARIFF_BY_PLAN % plan)
    return {r["_field"]: r["_value"] for r in rows}


def plans(gateway: InfluxGateway) -> list[str]:
    # site: bil-q17
    q = f'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "tariffs", tag: "plan")'
    return [r["_value"] for r in gateway._execute_query(q)]


def history(gateway: InfluxGateway, plan: str, start: str = "-2y") -> list[dict]:
    # site: bil-q18
    flux = f"""from(bucket: "tariffs")
  |> range(start: {start})
  |> filter(fn: (r) => r._measurement == "tariff" and r.plan == "{plan}" and r._field == "price_per_kwh")
  |> keep(columns: ["_time", "_value"])
  |> sort(columns: ["_time"])"""
    return gateway._execute_query(flux)
