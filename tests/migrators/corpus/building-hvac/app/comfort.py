"""Comfort scoring job (scheduled): pulls zone data in bulk."""
import logging

from app.deps import BUCKET, ORG

log = logging.getLogger(__name__)


class ComfortJob:
    def __init__(self, client):
        self.client = client
        self.query_api = client.query_api()  # site: hvac-c05

    def humidity_out_of_band(self, low: float = 30.0, high: float = 60.0) -> list[str]:
        # site: hvac-q13
        flux = """from(bucket: "{0}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "zone" and r._field == "rh_pct")
  |> filter(fn: (r) => r._value < {1} or r._value > {2})""".format(BUCKET, low, high)
        return sorted({r["zone"] for t in self.query_api.query(flux, org=ORG) for r in t.records})  # site: hvac-k10

    def run(self, building: str) -> dict:
        scores = {}
        # site: hvac-q14
        flux = f"""from(bucket: "{BUCKET}")
  |> range(start: -24h)
  |> filter(fn: (r) => r._measurement == "zone" and r.building == "{building}")
  |> filter(fn: (r) => r._field == "temp_c" or r._field == "rh_pct")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> map(fn: (r) => ({{ r with score: 100.0 - (r.temp_c - 21.0) * (r.temp_c - 21.0) }}))"""
        for record in (rec for table in self.query_api.query(flux, org=ORG) for rec in table.records):  # site: hvac-r06
            scores.setdefault(record["zone"], []).append(record["score"])
        log.info("scored %d zones", len(scores))
        return {z: sum(v) / len(v) for z, v in scores.items()}

    def first_alarm(self):
        # site: hvac-q15
        flux = 'from(bucket: "hvac") |> range(start: -7d) |> filter(fn: (r) => r._measurement == "alarm" and r._field == "code") |> sort(columns: ["_time"]) |> first()'
        tables = self.query_api.query(flux, org=ORG)
        return tables[0].records[0].values if tables else None
