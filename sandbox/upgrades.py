"""Which upgrades apply to a service, their target versions, and which upgrade a rule belongs to.

All three come from the top-level face of `migrators`, through sandbox.upgrade_facts (which answers
without importing the codemods when it can); the sandbox names no upgrade itself. Detection looks at
the service folder and its shared paths (imports, requirements, pytest config); `sandbox.toml
[migrations] include/exclude` overrides it.
"""

from __future__ import annotations

from sandbox.config import ServiceConfig
from sandbox.upgrade_facts import detect_upgrades, target_versions, upgrade_for_rule

__all__ = ["detect_migrations", "target_versions", "upgrade_for_rule"]


def detect_migrations(config: ServiceConfig) -> list[str]:
    found: set[str] = set()
    for path in (config.path, *(config.services_root / shared for shared in config.shared)):
        found.update(detect_upgrades(path))
    found.update(config.migrations_include)
    found.difference_update(config.migrations_exclude)
    return sorted(found)
