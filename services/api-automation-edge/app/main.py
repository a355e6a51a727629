"""HTTP API of api-automation-edge."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, Callable

from fastapi import Body, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

from app.config import Config
from app.downstream import Downstream
from app.metrics import MetricsRecorder
from app.service import EdgeService

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

STATUS = {"ok": 200, "rejected": 409, "unavailable": 502}


def create_app(config: Config | None = None,
               metrics_factory: Callable[[Config], Any] = MetricsRecorder,
               downstream_factory: Callable[[], Downstream] = Downstream) -> FastAPI:
    config = config or Config.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        metrics = metrics_factory(config)
        downstream = downstream_factory()
        app.state.metrics = metrics
        app.state.service = EdgeService(downstream, metrics)
        try:
            yield
        finally:
            downstream.close()
            metrics.close()

    app = FastAPI(title="api-automation-edge", version="3.0.1", lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        influx_ok = await asyncio.to_thread(app.state.metrics.ping)
        body = {"service": "api-automation-edge", "status": "ok" if influx_ok else "unavailable",
                "checks": {"influxdb": {"ok": influx_ok, "detail": config.influx_url}}}
        return JSONResponse(body, status_code=200 if influx_ok else 503)

    @app.post("/automations/{automation_id}/trigger")
    async def trigger(automation_id: str, variables: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
        result = await asyncio.to_thread(app.state.service.trigger, automation_id, variables)
        return JSONResponse(asdict(result), status_code=STATUS[result.outcome])

    @app.get("/metrics/summary")
    async def summary(hours: int = Query(24, ge=1, le=24 * 30)) -> dict[str, int]:
        try:
            return await asyncio.to_thread(app.state.metrics.summary, hours)
        except Exception as exc:
            raise HTTPException(502, f"summary query failed: {type(exc).__name__}") from exc

    return app


app = create_app()
