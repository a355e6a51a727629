import asyncio
import functools
from datetime import datetime, timedelta, timezone

from app.store import PositionStore
from app.summary import to_fix, top_speeds
from app.settings import settings

_store = PositionStore()


def _track_flux(vehicle_id: str, start: datetime, stop: datetime) -> str:
    # site: gps-q01
    return f'''
from(bucket: "{settings.bucket}")
  |> range(start: {start.isoformat()}Z, stop: {stop.isoformat()}Z)
  |> filter(fn: (r) => r._measurement == "position" and r.vehicle_id == "{vehicle_id}")
  |> filter(fn: (r) => r._field == "lat" or r._field == "lon" or r._field == "speed")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["_time"])
'''


def _points(tables):
    # results handed to a helper and iterated here
    for table in tables:  # site: gps-r01
        for rec in table.records:
            yield rec["_time"], rec["lat"], rec["lon"], rec["speed"]


async def track(vehicle_id: str, hours: int = 2) -> list[dict]:
    stop = datetime.utcnow()
    start = stop - timedelta(hours=hours)
    loop = asyncio.get_event_loop()
    tables = await loop.run_in_executor(None, functools.partial(_store.query, _track_flux(vehicle_id, start, stop)))
    return [{"t": t.isoformat(), "lat": la, "lon": lo, "speed": s} for t, la, lo, s in _points(tables)]


def last_positions() -> dict[str, tuple[float, float]]:
    # site: gps-q02
    flux = """
from(bucket: "gps")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "position")
  |> filter(fn: (r) => r._field == "lat" or r._field == "lon")
  |> group(columns: ["vehicle_id", "_field"])
  |> last()
"""
    out: dict[str, dict] = {}
    for table in _store.query(flux):  # site: gps-r02
        for rec in table.records:
            out.setdefault(rec.values.get("vehicle_id"), {})[rec.get_field()] = rec.get_value()
    return {v: (d.get("lat"), d.get("lon")) for v, d in out.items()}


def distance_today(vehicle_id: str) -> float:
    midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    ts = midnight.strftime("%Y-%m-%dT%H:%M:%SZ")
    # site: gps-q03
    flux = f'''from(bucket: "{settings.bucket}")
  |> range(start: time(v: "{ts}"))
  |> filter(fn: (r) => r._measurement == "odometer" and r.vehicle_id == "{vehicle_id}" and r._field == "delta_m")
  |> sum()
  |> map(fn: (r) => ({{ r with _value: r._value / 1000.0 }}))'''
    tables = _store.query(flux)
    return tables[0].records[0].get_value() if tables else 0.0  # site: gps-r03


def speeding(limit_kmh: float, minutes: int = 60) -> list[str]:
    # site: gps-q04
    flux = 'from(bucket: "%s") |> range(start: -%im) |> filter(fn: (r) => r._measurement == "position" and r._field == "speed" and r._value > %f)' % (
        settings.bucket,
        minutes,
        limit_kmh,
    )
    return sorted({rec.values["vehicle_id"] for table in _store.query(flux) for rec in table.records})  # site: gps-r04


def fastest(hours: int = 24) -> list[tuple[str, float]]:
    flux = f'from(bucket: "{settings.bucket}") |> range(start: -{hours}h) |> filter(fn: (r) => r._measurement == "position" and r._field == "speed") |> max()'  # site: gps-q14
    return top_speeds(_store.query(flux))


def recent_fixes(vehicle_id: str) -> list[dict]:
    flux = f'from(bucket: "{settings.bucket}") |> range(start: -15m) |> filter(fn: (r) => r._measurement == "position" and r.vehicle_id == "{vehicle_id}" and r._field == "speed")'  # site: gps-q15
    return [to_fix(rec) for table in _store.query(flux) for rec in table.records]  # site: gps-r07


def speed_samples(minutes: int = 10) -> list[tuple[str, str, float]]:
    flux = f'from(bucket: "{settings.bucket}") |> range(start: -{minutes}m) |> filter(fn: (r) => r._measurement == "position" and r._field == "speed")'  # site: gps-q16
    samples = []
    for tbl in _store.query(flux):  # site: gps-r09
        for rec in tbl.records:
            samples.append((rec["vehicle_id"], rec["_field"], rec["_value"]))
    return samples
