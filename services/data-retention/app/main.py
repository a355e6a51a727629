"""HTTP API and lifecycle of data-retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.constants import DEFAULT_WINDOW_HOURS, MAX_WINDOW_HOURS
from app.downsample import raw_points
from app.job import RetentionJob
from app.listener import CommandListener
from fleet_common.config import Settings
from fleet_common.health import HealthReport
from fleet_common.influx import InfluxHelper

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("data-retention")


class Reading(BaseModel):
    sensor: str
    value: float
    time: str | None = None


def create_app(settings: Settings | None = None,
               influx_factory: Callable[[Settings], Any] = InfluxHelper,
               start_listener: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        influx = influx_factory(settings)
        job = RetentionJob(influx)

        async def on_run(params: dict[str, Any]) -> dict[str, Any]:
            return await asyncio.to_thread(job.run, params["hours"], params["expire"])

        async def on_stats() -> dict[str, Any]:
            return await asyncio.to_thread(job.stats)

        listener = CommandListener(settings, on_run, on_stats)
        app.state.influx, app.state.job, app.state.listener = influx, job, listener
        task = asyncio.create_task(listener.run_forever()) if start_listener else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            influx.close()

    app = FastAPI(title="data-retention", version="2.3.0", lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        report = HealthReport("data-retention")
        report.add("influxdb", await asyncio.to_thread(app.state.influx.ping), settings.influx_url)
        report.add("mqtt", app.state.listener.connected, f"{settings.mqtt_host}:{settings.mqtt_port}")
        return JSONResponse(report.body(), status_code=report.status_code)

    @app.post("/readings", status_code=202)
    async def import_readings(readings: list[Reading]) -> dict[str, int]:
        if not readings:
            raise HTTPException(422, "no readings")
        points = raw_points([r.model_dump() for r in readings])
        await asyncio.to_thread(app.state.influx.write, points, "s")
        return {"accepted": len(points)}

    @app.post("/run")
    async def run_now(hours: int = Query(DEFAULT_WINDOW_HOURS, ge=1, le=MAX_WINDOW_HOURS),
                      expire: bool = True) -> JSONResponse:
        result = await asyncio.to_thread(app.state.job.run, hours, expire)
        return JSONResponse(result, status_code=200 if result["status"] == "ok" else 500)

    @app.get("/stats")
    async def stats(days: int = Query(7, ge=1, le=90)) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(app.state.job.stats, days)
        except Exception as exc:
            raise HTTPException(502, f"stats query failed: {type(exc).__name__}") from exc

    return app


app = create_app()
