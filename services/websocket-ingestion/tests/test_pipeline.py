import pytest
import pytest_asyncio

from app.main import Pipeline
from tests.conftest import FakePublisher, FakeWriter, state_event

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def pipeline():
    publisher = FakePublisher()
    await publisher.start()
    yield Pipeline(FakeWriter(), publisher)
    await publisher.stop()


async def test_ingest_counts(pipeline):
    result = await pipeline.ingest([state_event(), state_event("light.x", state="on")])
    assert result == {"accepted": 2, "rejected": 0, "errors": []}
    assert pipeline.accepted == 2


async def test_rejections_are_reported(pipeline):
    result = await pipeline.ingest([{"event_type": "nope"}])
    assert result["accepted"] == 0 and result["rejected"] == 1
    assert "unsupported event type" in result["errors"][0]
    assert pipeline.writer.written_batches == 0


async def test_one_write_per_batch(pipeline):
    await pipeline.ingest([state_event(), state_event(), state_event()])
    assert pipeline.writer.written_batches == 1
    assert pipeline.publisher.published == 3
