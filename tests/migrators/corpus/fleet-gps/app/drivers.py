"""Driver behaviour scores, computed from harsh-event counts."""
import asyncio

from app.settings import settings
from app.store import PositionStore


def _events_flux(kind: str, days: int) -> str:
    # site: gps-q12
    return f'''from(bucket: "{settings.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "driver_event" and r.kind == "{kind}" and r._field == "count")
  |> group(columns: ["driver_id"])
  |> sum()'''


async def harsh_braking(store: PositionStore, days: int = 7) -> dict[str, float]:
    tables = await asyncio.to_thread(store.query_api.query, query=_events_flux("brake", days), org=settings.influx_org)  # site: gps-k06
    return {rec.values.get("driver_id"): rec.get_value() for table in tables for rec in table.records}


async def idle_minutes(store: PositionStore, days: int = 7) -> dict[str, float]:
    # site: gps-q13
    flux = f"""from(bucket: "{settings.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "engine")
  |> filter(fn: (r) => r._field == "idle_s" or r._field == "run_s")
  |> group(columns: ["driver_id", "_field"])
  |> sum()"""
    tables = await asyncio.to_thread(store.query, flux)
    out = {}
    for table in tables:
        for rec in table.records:
            if rec.get_field() == "idle_s":
                out[rec["driver_id"]] = rec.get_value() / 60.0
    return out
