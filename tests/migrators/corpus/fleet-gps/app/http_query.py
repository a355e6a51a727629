"""Fallback reader for the reporting job: posts Flux straight to the HTTP API (no client library)."""
import csv
import io

import httpx
import requests

from app.settings import settings


def _headers() -> dict:
    return {
        "Authorization": f"Token {settings.influx_token}",
        "Content-Type": "application/vnd.flux",  # site: gps-h01
        "Accept": "application/csv",
    }


def trips_per_vehicle(days: int = 7) -> dict[str, int]:
    # site: gps-q07
    flux = f'''from(bucket: "{settings.bucket}")
  |> range(start: -{days}d)
  |> filter(fn: (r) => r._measurement == "trip" and r._field == "trip_id")
  |> group(columns: ["vehicle_id"])
  |> count()'''
    resp = requests.post(f"{settings.influx_url}/api/v2/query", params={"org": settings.influx_org}, data=flux, headers=_headers(), timeout=30)  # site: gps-h02
    resp.raise_for_status()
    rows = csv.DictReader(io.StringIO(resp.text))
    return {r["vehicle_id"]: int(r["_value"]) for r in rows if r.get("_value")}


async def fuel_levels() -> list[dict]:
    # site: gps-q08
    flux = 'from(bucket: "gps") |> range(start: -6h) |> filter(fn: (r) => r._measurement == "fuel" and r._field == "level_pct") |> last()'
    async with httpx.AsyncClient(base_url=settings.influx_url) as http:
        resp = await http.post("/api/v2/query", params={"org": settings.influx_org}, json={"query": flux, "type": "flux"}, headers={"Authorization": f"Token {settings.influx_token}"})  # site: gps-h03
    resp.raise_for_status()
    return list(csv.DictReader(io.StringIO(resp.text)))
