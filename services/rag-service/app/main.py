"""HTTP API of rag-service."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from fastapi import BackgroundTasks, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.corpus import RUNBOOKS
from app.index import Document, IndexBusy, TfidfIndex
from app.retriever import Retriever

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(3, ge=1, le=20)


class DocumentIn(BaseModel):
    doc_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1)


def create_app(seed: bool = True) -> FastAPI:
    app = FastAPI(title="rag-service", version="1.1.0")
    index = TfidfIndex()
    if seed:
        index.add([Document(doc_id, text) for doc_id, text in RUNBOOKS])
    app.state.index = index
    app.state.retriever = Retriever(index)

    @app.get("/health")
    async def health() -> JSONResponse:
        ready = len(index) > 0
        return JSONResponse({"service": "rag-service", "status": "ok" if ready else "unavailable",
                             "checks": {"index": {"ok": ready, "detail": f"{len(index)} documents"}}},
                            status_code=200 if ready else 503)

    @app.post("/search")
    def search(request: SearchRequest) -> dict[str, Any]:
        try:
            hits = app.state.retriever.search(request.query, request.k)
        except IndexBusy as exc:
            raise HTTPException(503, str(exc)) from exc
        return {"query": request.query, "hits": [asdict(h) for h in hits]}

    @app.post("/context")
    def context(request: SearchRequest) -> dict[str, str]:
        return {"context": app.state.retriever.context_for(request.query, request.k)}

    @app.post("/documents", status_code=202)
    def add_document(document: DocumentIn, background: BackgroundTasks) -> dict[str, Any]:
        background.add_task(index.add, [Document(document.doc_id, document.text)])
        return {"queued": document.doc_id}

    return app


app = create_app()
