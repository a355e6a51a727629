"""Helpers shared by the fleet's services: settings, InfluxDB (v2 client), MQTT (asyncio-mqtt).

Built into each image from the `services/` build context (`COPY common/fleet_common ...`).
"""

from fleet_common.config import Settings
from fleet_common.health import HealthReport

__all__ = ["Settings", "HealthReport"]
__version__ = "1.4.0"
