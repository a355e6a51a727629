"""HTTP and websocket API of websocket-ingestion."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, Callable

from fastapi import Body, FastAPI, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from app.normalize import InvalidEvent, StateChange, normalize
from app.publisher import EventPublisher
from app.writer import EventWriter
from fleet_common.config import Settings
from fleet_common.health import HealthReport

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("websocket-ingestion")


class Pipeline:
    """normalise → write (batched) → republish."""

    def __init__(self, writer: Any, publisher: Any) -> None:
        self.writer = writer
        self.publisher = publisher
        self.accepted = 0
        self.rejected = 0

    async def ingest(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        changes: list[StateChange] = []
        errors = []
        for event in events:
            try:
                changes.append(normalize(event))
            except InvalidEvent as exc:
                errors.append(str(exc))
        self.rejected += len(errors)
        if changes:
            await asyncio.to_thread(self.writer.write, changes)
            for change in changes:
                await self.publisher.publish(change)
        self.accepted += len(changes)
        return {"accepted": len(changes), "rejected": len(errors), "errors": errors[:10]}


def create_app(settings: Settings | None = None,
               writer_factory: Callable[[Settings], Any] = EventWriter,
               publisher_factory: Callable[[Settings], Any] = EventPublisher) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        writer = writer_factory(settings)
        publisher = publisher_factory(settings)
        await publisher.start()
        app.state.pipeline = Pipeline(writer, publisher)
        try:
            yield
        finally:
            await publisher.stop()
            await asyncio.to_thread(writer.close)

    app = FastAPI(title="websocket-ingestion", version="4.1.2", lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        pipeline: Pipeline = app.state.pipeline
        if not pipeline.publisher.connected:
            await pipeline.publisher.start()
        report = HealthReport("websocket-ingestion")
        report.add("influxdb", await asyncio.to_thread(pipeline.writer.ping), settings.influx_url)
        report.add("mqtt", pipeline.publisher.connected, f"{settings.mqtt_host}:{settings.mqtt_port}")
        return JSONResponse(report.body(), status_code=report.status_code)

    @app.post("/events", status_code=202)
    async def post_events(payload: Any = Body(...)) -> JSONResponse:
        events = payload if isinstance(payload, list) else [payload]
        if not events or not all(isinstance(e, dict) for e in events):
            raise HTTPException(422, "expected an event object or a list of them")
        result = await app.state.pipeline.ingest(events)
        return JSONResponse(result, status_code=202 if result["accepted"] else 422)

    @app.websocket("/ws")
    async def events_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive_json()
                events = message if isinstance(message, list) else [message]
                await websocket.send_json(await app.state.pipeline.ingest(events))
        except WebSocketDisconnect:
            return

    @app.get("/events/recent")
    async def recent(entity_id: str, limit: int = Query(20, ge=1, le=50)) -> list[dict]:
        try:
            return await asyncio.to_thread(app.state.pipeline.writer.recent, entity_id, limit)
        except Exception as exc:
            raise HTTPException(502, f"history query failed: {type(exc).__name__}") from exc

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        pipeline: Pipeline = app.state.pipeline
        return {"accepted": pipeline.accepted, "rejected": pipeline.rejected,
                "written_batches": pipeline.writer.written_batches,
                "failed_batches": pipeline.writer.failed_batches,
                "published": pipeline.publisher.published}

    return app


app = create_app()
