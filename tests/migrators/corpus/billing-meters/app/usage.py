from datetime import date, datetime, time, timedelta, timezone

from app.influx import get_gateway
from app.queries import DAILY_USAGE, PEAK_DEMAND, usage_between


def _rfc3339(d: date) -> str:
    return datetime.combine(d, time.min, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def daily_usage(meter_id: str, start: date, end: date) -> list[dict]:
    gw = get_gateway()
    q = usage_between(gw.bucket, meter_id, _rfc3339(start), _rfc3339(end + timedelta(days=1)))
    rows = gw._execute_query(q)
    return [{"day": r["_time"].date().isoformat(), "kwh": r["_value"]} for r in rows]


def peak_demand(days: int = 30) -> dict[str, float]:
    gw = get_gateway()
    rows = gw._execute_query(PEAK_DEMAND % {"bucket": gw.bucket, "days": days})
    return {r["meter_id"]: r["_value"] for r in rows}


def month_total(meter_id: str, year: int, month: int) -> float:
    gw = get_gateway()
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    stop = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
    # site: bil-q05
    flux = f"""
from(bucket: "{gw.bucket}")
  |> range(start: {start.isoformat()}, stop: {stop.isoformat()})
  |> filter(fn: (r) => r._measurement == "meter_reading" and r.meter_id == "{meter_id}" and r._field == "kwh")
  |> sum()
"""
    rows = gw._execute_query(flux)
    return float(rows[0]["_value"]) if rows else 0.0


def last_reading(meter_id: str) -> dict | None:
    gw = get_gateway()
    # site: bil-q06
    flux = ('from(bucket: "' + gw.bucket + '")\n'
            "  |> range(start: -30d)\n"
            '  |> filter(fn: (r) => r._measurement == "meter_reading" and r.meter_id == "' + meter_id + '")\n'
            '  |> filter(fn: (r) => r._field == "kwh" or r._field == "kw" or r._field == "voltage")\n'
            "  |> last()")
    rows = gw._execute_query(flux)
    return {r["_field"]: r["_value"] for r in rows} or None


def usage_frame(meter_ids: list[str], days: int):
    gw = get_gateway()
    set_literal = "[" + ", ".join(f'"{m}"' for m in meter_ids) + "]"
    # site: bil-q07
    flux = f'''import "array"
from(bucket: "{gw.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "meter_reading")
  |> filter(fn: (r) => contains(value: r.meter_id, set: {set_literal}))
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
'''
    return gw.query_frame(flux)
