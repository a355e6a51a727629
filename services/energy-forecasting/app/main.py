"""HTTP API of energy-forecasting."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.forecast import daily_totals, naive_forecast
from app.store import EnergyStore
from fleet_common.config import Settings
from fleet_common.health import HealthReport

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("energy-forecasting")


class MeterReading(BaseModel):
    circuit: str
    energy_wh: float
    time: datetime


def run_forecast(store: Any, days: int, now: datetime | None = None) -> dict[str, Any]:
    hourly = store.hourly_consumption(days)
    forecast = naive_forecast(hourly, now=now)
    written = store.write_forecast(forecast)
    return {"history_hours": int(len(hourly)), "forecast_points": written, "daily_totals_wh": daily_totals(forecast),
            "forecast": [{"time": row.time.isoformat(), "circuit": row.circuit, "forecast_wh": round(row.forecast_wh, 3)}
                         for row in forecast.itertuples()]}


def create_app(settings: Settings | None = None,
               store_factory: Callable[[Settings], Any] = EnergyStore) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = store_factory(settings)
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="energy-forecasting", version="0.9.4", lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        report = HealthReport("energy-forecasting")
        report.add("influxdb", await asyncio.to_thread(app.state.store.ping), settings.influx_url)
        return JSONResponse(report.body(), status_code=report.status_code)

    @app.post("/readings", status_code=202)
    async def add_readings(readings: list[MeterReading]) -> dict[str, int]:
        if not readings:
            raise HTTPException(422, "no readings")
        rows = [r.model_dump() for r in readings]
        for row in rows:
            if row["time"].tzinfo is None:
                row["time"] = row["time"].replace(tzinfo=timezone.utc)
        return {"accepted": await asyncio.to_thread(app.state.store.add_readings, rows)}

    @app.post("/forecast")
    async def forecast(days: int = Query(7, ge=1, le=60)) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(run_forecast, app.state.store, days)
        except Exception as exc:
            log.exception("forecast failed")
            raise HTTPException(502, f"forecast failed: {type(exc).__name__}") from exc

    @app.get("/consumption/hourly")
    async def hourly(days: int = Query(1, ge=1, le=60)) -> list[dict[str, Any]]:
        try:
            frame = await asyncio.to_thread(app.state.store.hourly_consumption, days)
        except Exception as exc:
            raise HTTPException(502, f"query failed: {type(exc).__name__}") from exc
        return [{"time": row.time.isoformat(), "circuit": row.circuit, "energy_wh": row.energy_wh}
                for row in frame.itertuples()]

    return app


app = create_app()
