import math

import pytest

from app.backends import DIMENSIONS, BackendUnavailable, FlakyBackend, LocalBackend


@pytest.mark.asyncio
async def test_completion_is_deterministic():
    backend = LocalBackend()
    prompt = "Summarise: the heat pump ran longer than usual during the cold night"
    assert await backend.complete(prompt, 3) == await backend.complete(prompt, 3)
    assert len((await backend.complete(prompt, 3)).split()) == 3


@pytest.mark.asyncio
async def test_embeddings_are_unit_vectors():
    vectors = await LocalBackend().embed(["kitchen light on", "garage door open"])
    assert len(vectors) == 2 and all(len(v) == DIMENSIONS for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vectors)


@pytest.mark.asyncio
async def test_similar_texts_are_closer():
    a, b, c = await LocalBackend().embed(["kitchen light on", "kitchen light off", "pay the electricity bill"])
    dot = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
    assert dot(a, b) > dot(a, c)


@pytest.mark.asyncio
async def test_empty_text_embeds_to_zero():
    assert set((await LocalBackend().embed([""]))[0]) == {0.0}


@pytest.mark.asyncio
async def test_flaky_backend_fails_then_recovers():
    backend = FlakyBackend(LocalBackend(), failures=1)
    with pytest.raises(BackendUnavailable):
        await backend.embed(["x"])
    assert await backend.embed(["x"])
