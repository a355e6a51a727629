"""The one versions table: target releases of each upgrade and the pins they force.

Defaults are the newest releases the tests pass with. Override them with a TOML file
(`python -m migrators DIR --versions versions.toml`)::

    [targets]
    pytest-asyncio = "1.3.0"

    [forced]
    pytest = ">=8.2"

or per run with `--target pytest-asyncio=1.3.0`. Forced pins not given explicitly are derived
from the targets (pytest >= 8.4 for pytest-asyncio >= 1.4, >= 8.2 below; paho-mqtt >= 2.1 for
aiomqtt >= 2.2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomlkit

DEFAULT_TARGETS: dict[str, str] = {
    "pytest-asyncio": "1.5.0",
    "tenacity": "9.2.1",
    "aiomqtt": "2.5.1",
    "influxdb3-python": "0.21.0",
}


def default_versions() -> dict[str, str]:
    """Target version per package (what `sandbox` records with a verified diff)."""
    return dict(DEFAULT_TARGETS)


def parse_version(text: str) -> tuple[int, ...]:
    """'1.4.1.post1' -> (1, 4, 1); good enough for comparing release numbers."""
    parts = []
    for piece in text.strip().split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    return tuple(parts)


def version_at_least(version: str, floor: str) -> bool:
    have, want = parse_version(version), parse_version(floor)
    width = max(len(have), len(want))
    return have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))


@dataclass(frozen=True)
class Versions:
    targets: Mapping[str, str] = field(default_factory=default_versions)
    forced_overrides: Mapping[str, str] = field(default_factory=dict)

    def target(self, package: str) -> str:
        return self.targets[package]

    def at_least(self, package: str, floor: str) -> bool:
        return version_at_least(self.targets[package], floor)

    @property
    def forced(self) -> dict[str, str]:
        """Pins that the targets force on other packages (package -> specifier)."""
        pins: dict[str, str] = {}
        if "pytest-asyncio" in self.targets:
            pins["pytest"] = ">=8.4" if self.at_least("pytest-asyncio", "1.4") else ">=8.2"
        if "aiomqtt" in self.targets:
            pins["paho-mqtt"] = ">=2.1,<3" if self.at_least("aiomqtt", "2.2") else ">=2.0,<3"
        pins.update(self.forced_overrides)
        return pins

    def with_targets(self, **targets: str) -> Versions:
        return replace(self, targets={**self.targets, **targets})

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"targets": dict(self.targets), "forced": self.forced}


def load_versions(path: Path | None = None, overrides: Mapping[str, str] | None = None) -> Versions:
    """Defaults, then a TOML file's [targets]/[forced] tables, then `overrides` (package -> version)."""
    targets = default_versions()
    forced: dict[str, str] = {}
    if path is not None:
        data = tomlkit.parse(Path(path).read_text()).unwrap()
        table = data.get("tool", {}).get("sandbox", {}).get("versions", data)
        targets.update({str(k): str(v) for k, v in table.get("targets", {}).items()})
        forced.update({str(k): str(v) for k, v in table.get("forced", {}).items()})
    targets.update(overrides or {})
    return Versions(targets=targets, forced_overrides=forced)
