import sqlite3

from fastapi import APIRouter, Depends
from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.write_api import SYNCHRONOUS

from app.deps import BUCKET, ORG, get_client, get_query_api
from app.zones import ZoneService

router = APIRouter()


def zone_service(query_api=Depends(get_query_api)) -> ZoneService:
    return ZoneService(query_api)


@router.get("/buildings/{building}/zones")
def zones(building: str, svc: ZoneService = Depends(zone_service)):
    return svc.temperatures(building)


@router.get("/buildings")
def buildings(client: InfluxDBClient = Depends(get_client)):
    # site: hvac-q11
    flux = f'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "{BUCKET}", tag: "building")'
    return [r.get_value() for t in client.query_api().query(flux, org=ORG) for r in t.records]  # site: hvac-k09


@router.post("/buildings/{building}/setpoint")
def set_setpoint(building: str, zone: str, value: float, client: InfluxDBClient = Depends(get_client)):
    point = Point("setpoint_change").tag("building", building).tag("zone", zone).field("value", value)
    client.write_api(write_options=SYNCHRONOUS).write(bucket=BUCKET, org=ORG, record=point)  # site: hvac-w01
    return {"ok": True}


@router.get("/buildings/{building}/tickets")
def tickets(building: str):
    conn = sqlite3.connect("tickets.db")
    cur = conn.cursor()
    return cur.execute("SELECT id, title FROM tickets WHERE building = ?", (building,)).fetchall()  # site: hvac-d01


@router.get("/buildings/{building}/summary")
def summary(building: str, client: InfluxDBClient = Depends(get_client)):
    # site: hvac-q12
    flux = f"""
from(bucket: "{BUCKET}")
  |> range(start: -24h)
  |> filter(fn: (r) => r.building == "{building}")
  |> group(columns: ["_measurement"])
  |> count()
  |> sort(columns: ["_value"], desc: true)
"""
    tables = client.query_api().query(flux, org=ORG)
    return {t.records[0].get_measurement(): t.records[0].get_value() for t in tables if t.records}  # site: hvac-r05
