import asyncio

import pytest

from app.backends import FlakyBackend, LocalBackend
from app.client import ModelClient, ModelError

# Every test here shares one loop for the module (the client objects are loop-agnostic).
pytestmark = pytest.mark.asyncio(scope="module")


def client(failures=0, max_attempts=3):
    return ModelClient(FlakyBackend(LocalBackend(), failures), max_attempts=max_attempts, backoff=0.001)


async def test_completion_first_try():
    result = await client().complete("turn on the porch light at sunset", 2)
    assert result.attempts == 1
    assert len(result.text.split()) == 2


async def test_completion_retries_until_the_backend_recovers():
    model = client(failures=2)
    result = await model.complete("hello world")
    assert result.attempts == 3
    assert model.completion_statistics()["attempt_number"] == 3


async def test_completion_gives_up():
    model = client(failures=5, max_attempts=3)
    with pytest.raises(ModelError) as info:
        await model.complete("hello")
    assert info.value.attempts == 3
    assert model.backend.calls == 3


async def test_embed_retries_and_reraises():
    model = client(failures=10)
    from app.backends import BackendUnavailable
    with pytest.raises(BackendUnavailable):
        await model.embed(["a"])
    assert model.backend.calls == 4


async def test_embed_statistics_are_read_through_retry():
    model = client(failures=1)
    assert len(await model.embed(["a", "b"])) == 2
    assert model.embed_statistics()["attempt_number"] == 2


async def test_concurrent_completions():
    model = ModelClient(LocalBackend(latency=0.01))
    results = await asyncio.gather(*(model.complete(f"prompt number {i}") for i in range(5)))
    assert all(r.attempts == 1 for r in results)


async def test_completion_can_be_bounded_by_a_timeout(event_loop):
    model = ModelClient(LocalBackend(latency=0.5))
    started = event_loop.time()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(model.complete("slow"), timeout=0.05)
    assert event_loop.time() - started < 0.4
