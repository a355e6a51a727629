"""Per-vehicle summaries for the dashboard: plain data shaping, imported by the track endpoints."""

from __future__ import annotations


def top_speeds(tables, limit: int = 5) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for table in tables:  # site: gps-r06
        for rec in table.records:
            vehicle = rec.values.get("vehicle_id")
            best[vehicle] = max(best.get(vehicle, 0.0), rec.get_value())
    return sorted(best.items(), key=lambda item: item[1], reverse=True)[:limit]


def to_fix(rec) -> dict:
    """One position record as the API's JSON shape."""
    return {"t": rec.get_time().isoformat(), "vehicle": rec.values.get("vehicle_id"), "speed": rec.get_value()}  # site: gps-r08
