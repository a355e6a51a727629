"""Command round trips through the real broker (MQTT_HOST/MQTT_PORT)."""

import asyncio
import json
import uuid

import pytest
import pytest_asyncio
from asyncio_mqtt import Client

from app.constants import COMPLETED_TOPIC, RUN_TOPIC
from app.listener import CommandListener
from fleet_common.mqtt import broker_reachable

pytestmark = pytest.mark.mqtt


@pytest_asyncio.fixture
async def running_listener(live_settings):
    runs = []

    async def on_run(params):
        runs.append(params)
        return {"status": "ok", "hours": params["hours"], "hourly_points": 0}

    async def on_stats():
        return {}

    listener = CommandListener(live_settings, on_run, on_stats, client_id=f"dr-test-{uuid.uuid4().hex[:6]}",
                               reconnect_interval=0.5)
    task = asyncio.create_task(listener.run_forever())
    for _ in range(100):
        if listener.connected:
            break
        await asyncio.sleep(0.05)
    assert listener.connected, "listener did not connect to the broker"
    yield listener, runs
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


@pytest.mark.asyncio
async def test_broker_probe(live_settings):
    assert await broker_reachable(live_settings, "data-retention")


@pytest.mark.asyncio
async def test_run_now_command_round_trip(running_listener, live_settings):
    listener, runs = running_listener
    async with Client(hostname=live_settings.mqtt_host, port=live_settings.mqtt_port,
                      client_id=f"dr-tester-{uuid.uuid4().hex[:6]}") as client:
        async with client.messages() as messages:
            await client.subscribe(COMPLETED_TOPIC, qos=1)
            await client.publish(RUN_TOPIC, json.dumps({"hours": 2}).encode(), qos=1)
            async with asyncio.timeout(10):
                async for message in messages:
                    if message.topic.matches(COMPLETED_TOPIC):
                        event = json.loads(message.payload)
                        break
    assert event == {"status": "ok", "hours": 2, "hourly_points": 0}
    assert runs == [{"hours": 2, "expire": True}]


@pytest.mark.asyncio
async def test_other_commands_are_ignored(running_listener, live_settings):
    listener, runs = running_listener
    async with Client(hostname=live_settings.mqtt_host, port=live_settings.mqtt_port,
                      client_id=f"dr-other-{uuid.uuid4().hex[:6]}") as client:
        await client.publish("retention/commands/unknown", b"{}", qos=1)
        await client.publish(RUN_TOPIC, b"", qos=1)
    for _ in range(200):
        if runs:
            break
        await asyncio.sleep(0.05)
    assert runs == [{"hours": 24, "expire": True}]
    assert listener.handled == 2


@pytest.mark.asyncio
async def test_listener_reconnects_after_cancel(live_settings):
    async def on_run(params):
        return {}

    async def on_stats():
        return {}

    listener = CommandListener(live_settings, on_run, on_stats, client_id=f"dr-re-{uuid.uuid4().hex[:6]}")
    for _ in range(2):
        task = asyncio.create_task(listener.listen_once())
        for _ in range(100):
            if listener.connected:
                break
            await asyncio.sleep(0.05)
        assert listener.connected
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        listener.connected = False
