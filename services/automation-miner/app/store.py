"""Keeps the latest mining result per source (in memory; the service is stateless across restarts)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from app.miner import MiningResult


class PatternStore:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._results: dict[str, tuple[datetime, MiningResult]] = {}

    async def save(self, source: str, result: MiningResult) -> None:
        async with self._lock:
            self._results[source] = (datetime.now(timezone.utc), result)

    async def latest(self, source: str) -> tuple[datetime, MiningResult] | None:
        async with self._lock:
            return self._results.get(source)

    async def sources(self) -> list[str]:
        async with self._lock:
            return sorted(self._results)
