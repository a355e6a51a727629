import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from app.events import Event
from app.store import PatternStore

START = datetime(2024, 4, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def event_loop():
    """One loop for the whole session: the corpus fixture below is session-scoped and async."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def build_corpus(days: int = 7) -> list[Event]:
    events = []
    for day in range(days):
        morning = START + timedelta(days=day, hours=6, minutes=45 + (day % 3) * 5)
        events.append(Event(morning, "light.kitchen", "on"))
        events.append(Event(morning + timedelta(seconds=40), "switch.coffee_maker", "on"))
        evening = START + timedelta(days=day, hours=22, minutes=10)
        events.append(Event(evening, "lock.front_door", "locked"))
        if day % 2 == 0:
            events.append(Event(evening + timedelta(minutes=30), "light.hall", "off"))
        events.append(Event(START + timedelta(days=day, hours=day + 8), "media_player.tv", "on"))
    return events


@pytest.fixture(scope="session")
async def corpus():
    await asyncio.sleep(0)  # stands in for loading a recorded history
    return build_corpus()


@pytest.fixture
async def store():
    store = PatternStore()
    yield store
    assert await store.sources() is not None
