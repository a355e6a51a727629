"""Energy dashboards: metered kWh per building, per plant."""
from datetime import datetime

from app.deps import BUCKET, ORG, get_client

PLANT_FILTER = '  |> filter(fn: (r) => r.plant == "{plant}")\n'


def _q():
    return get_client().query_api()  # site: hvac-c04


def building_kwh(building: str, start: datetime, stop: datetime) -> float:
    # site: hvac-q07
    flux = f"""from(bucket: "{BUCKET}")
  |> range(start: {start.isoformat()}Z, stop: {stop.isoformat()}Z)
  |> filter(fn: (r) => r._measurement == "energy" and r.building == "{building}" and r._field == "kwh")
  |> sum()"""
    tables = _q().query(flux, org=ORG)  # site: hvac-k06
    return sum(rec.get_value() for table in tables for rec in table.records)  # site: hvac-r04


def plant_kwh(plant: str | None = None, hours: int = 24):
    # site: hvac-q08
    flux = (
        'from(bucket: "' + BUCKET + '")\n'
        + "  |> range(start: -" + str(hours) + "h)\n"
        + '  |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh")\n'
        + (PLANT_FILTER.format(plant=plant) if plant else "")
        + '  |> group(columns: ["plant"])\n'
        + "  |> sum()\n"
    )
    return _q().query_data_frame(flux, org=ORG)  # site: hvac-k07


def chiller_cop(hours: int = 6) -> list[tuple]:
    # site: hvac-q09
    flux = f'''from(bucket: "{BUCKET}")
  |> range(start: -{hours}h)
  |> filter(fn: (r) => r._measurement == "chiller")
  |> filter(fn: (r) => r._field == "kw_in" or r._field == "kw_out")
  |> first()'''
    return [(r.get_field(), r.get_value()) for t in _q().query(flux, org=ORG) for r in t.records]


def hourly_profile(building: str, days: int = 7) -> list:
    # site: hvac-q10
    flux = """from(bucket: "%s")
  |> range(start: -%dd)
  |> filter(fn: (r) => r._measurement == "energy" and r._field == "kwh" and r.building == "%s")
  |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)
  |> yield(name: "hourly")""" % (BUCKET, days, building)
    return list(_q().query_stream(flux, org=ORG))  # site: hvac-k08
