from datetime import timedelta

import pytest

from app.events import Event
from app.miner import mine, sequence_patterns, time_patterns
from tests.conftest import START


def test_event_parse():
    event = Event.parse({"time": "2024-04-01T06:45:00Z", "entity_id": "light.kitchen", "state": "on"})
    assert event.key == "light.kitchen=on" and event.time.tzinfo is not None


def test_event_parse_rejects_bad_entity():
    with pytest.raises(ValueError):
        Event.parse({"time": "2024-04-01T06:45:00", "entity_id": "kitchen", "state": "on"})


async def test_morning_light_is_a_time_pattern(corpus):
    patterns = {p.action: p for p in time_patterns(corpus)}
    kitchen = patterns["light.kitchen=on"]
    assert kitchen.trigger == "06:50" and kitchen.support == 7
    assert kitchen.confidence == 1.0


async def test_drifting_events_are_not_time_patterns(corpus):
    assert "media_player.tv=on" not in {p.action for p in time_patterns(corpus)}


async def test_coffee_follows_kitchen_light(corpus):
    sequences = sequence_patterns(corpus)
    assert sequences[0].trigger == "light.kitchen=on"
    assert sequences[0].action == "switch.coffee_maker=on"
    assert sequences[0].support == 7 and sequences[0].confidence == 1.0


async def test_window_limits_sequences(corpus):
    keys = {(p.trigger, p.action) for p in sequence_patterns(corpus, window_s=3600)}
    assert ("lock.front_door=locked", "light.hall=off") not in keys  # only 4 of 7 days: conf 0.57
    assert ("lock.front_door=locked", "light.hall=off") in {
        (p.trigger, p.action) for p in sequence_patterns(corpus, window_s=3600, min_confidence=0.5)}


def test_same_entity_is_not_a_sequence():
    events = [Event(START + timedelta(minutes=i), "light.a", "on" if i % 2 else "off") for i in range(10)]
    assert sequence_patterns(events, min_support=1) == []


async def test_mine_runs_both_miners(corpus):
    result = await mine(corpus)
    kinds = {p.kind for p in result.patterns}
    assert result.events == len(corpus) and kinds == {"time", "sequence"}


async def test_mine_empty_history():
    assert (await mine([])).patterns == []


async def test_store_keeps_latest_per_source(store, corpus):
    first = await mine(corpus[:10])
    second = await mine(corpus)
    await store.save("home", first)
    await store.save("home", second)
    mined_at, latest = await store.latest("home")
    assert latest is second and mined_at.tzinfo is not None
    assert await store.latest("other") is None
