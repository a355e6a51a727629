"""Model backends. The fleet runs the deterministic local backend; remote ones implement the same
two coroutines."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from typing import Protocol

DIMENSIONS = 64
WORD = re.compile(r"[a-z0-9]+")


class BackendUnavailable(Exception):
    """The backend is overloaded or restarting: try again."""


class ModelBackend(Protocol):
    name: str

    async def complete(self, prompt: str, max_tokens: int) -> str: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


def _vector(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        index = int.from_bytes(digest[:2], "big") % DIMENSIONS
        vector[index] += 1.0 if digest[2] % 2 == 0 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [round(v / norm, 6) for v in vector] if norm else vector


class LocalBackend:
    """Extractive 'completion' (the prompt's most informative words) and hashed bag-of-words
    embeddings: deterministic, no network, fast enough for tests."""

    name = "local"

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls = 0

    async def complete(self, prompt: str, max_tokens: int) -> str:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        words = WORD.findall(prompt.lower())
        ranked = sorted(dict.fromkeys(words), key=lambda w: (-len(w), w))
        return " ".join(ranked[:max_tokens])

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        return [_vector(text) for text in texts]


class FlakyBackend:
    """Wraps a backend and fails the first `failures` calls (chaos testing, demos)."""

    def __init__(self, inner: ModelBackend, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.name = f"flaky-{inner.name}"
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise BackendUnavailable(f"{self.name}: call {self.calls} failed")

    async def complete(self, prompt: str, max_tokens: int) -> str:
        self._maybe_fail()
        return await self.inner.complete(prompt, max_tokens)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self._maybe_fail()
        return await self.inner.embed(texts)
