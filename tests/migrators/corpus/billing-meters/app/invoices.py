"""Invoice lines are priced from metered kWh; the reads go through the gateway."""
from dataclasses import dataclass
from datetime import date

from app.influx import InfluxGateway
from app.queries import TARIFF_FIELDS


@dataclass
class InvoiceLine:
    meter_id: str
    kwh: float
    amount: float


class InvoiceBuilder:
    def __init__(self, gateway: InfluxGateway, currency: str = "EUR"):
        self.gateway = gateway
        self.currency = currency

    def _tariff(self) -> dict[str, float]:
        rows = self.gateway._execute_query(TARIFF_FIELDS)
        return {r["_field"]: r["_value"] for r in rows}

    def _kwh(self, meter_id: str, start: date, end: date) -> float:
        # site: bil-q08
        flux = 'from(bucket: "{}") |> range(start: {}T00:00:00Z, stop: {}T00:00:00Z) |> filter(fn: (r) => r._measurement == "meter_reading" and r._field == "kwh" and r.meter_id == "{}") |> sum()'.format(
            self.gateway.bucket, start.isoformat(), end.isoformat(), meter_id
        )
        rows = self.gateway._execute_query(flux)
        return rows[0]["_value"] if rows else 0.0

    def line(self, meter_id: str, start: date, end: date) -> InvoiceLine:
        kwh = self._kwh(meter_id, start, end)
        return InvoiceLine(meter_id, kwh, round(kwh * self._tariff().get("price_per_kwh", 0.0), 2))

    def meters_with_usage(self, start: date, end: date) -> list[str]:
        # site: bil-q09
        flux = f"""
from(bucket: "{self.gateway.bucket}")
  |> range(start: {start.isoformat()}T00:00:00Z, stop: {end.isoformat()}T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "meter_reading" and r._field == "kwh")
  |> group(columns: ["meter_id"])
  |> count()
  |> keep(columns: ["meter_id", "_value"])
"""
        return [r["meter_id"] for r in self.gateway._execute_query(flux) if r["_value"] > 0]

    def credit_notes(self, customer: str):
        # site: bil-q10
        flux = f'from(bucket: "credits") |> range(start: -90d) |> filter(fn: (r) => r._measurement == "credit_note" and r.customer == "{customer}") |> sort(columns: ["_time"], desc: true)'
        return self.gateway._execute_query(flux)
