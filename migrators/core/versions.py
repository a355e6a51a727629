"""The versions table of a run: target release per package and the pins those targets force.

Nothing here names an upgrade: each upgrade declares its target package and default release
(`Upgrade.packages.new`, `Upgrade.target_version`) and the pins its target forces on other
packages (`Upgrade.forced_pins`); the registry hands those to :func:`load_versions`. Override the
targets with a TOML file (`python -m migrators DIR --versions versions.toml`)::

    [targets]
    some-package = "1.3.0"

    [forced]
    pytest = ">=8.2"

or per run with `--target some-package=1.3.0`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomlkit


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
    """targets: package -> release. pinners: each upgrade's `forced_pins`, asked again whenever the
    targets change (a pin may depend on the target: a newer plugin release needing a newer pytest)."""

    targets: Mapping[str, str] = field(default_factory=dict)
    forced_overrides: Mapping[str, str] = field(default_factory=dict)
    pinners: tuple[Callable[[Versions], Mapping[str, str]], ...] = ()

    def target(self, package: str) -> str:
        return self.targets[package]

    def at_least(self, package: str, floor: str) -> bool:
        return version_at_least(self.targets[package], floor)

    @property
    def forced(self) -> dict[str, str]:
        """Pins that the targets force on other packages (package -> specifier)."""
        pins: dict[str, str] = {}
        for pinner in self.pinners:
            pins.update(pinner(self))
        pins.update(self.forced_overrides)
        return pins

    def with_targets(self, **targets: str) -> Versions:
        return replace(self, targets={**self.targets, **targets})

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"targets": dict(self.targets), "forced": self.forced}


def load_versions(
    defaults: Mapping[str, str],
    pinners: Iterable[Callable[[Versions], Mapping[str, str]]] = (),
    path: Path | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Versions:
    """`defaults`, then a TOML file's [targets]/[forced] tables, then `overrides` (package -> version)."""
    targets = dict(defaults)
    forced: dict[str, str] = {}
    if path is not None:
        data = tomlkit.parse(Path(path).read_text()).unwrap()
        table = data.get("tool", {}).get("sandbox", {}).get("versions", data)
        targets.update({str(k): str(v) for k, v in table.get("targets", {}).items()})
        forced.update({str(k): str(v) for k, v in table.get("forced", {}).items()})
    targets.update(overrides or {})
    return Versions(targets=targets, forced_overrides=forced, pinners=tuple(pinners))
