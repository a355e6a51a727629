import os
import uuid

import pytest

from fleet_common.config import Settings


def state_event(entity_id="sensor.kitchen_temperature", state="21.5", old="21.0", when="2024-05-01T10:00:00+00:00",
                **attributes):
    return {
        "event_type": "state_changed",
        "time_fired": when,
        "data": {
            "entity_id": entity_id,
            "old_state": {"state": old} if old is not None else None,
            "new_state": {"state": state, "last_changed": when, "attributes": attributes},
        },
    }


class FakeWriter:
    def __init__(self, settings=None, reachable=True):
        self.reachable = reachable
        self.changes = []
        self.written_batches = 0
        self.failed_batches = 0
        self.closed = False

    def ping(self):
        return self.reachable

    def write(self, changes):
        self.changes.extend(changes)
        self.written_batches += 1
        return len(changes)

    def recent(self, entity_id, limit=20):
        return [{"entity_id": c.entity_id, "state": c.state} for c in self.changes if c.entity_id == entity_id][:limit]

    def close(self):
        self.closed = True


class FakePublisher:
    def __init__(self, settings=None, up=True):
        self.up = up
        self.connected = False
        self.messages = []
        self.published = 0

    async def start(self):
        self.connected = self.up
        return self.connected

    async def publish(self, change):
        self.messages.append(change)
        self.published += 1
        return True

    async def stop(self):
        self.connected = False


def _require(name: str) -> None:
    if not os.environ.get(name):
        pytest.fail(f"{name} is not set: integration tests need the sandbox dependencies "
                    f"(or deselect them with -m 'not influx and not mqtt')", pytrace=False)


@pytest.fixture
def live_settings() -> Settings:
    _require("INFLUXDB_URL")
    _require("MQTT_HOST")
    return Settings.from_env()


@pytest.fixture
def entity_id() -> str:
    return f"sensor.test_{uuid.uuid4().hex[:10]}"
