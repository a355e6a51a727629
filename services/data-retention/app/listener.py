"""MQTT "run now" commands: retention/commands/run triggers a run, the result goes to
retention/events/completed."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable

from asyncio_mqtt import Client, MqttError

from app.constants import COMMAND_FILTER, COMPLETED_TOPIC, RUN_TOPIC, STATS_EVENT_TOPIC, STATS_TOPIC
from app.job import CommandError, parse_command
from fleet_common.config import Settings

log = logging.getLogger(__name__)

RunCallback = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
StatsCallback = Callable[[], Awaitable[dict[str, Any]]]


class CommandListener:
    def __init__(self, settings: Settings, on_run: RunCallback, on_stats: StatsCallback,
                 client_id: str = "data-retention", reconnect_interval: float = 3.0) -> None:
        self.settings = settings
        self.on_run = on_run
        self.on_stats = on_stats
        self.client_id = client_id
        self.reconnect_interval = reconnect_interval
        self.connected = False
        self.handled = 0

    async def run_forever(self) -> None:
        while True:
            try:
                await self.listen_once()
            except MqttError as exc:
                log.warning("mqtt connection lost (%s); reconnecting in %ss", exc, self.reconnect_interval)
            finally:
                self.connected = False
            await asyncio.sleep(self.reconnect_interval)

    async def listen_once(self) -> None:
        async with Client(hostname=self.settings.mqtt_host, port=self.settings.mqtt_port,
                          client_id=self.client_id) as client:
            async with client.filtered_messages(COMMAND_FILTER) as messages:
                await client.subscribe(COMMAND_FILTER, qos=1)
                self.connected = True
                log.info("listening on %s", COMMAND_FILTER)
                async for message in messages:
                    self.handled += 1
                    if message.topic == RUN_TOPIC:
                        await self.run_command(client, message.payload)
                    elif message.topic == STATS_TOPIC:
                        await self.stats_command(client)
                    else:
                        log.debug("ignoring command on %s", message.topic)

    async def run_command(self, client: Any, payload: bytes) -> None:
        try:
            params = parse_command(payload)
        except CommandError as exc:
            await client.publish(COMPLETED_TOPIC, json.dumps({"status": "rejected", "error": str(exc)}).encode(), qos=1)
            return
        result = await self.on_run(params)
        await client.publish(COMPLETED_TOPIC, json.dumps(result, default=str).encode(), qos=1)

    async def stats_command(self, client: Any) -> None:
        stats = await self.on_stats()
        await client.publish(STATS_EVENT_TOPIC, json.dumps(stats, default=str).encode(), qos=1)
