"""Republishing through the real broker (MQTT_HOST/MQTT_PORT)."""

import asyncio
import json
import uuid

import pytest
import pytest_asyncio
from asyncio_mqtt import Client

from app.normalize import normalize
from app.publisher import EventPublisher
from tests.conftest import state_event

pytestmark = [pytest.mark.mqtt, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def publisher(live_settings):
    pub = EventPublisher(live_settings, client_id=f"wsi-test-{uuid.uuid4().hex[:6]}")
    assert await pub.start()
    yield pub
    await pub.stop()


async def test_state_change_is_republished(publisher, live_settings, entity_id):
    change = normalize(state_event(entity_id, state="7.5"))
    topic = f"homeassistant/state/sensor/{change.object_id}"
    async with Client(hostname=live_settings.mqtt_host, port=live_settings.mqtt_port,
                      client_id=f"wsi-sub-{uuid.uuid4().hex[:6]}") as client:
        async with client.messages() as messages:
            await client.subscribe("homeassistant/state/#", qos=1)
            assert await publisher.publish(change)
            async with asyncio.timeout(10):
                async for message in messages:
                    if message.topic.matches(topic):
                        body = json.loads(message.payload)
                        break
    assert body["entity_id"] == entity_id and body["value"] == 7.5


async def test_retained_state_reaches_late_subscribers(publisher, live_settings, entity_id):
    change = normalize(state_event(entity_id, state="on"))
    assert await publisher.publish(change)
    async with Client(hostname=live_settings.mqtt_host, port=live_settings.mqtt_port,
                      client_id=f"wsi-late-{uuid.uuid4().hex[:6]}") as client:
        async with client.filtered_messages(f"homeassistant/state/sensor/{change.object_id}") as messages:
            await client.subscribe(f"homeassistant/state/sensor/{change.object_id}", qos=1)
            async with asyncio.timeout(10):
                async for message in messages:
                    assert message.retain
                    assert json.loads(message.payload)["state"] == "on"
                    break


async def test_publisher_reconnects_after_stop(publisher, entity_id):
    await publisher.stop()
    assert not publisher.connected
    assert await publisher.publish(normalize(state_event(entity_id)))
    assert publisher.connected and publisher.published == 1
