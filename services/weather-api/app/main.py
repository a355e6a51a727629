"""HTTP API of weather-api."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

from app.provider import LocalWeatherProvider, UnknownCity, WeatherProvider
from app.storage import open_store
from fleet_common.config import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("weather-api")

COLLECT_EVERY_S = 600


async def collect(provider: WeatherProvider, store: Any, cities: list[str]) -> dict[str, Any]:
    readings = await asyncio.gather(*(provider.current(city) for city in cities))
    stored = await asyncio.to_thread(store.store, list(readings)) if store else 0
    return {"cities": cities, "stored": stored}


def create_app(settings: Settings | None = None,
               store_factory: Callable[[Settings], Any] = open_store,
               provider: WeatherProvider | None = None,
               collect_every: float | None = COLLECT_EVERY_S) -> FastAPI:
    settings = settings or Settings.from_env()
    provider = provider or LocalWeatherProvider()
    cities = LocalWeatherProvider.cities()

    async def collect_forever(app: FastAPI) -> None:
        while True:
            try:
                await collect(provider, app.state.store, cities)
            except Exception as exc:
                log.warning("collection failed: %s", exc)
            await asyncio.sleep(collect_every)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = store_factory(settings)
        task = asyncio.create_task(collect_forever(app)) if collect_every else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if app.state.store:
                app.state.store.close()

    app = FastAPI(title="weather-api", version="1.8.0", lifespan=lifespan)

    def require_store():
        if app.state.store is None:
            raise HTTPException(503, "storage disabled")
        return app.state.store

    @app.get("/health")
    async def health() -> dict[str, Any]:
        # Always 200 so the load balancer keeps serving live data; the body says what works.
        store = app.state.store
        influx_ok = bool(store) and await asyncio.to_thread(store.ping)
        return {"service": "weather-api", "status": "ok" if influx_ok else "degraded",
                "checks": {"provider": {"ok": True},
                           "influxdb": {"ok": influx_ok, "detail": "storage disabled" if store is None
                                        else settings.influx_url}}}

    @app.get("/weather/{city}/current")
    async def current(city: str) -> dict[str, Any]:
        try:
            reading = await provider.current(city)
        except UnknownCity:
            raise HTTPException(404, f"unknown city {city}")
        return {**asdict(reading), "time": reading.time.isoformat()}

    @app.post("/collect")
    async def collect_now() -> dict[str, Any]:
        return await collect(provider, require_store(), cities)

    @app.get("/weather/{city}/latest")
    async def latest(city: str) -> dict[str, Any]:
        row = await asyncio.to_thread(require_store().latest, city.lower())
        if row is None:
            raise HTTPException(404, f"no stored readings for {city}")
        return row

    @app.get("/weather/{city}/daily")
    async def daily(city: str, days: int = Query(7, ge=1, le=31)) -> list[dict[str, Any]]:
        return await asyncio.to_thread(require_store().daily, city.lower(), days)

    return app


app = create_app()
