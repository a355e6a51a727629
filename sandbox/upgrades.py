"""Which upgrades apply to a service, and the target versions: both come from `migrators`.

Detection looks at the service folder and its shared paths (imports, requirements, pytest
config); `sandbox.toml [migrations] include/exclude` overrides it.
"""

from __future__ import annotations

from sandbox.inventory import ServiceConfig


def detect_migrations(config: ServiceConfig) -> list[str]:
    from migrators.registry import detect_upgrades

    found: set[str] = set()
    for path in (config.path, *(config.services_root / shared for shared in config.shared)):
        found.update(detect_upgrades(path))
    found.update(config.migrations_include)
    found.difference_update(config.migrations_exclude)
    return sorted(found)


def target_versions() -> dict[str, str]:
    from migrators.versions import default_versions

    return dict(default_versions())
