from fastapi import FastAPI

from app.repository import TelemetryRepository
from app import alerts

app = FastAPI()
repo = TelemetryRepository()


@app.get("/devices/{device_id}/latest")
async def latest(device_id: str):
    return await repo.latest(device_id)


@app.get("/devices/{device_id}/series/{field}")
async def series(device_id: str, field: str, hours: int = 6):
    return await repo.series(device_id, field, hours)


@app.get("/alerts/overheated")
async def overheated():
    return await alerts.overheated()


@app.get("/rooms/max")
def rooms_max():
    return repo.max_by_room()
