"""MQTT helpers on asyncio-mqtt: publish JSON events and probe the broker for /health."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from asyncio_mqtt import Client, MqttError

from fleet_common.config import Settings

log = logging.getLogger(__name__)


def client_id(service: str) -> str:
    return f"{service}-{uuid.uuid4().hex[:8]}"


async def publish_json(settings: Settings, service: str, topic: str, payload: Any,
                       qos: int = 1, retain: bool = False) -> None:
    """Connect, publish one JSON document, disconnect (for occasional events)."""
    async with Client(hostname=settings.mqtt_host, port=settings.mqtt_port,
                      client_id=client_id(service)) as client:
        await client.publish(topic, json.dumps(payload, default=str).encode(), qos=qos, retain=retain)


async def broker_reachable(settings: Settings, service: str, timeout: float = 3.0) -> bool:
    """Open and close one MQTT session; True when the broker accepted the connection."""
    client = Client(hostname=settings.mqtt_host, port=settings.mqtt_port,
                    client_id=client_id(f"{service}-probe"))
    try:
        await client.connect(timeout=timeout)
    except MqttError as exc:
        log.debug("mqtt probe failed: %s", exc)
        return False
    try:
        await client.disconnect(timeout=timeout)
    except MqttError:
        pass
    return True
