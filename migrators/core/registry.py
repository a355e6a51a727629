"""The upgrades this package knows, and detection of the ones that apply to a service tree."""

from __future__ import annotations

import importlib
from pathlib import Path

from migrators.framework import ProjectTree, Upgrade

# (upgrade name, module, class). A module that is missing (another engineer's, not written yet)
# is left out rather than failing the others.
_KNOWN = (
    ("pytest-asyncio", "migrators.pytest_asyncio", "PytestAsyncioUpgrade"),
    ("tenacity", "migrators.tenacity", "TenacityUpgrade"),
    ("aiomqtt", "migrators.aiomqtt", "AiomqttUpgrade"),
    ("influxdb3", "migrators.influxdb3", "Influxdb3Upgrade"),
)

_cache: dict[str, Upgrade] | None = None


def all_upgrades() -> list[Upgrade]:
    global _cache
    if _cache is None:
        found: dict[str, Upgrade] = {}
        for name, module_name, class_name in _KNOWN:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    continue
                raise
            cls = getattr(module, class_name, None)
            if cls is None:  # tolerate another naming in a module we don't own
                cls = next(
                    (
                        v
                        for v in vars(module).values()
                        if isinstance(v, type)
                        and issubclass(v, Upgrade)
                        and v is not Upgrade
                        and v.name == name
                    ),
                    None,
                )
            if cls is not None:
                found[name] = cls()
        _cache = found
    return list(_cache.values())


def names() -> list[str]:
    return [u.name for u in all_upgrades()]


def get(name: str) -> Upgrade:
    for upgrade in all_upgrades():
        if upgrade.name == name:
            return upgrade
    raise KeyError(f"unknown upgrade {name!r}; known: {', '.join(names())}")


def detect(tree: ProjectTree) -> list[Upgrade]:
    return [u for u in all_upgrades() if u.detect(tree)]


def detect_upgrades(path: Path | str) -> list[str]:
    """Names of the upgrades that apply to the tree at `path` (imports, requirements, pytest config)."""
    path = Path(path)
    if not path.exists():
        return []
    return [u.name for u in detect(ProjectTree(path))]
