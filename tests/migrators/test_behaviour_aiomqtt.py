"""Behaviour: an asyncio-mqtt 0.16 producer/consumer pair, migrated by the tool, exchanges messages
through a real Mosquitto (the host's `mosquitto` binary on a random loopback port; CI installs
Debian's `mosquitto` package — a missing binary fails this test, it never skips)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.migrators.helpers import migrate_twice, read, write_tree

CONSUMER = '''
import asyncio
import os
import sys

from asyncio_mqtt import Client as MQTT

PORT = int(os.environ["MQTT_PORT"])


async def main():
    async with MQTT("127.0.0.1", PORT, client_id="consumer-1", message_retry_set=20) as client:
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
'''

PRODUCER = '''
import asyncio
import os

import asyncio_mqtt

PORT = int(os.environ["MQTT_PORT"])


async def main():
    client = asyncio_mqtt.Client("127.0.0.1", PORT, client_id="producer-1")
    await client.connect(timeout=5)
    await client.publish("sensors/kitchen/humidity", b"40", qos=1)
    await client.publish("sensors/kitchen/temp", b"21.5", qos=1)
    await client.publish("sensors/kitchen/temp", b"stop", qos=1)
    await client.disconnect()


asyncio.run(main())
'''


def _mosquitto() -> str:
    found = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
                                                 if os.path.exists(p)), None)
    if not found:
        pytest.fail("the `mosquitto` binary is missing: install Debian's `mosquitto` package "
                    "(apt-get install -y mosquitto); this test needs a real broker", pytrace=False)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker(tmp_path):
    binary = _mosquitto()
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"mosquitto exited: {proc.stdout.read().decode()}", pytrace=False)
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("mosquitto did not listen within 10s", pytrace=False)
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_migrated_pair_exchanges_messages_through_mosquitto(tmp_path, broker):
    write_tree(tmp_path, {"svc/consumer.py": CONSUMER, "svc/producer.py": PRODUCER,
                          "requirements.txt": "asyncio-mqtt==0.16.1\npaho-mqtt==1.6.1\n"})
    result = migrate_twice(tmp_path, only=["aiomqtt"])
    assert not result.markers, result.markers
    assert read(tmp_path, "requirements.txt") == "aiomqtt==2.5.1\npaho-mqtt>=2.1,<3\n"
    consumer_code = read(tmp_path, "svc/consumer.py")
    assert "client.messages" in consumer_code and 'message.topic.matches("sensors/+/temp")' in consumer_code
    env = {**os.environ, "MQTT_PORT": str(broker)}
    svc = tmp_path / "svc"
    consumer = subprocess.Popen([sys.executable, "consumer.py"], cwd=svc, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert consumer.stdout.readline().strip() == "READY", consumer.stderr.read()
        producer = subprocess.run([sys.executable, "producer.py"], cwd=svc, env=env, text=True,
                                  capture_output=True, timeout=30)
        assert producer.returncode == 0, producer.stderr
        out, err = consumer.communicate(timeout=30)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert consumer.returncode == 0, err
    assert out.strip() == "GOT [('kitchen', '21.5'), ('kitchen', 'stop')]"
