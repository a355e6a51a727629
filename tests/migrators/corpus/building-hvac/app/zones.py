from influxdb_client import InfluxDBClient
from influxdb_client.client.query_api import QueryApi

from app.deps import BUCKET, ORG
from app.templates import AHU_STATUS, CO2_OVER, zone_temps


class ZoneService:
    """Built by the router with an injected QueryApi (annotated)."""

    def __init__(self, query_api: QueryApi, org: str = ORG, bucket: str = BUCKET):
        self.query_api = query_api
        self.org = org
        self.bucket = bucket

    def temperatures(self, building: str, window: str = "6h") -> list[dict]:
        tables = self.query_api.query(zone_temps(self.bucket, building, window), org=self.org)  # site: hvac-k01
        return [
            {"zone": r.values.get("zone"), "temp": r.values.get("temp_c"), "setpoint": r.values.get("setpoint_c")}
            for t in tables
            for r in t.records
        ]  # site: hvac-r01

    def ahu(self) -> dict:
        tables = self.query_api.query(AHU_STATUS.format(bucket=self.bucket), org=self.org)  # site: hvac-k02
        status = {}
        for table in tables:  # site: hvac-r02
            for record in table.records:
                status[(record.get_measurement(), record.values["ahu_id"], record.get_field())] = record.get_value()
        return status

    def co2_alarms(self) -> list[str]:
        tables = self.query_api.query(CO2_OVER, org=self.org)  # site: hvac-k03
        return [rec["zone"] for table in tables for rec in table]

    def setpoint_deviation(self, building: str) -> list[dict]:
        # site: hvac-q05
        flux = f'''
from(bucket: "{self.bucket}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "zone" and r.building == "{building}")
  |> filter(fn: (r) => r._field == "temp_c" or r._field == "setpoint_c")
  |> filter(fn: (r) => exists r.zone)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> map(fn: (r) => ({{ r with deviation: r.temp_c - r.setpoint_c }}))
'''
        return self.query_api.query(flux, org=self.org).to_values(columns=["zone", "_time", "deviation"])  # site: hvac-k04


class LegacyZoneReport:
    def __init__(self, client):
        # unannotated injected client (the scheduler passes it)
        self.client = client

    def occupied_zones(self, building) -> list:
        # site: hvac-q06
        flux = f"""from(bucket: "hvac")
  |> range(start: -20m)
  |> filter(fn: (r) => r._measurement == "occupancy" and r._field == "count" and r.building == "{building}")
  |> last()
  |> filter(fn: (r) => r._value > 0)
  |> keep(columns: ["zone", "_value"])"""
        result = self.client.query_api().query(flux)  # site: hvac-k05
        zones = []
        for table in result:
            for rec in table.records:  # site: hvac-r03
                zones.append(rec["zone"])
        return zones


def make_service(client: InfluxDBClient) -> ZoneService:
    return ZoneService(client.query_api())  # site: hvac-c03
