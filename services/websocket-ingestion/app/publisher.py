"""Republishes normalised state changes on MQTT through one long-lived asyncio-mqtt client."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

from asyncio_mqtt import Client, MqttError

from app.normalize import StateChange, topic_for
from fleet_common.config import Settings

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        self.settings = settings
        self.client_id = client_id or f"websocket-ingestion-{socket.gethostname()}"
        self.client: Client | None = None
        self.connected = False
        self.published = 0
        self._lock = asyncio.Lock()

    async def start(self) -> bool:
        async with self._lock:
            if self.connected:
                return True
            self.client = Client(hostname=self.settings.mqtt_host, port=self.settings.mqtt_port,
                                 client_id=self.client_id, keepalive=30)
            try:
                await self.client.connect(timeout=5)
            except MqttError as exc:
                log.warning("mqtt connect failed: %s", exc)
                self.connected = False
                return False
            self.connected = True
            return True

    async def publish(self, change: StateChange) -> bool:
        if not self.connected and not await self.start():
            return False
        try:
            await self.client.publish(topic_for(change), json.dumps(change.as_message()).encode(),
                                      qos=1, retain=True)
        except MqttError as exc:
            log.warning("publish failed, will reconnect: %s", exc)
            self.connected = False
            return False
        self.published += 1
        return True

    async def stop(self) -> None:
        if self.client is not None and self.connected:
            try:
                await self.client.disconnect(timeout=5)
            except MqttError:
                pass
        self.connected = False
