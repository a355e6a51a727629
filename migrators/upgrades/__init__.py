"""The built-in upgrades: one `"module:Class"` line each (entry-point syntax).

The migrator image runs this package from a copied tree, without package metadata, so the built-ins
cannot be entry points; a third-party upgrade is one (group `sandbox.upgrades`, see
docs/architecture.md "Adding an upgrade") and `default_registry` picks up both.
"""

from __future__ import annotations

from functools import cache

from migrators.core.registry import Registry

BUILTINS = (
    "migrators.upgrades.pytest_asyncio:PytestAsyncioUpgrade",
    "migrators.upgrades.tenacity:TenacityUpgrade",
    "migrators.upgrades.aiomqtt:AiomqttUpgrade",
    "migrators.upgrades.influxdb3:Influxdb3Upgrade",
)


@cache  # loading imports every upgrade and reads the installed entry points: once per process
def default_registry() -> Registry:
    return Registry.load(BUILTINS)
