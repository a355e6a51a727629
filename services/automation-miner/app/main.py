"""HTTP API of automation-miner."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from app.events import Event
from app.miner import mine
from app.store import PatternStore

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


class MineRequest(BaseModel):
    source: str = "default"
    events: list[dict[str, Any]] = Field(min_length=1)
    min_days: int = Field(3, ge=1, le=60)
    window_s: int = Field(120, ge=1, le=3600)
    min_support: int = Field(3, ge=1)


def create_app() -> FastAPI:
    app = FastAPI(title="automation-miner", version="0.6.1")
    app.state.store = PatternStore()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"service": "automation-miner", "status": "ok",
                "checks": {"store": {"ok": True, "detail": f"{len(await app.state.store.sources())} sources"}}}

    @app.post("/mine")
    async def mine_events(request: MineRequest) -> dict[str, Any]:
        try:
            events = [Event.parse(raw) for raw in request.events]
        except (KeyError, ValueError) as exc:
            raise HTTPException(422, f"bad event: {exc}") from exc
        result = await mine(events, request.min_days, request.window_s, request.min_support)
        await app.state.store.save(request.source, result)
        return result.as_dict()

    @app.get("/patterns/{source}")
    async def patterns(source: str) -> dict[str, Any]:
        latest = await app.state.store.latest(source)
        if latest is None:
            raise HTTPException(404, f"nothing mined for {source}")
        mined_at, result = latest
        return {"mined_at": mined_at.isoformat(), **result.as_dict()}

    return app


app = create_app()
