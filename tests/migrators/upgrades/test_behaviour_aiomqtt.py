"""Behaviour: an asyncio-mqtt 0.16 producer/consumer pair, migrated by the tool, exchanges messages
through a real Mosquitto container started by the sandbox's dependency module (sandbox.deps), the
same broker the pipeline gives services; a missing engine fails this test, it never skips."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from sandbox.deps import ServiceDeps
from sandbox.engine import labels_for
from tests.migrators.helpers import migrate_twice, read, write_tree

CONSUMER = """
import asyncio
import os
import sys

from asyncio_mqtt import Client as MQTT

HOST, PORT = os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"])


async def main():
    async with MQTT(HOST, PORT, client_id="consumer-1", message_retry_set=20) as client:
        assert client.id == "consumer-1"
        async with client.filtered_messages("sensors/+/temp") as messages:
            await client.subscribe("sensors/#")
            print("READY", flush=True)
            seen = []
            async for message in messages:
                room = message.topic.split("/")[1]
                if message.topic == "sensors/kitchen/temp":
                    seen.append((room, message.payload.decode()))
                if message.payload == b"stop":
                    break
            print("GOT", seen, flush=True)


asyncio.run(main())
"""

PRODUCER = """
import asyncio
import os

import asyncio_mqtt

HOST, PORT = os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"])


async def main():
    client = asyncio_mqtt.Client(HOST, PORT, client_id="producer-1")
    await client.connect(timeout=5)
    await client.publish("sensors/kitchen/humidity", b"40", qos=1)
    await client.publish("sensors/kitchen/temp", b"21.5", qos=1)
    await client.publish("sensors/kitchen/temp", b"stop", qos=1)
    await client.disconnect()


asyncio.run(main())
"""


@pytest.fixture
def broker(docker_client):
    """A fresh Mosquitto container on a private labelled network; the host reaches its address."""
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    with ServiceDeps(docker_client, labels_for(run_id, "deps"), needs=("mosquitto",)) as deps:
        yield {"MQTT_HOST": deps.host_env["MQTT_HOST"], "MQTT_PORT": deps.host_env["MQTT_PORT"]}


def test_migrated_pair_exchanges_messages_through_mosquitto(tmp_path, broker):
    write_tree(
        tmp_path,
        {
            "svc/consumer.py": CONSUMER,
            "svc/producer.py": PRODUCER,
            "requirements.txt": "asyncio-mqtt==0.16.1\npaho-mqtt==1.6.1\n",
        },
    )
    result = migrate_twice(tmp_path, only=["aiomqtt"])
    assert not result.markers, result.markers
    assert read(tmp_path, "requirements.txt") == "aiomqtt==2.5.1\npaho-mqtt>=2.1,<3\n"
    consumer_code = read(tmp_path, "svc/consumer.py")
    assert "client.messages" in consumer_code and 'message.topic.matches("sensors/+/temp")' in consumer_code
    assert consumed(tmp_path / "svc", broker) == "GOT [('kitchen', '21.5'), ('kitchen', 'stop')]"


UNFILTERED_CONSUMER = """
import asyncio
import os

from asyncio_mqtt import Client

HOST, PORT = os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"])


async def main():
    async with Client(HOST, PORT, client_id="consumer-2") as client:
        async with client.unfiltered_messages() as messages:
            await client.subscribe("sensors/#")
            print("READY", flush=True)
            seen = []
            async for message in messages:
                if message.topic == "sensors/kitchen/temp":
                    seen.append((message.topic.split("/")[1], message.payload.decode()))
                if message.payload == b"stop":
                    break
            print("GOT", seen, flush=True)


asyncio.run(main())
"""


def test_migrated_unfiltered_consumer_reads_topics_as_strings_through_mosquitto(tmp_path, broker):
    # unfiltered_messages() was never rewritten (a substring check took it for a filtered context beside
    # it, so it was always marked); rewritten, its paho messages become aiomqtt.Messages whose .topic
    # is a Topic: `message.topic == "..."` would be silently False, `.split` an AttributeError
    write_tree(
        tmp_path,
        {
            "svc/consumer.py": UNFILTERED_CONSUMER,
            "svc/producer.py": PRODUCER,
            "requirements.txt": "asyncio-mqtt==0.16.1\npaho-mqtt==1.6.1\n",
        },
    )
    result = migrate_twice(tmp_path, only=["aiomqtt"])
    assert not result.markers, result.markers
    consumer_code = read(tmp_path, "svc/consumer.py")
    assert (
        "unfiltered_messages" not in consumer_code
        and "async for message in client.messages:" in consumer_code
    )
    assert 'message.topic.value == "sensors/kitchen/temp"' in consumer_code
    assert consumed(tmp_path / "svc", broker) == "GOT [('kitchen', '21.5'), ('kitchen', 'stop')]"


def consumed(svc, broker: dict[str, str]) -> str:
    """What the migrated consumer.py printed (stripped) after the producer's messages went through
    the broker: the consumer starts first and says READY once subscribed; both must exit 0."""
    env = {**os.environ, **broker}
    consumer = subprocess.Popen(
        [sys.executable, "consumer.py"],
        cwd=svc,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert consumer.stdout.readline().strip() == "READY", consumer.stderr.read()
        producer = subprocess.run(
            [sys.executable, "producer.py"], cwd=svc, env=env, text=True, capture_output=True, timeout=30
        )
        assert producer.returncode == 0, producer.stderr
        out, err = consumer.communicate(timeout=30)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert consumer.returncode == 0, err
    return out.strip()
