"""Throwaway dependencies (InfluxDB 3, Mosquitto, ...) per service, on a private network.

One module per dependency (`influxdb3.py`, `mosquitto.py`) declares a `Dependency`; `registry.py`
lists them (one line each) and is what `sandbox.toml`'s `needs` is validated against; `service.py`
starts the ones a service needs. This is the face the rest of `sandbox` imports.
"""

from sandbox.deps.base import Dependency, SmokeRunner, container_ip, container_logs, http_smoke
from sandbox.deps.registry import (
    DEFAULT_NEEDS,
    DEPENDENCIES,
    ENTRY_POINT_GROUP,
    dependencies,
    register,
    smoke_runners,
    unregister,
)
from sandbox.deps.service import ServiceDeps

__all__ = [
    "DEFAULT_NEEDS",
    "DEPENDENCIES",
    "ENTRY_POINT_GROUP",
    "Dependency",
    "ServiceDeps",
    "SmokeRunner",
    "container_ip",
    "container_logs",
    "dependencies",
    "http_smoke",
    "register",
    "smoke_runners",
    "unregister",
]
