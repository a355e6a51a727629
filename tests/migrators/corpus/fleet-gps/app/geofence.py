# site: gps-d04
"""Geofence checks.

The previous implementation queried ``from(bucket: "gps")`` directly; see docs/geofence.md.
"""
from app.store import PositionStore


class GeofenceService:
    def __init__(self, store: PositionStore):
        self.store = store

    def inside(self, fence: tuple[float, float, float, float], minutes: int = 15) -> list[str]:
        lat0, lon0, lat1, lon1 = fence
        # site: gps-q09
        flux = f"""
from(bucket: "gps")
  |> range(start: -{minutes}m)
  |> filter(fn: (r) => r._measurement == "position")
  |> filter(fn: (r) => r._field == "lat" or r._field == "lon")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> filter(fn: (r) => r.lat >= {lat0} and r.lat <= {lat1} and r.lon >= {lon0} and r.lon <= {lon1})
"""
        tables = self.store.query(flux)
        return sorted({rec["vehicle_id"] for rec in _flatten(tables)})

    def fences(self) -> list[str]:
        # site: gps-q10
        flux = 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "gps", tag: "fence_id")'
        return [r.get_value() for r in _flatten(self.store.query(flux))]

    def vehicles_seen(self) -> int:
        # site: gps-q11
        flux = 'from(bucket: "gps") |> range(start: -1d) |> filter(fn: (r) => r._measurement == "position") |> group() |> count()'
        return sum(r.get_value() for r in _flatten(self.store.query(flux)))


def _flatten(tables):
    return [record for table in tables for record in table.records]  # site: gps-r05


def describe(fence_id: str) -> str:
    # site: gps-d01
    """Human text only; mentions from(bucket: "gps") |> range(...) for operators, no query is run."""
    return f"fence {fence_id}"
