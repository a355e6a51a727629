"""Batched writes against the InfluxDB named by INFLUXDB_URL; Flux reads (`flux`) fail on InfluxDB 3
until the service is migrated."""

from datetime import datetime, timedelta, timezone

import pytest

from app.normalize import normalize
from app.writer import EventWriter
from tests.conftest import state_event

pytestmark = pytest.mark.influx


def recent_events(entity_id, count):
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    return [normalize(state_event(entity_id, state=str(20 + i), when=(start + timedelta(minutes=i)).isoformat()))
            for i in range(count)]


def test_ping(live_settings):
    writer = EventWriter(live_settings)
    try:
        assert writer.ping()
    finally:
        writer.close()


def test_batches_are_accepted(live_settings, entity_id):
    writer = EventWriter(live_settings, batch_size=5, flush_interval_ms=200)
    writer.write(recent_events(entity_id, 12))
    writer.close()  # flushes the pending batch
    assert writer.failed_batches == 0, writer.last_error
    assert writer.written_batches >= 3


def test_text_and_numeric_states_share_the_table(live_settings, entity_id):
    writer = EventWriter(live_settings, batch_size=10)
    writer.write([normalize(state_event(entity_id, state="on")), normalize(state_event(entity_id, state="3"))])
    writer.close()
    assert writer.failed_batches == 0, writer.last_error


@pytest.mark.flux
def test_recent_reads_back_newest_first(live_settings, entity_id):
    writer = EventWriter(live_settings, batch_size=10)
    writer.write(recent_events(entity_id, 4))
    writer.close()

    reader = EventWriter(live_settings)
    try:
        rows = reader.recent(entity_id, limit=3)
    finally:
        reader.close()

    assert [row["state"] for row in rows] == ["23", "22", "21"]
    assert {row["entity_id"] for row in rows} == {entity_id}


@pytest.mark.flux
def test_recent_for_unknown_entity_is_empty(live_settings, entity_id):
    writer = EventWriter(live_settings, batch_size=1)
    writer.write(recent_events(entity_id, 1))
    writer.close()
    reader = EventWriter(live_settings)
    try:
        assert reader.recent("sensor.never_seen_" + entity_id.split("_")[-1]) == []
    finally:
        reader.close()
