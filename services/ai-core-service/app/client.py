"""Calls to the model backend with retries (tenacity)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tenacity import RetryError, retry, retry_if_exception_type, stop_after_attempt, wait_exponential
from tenacity._asyncio import AsyncRetrying

from app.backends import BackendUnavailable, ModelBackend

log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass
class Completion:
    text: str
    attempts: int


class ModelClient:
    def __init__(self, backend: ModelBackend, max_attempts: int = 3, backoff: float = 0.1) -> None:
        self.backend = backend
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.completions = AsyncRetrying(
            stop=stop_after_attempt(max_attempts),
            wait=wait_exponential(multiplier=backoff, max=2),
            retry=retry_if_exception_type(BackendUnavailable),
        )

    async def complete(self, prompt: str, max_tokens: int = 32) -> Completion:
        try:
            async for attempt in self.completions:
                with attempt:
                    text = await self.backend.complete(prompt, max_tokens)
        except RetryError as exc:
            attempts = exc.last_attempt.attempt_number
            raise ModelError(f"backend {self.backend.name} unavailable after {attempts} attempts", attempts) from exc
        return Completion(text, self.completions.statistics["attempt_number"])

    @retry(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.05, max=1),
           retry=retry_if_exception_type(BackendUnavailable), reraise=True)
    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self.backend.embed(texts)

    def embed_statistics(self) -> dict:
        return dict(self.embed.retry.statistics)

    def completion_statistics(self) -> dict:
        return dict(self.completions.statistics)
