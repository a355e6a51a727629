"""HTTP API of ai-core-service."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, Callable

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.backends import BackendUnavailable, LocalBackend, ModelBackend
from app.client import ModelClient, ModelError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


class CompleteRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=8000)
    max_tokens: int = Field(32, ge=1, le=256)


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=64)


def create_app(backend_factory: Callable[[], ModelBackend] = LocalBackend, backoff: float = 0.1) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.client = ModelClient(backend_factory(), backoff=backoff)
        yield

    app = FastAPI(title="ai-core-service", version="5.2.0", lifespan=lifespan)

    @app.get("/health")
    async def health() -> JSONResponse:
        client: ModelClient = app.state.client
        try:
            await client.backend.embed(["health"])
            ok, detail = True, client.backend.name
        except BackendUnavailable as exc:
            ok, detail = False, str(exc)
        return JSONResponse({"service": "ai-core-service", "status": "ok" if ok else "unavailable",
                             "checks": {"backend": {"ok": ok, "detail": detail}}}, status_code=200 if ok else 503)

    @app.post("/v1/complete")
    async def complete(request: CompleteRequest) -> dict[str, Any]:
        try:
            result = await app.state.client.complete(request.prompt, request.max_tokens)
        except ModelError as exc:
            raise HTTPException(503, {"error": str(exc), "attempts": exc.attempts}) from exc
        return {"text": result.text, "attempts": result.attempts}

    @app.post("/v1/embed")
    async def embed(request: EmbedRequest) -> dict[str, Any]:
        try:
            vectors = await app.state.client.embed(request.texts)
        except BackendUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        return {"dimensions": len(vectors[0]), "vectors": vectors}

    @app.get("/v1/stats")
    async def stats() -> dict[str, Any]:
        client: ModelClient = app.state.client
        return {"backend": client.backend.name, "completion": client.completion_statistics(),
                "embed": client.embed_statistics()}

    return app


app = create_app()
