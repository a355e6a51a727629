"""Which upgrades exist: the built-ins a caller passes in, plus the `sandbox.upgrades` entry points.

The framework names no upgrade. `migrators.upgrades.BUILTINS` lists the built-in ones as
`"module:Class"` references (the migrator image runs from a copied tree with no package metadata, so
they cannot come from entry points); a team ships its own upgrade as an installed package with

    [project.entry-points."sandbox.upgrades"]
    pydantic2 = "acme_upgrades.pydantic2:Pydantic2Upgrade"
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from migrators.core.results import rule_prefix
from migrators.core.tree import ProjectTree
from migrators.core.upgrade import Upgrade
from migrators.core.versions import Versions, load_versions

ENTRY_POINT_GROUP = "sandbox.upgrades"


class RegistryError(Exception):
    """Two upgrades claim one name or rule prefix, or a reference does not load an Upgrade."""


def load_reference(reference: str) -> Upgrade:
    """'package.module:Class' (entry-point syntax) -> an instance of that Upgrade subclass."""
    module_name, _, attribute = reference.partition(":")
    target = importlib.import_module(module_name.strip())
    for part in attribute.strip().split(".") if attribute.strip() else ():
        target = getattr(target, part)
    if isinstance(target, type) and issubclass(target, Upgrade):
        return target()
    if isinstance(target, Upgrade):
        return target
    raise RegistryError(f"{reference} is not an Upgrade subclass")


def entry_point_references(group: str = ENTRY_POINT_GROUP) -> list[str]:
    return [entry.value for entry in entry_points(group=group)]


@dataclass(frozen=True)
class Registry:
    upgrades: tuple[Upgrade, ...]

    def __post_init__(self) -> None:
        check_declarations(self.upgrades)

    @classmethod
    def load(cls, builtins: Iterable[str], group: str = ENTRY_POINT_GROUP) -> Registry:
        """Built-in references, then every installed entry point of `group` (each reference once)."""
        references = list(dict.fromkeys([*builtins, *entry_point_references(group)]))
        return cls(tuple(load_reference(reference) for reference in references))

    def with_upgrades(self, *extra: Upgrade) -> Registry:
        return Registry((*self.upgrades, *extra))

    def names(self) -> list[str]:
        return [u.name for u in self.upgrades]

    def get(self, name: str) -> Upgrade:
        for upgrade in self.upgrades:
            if upgrade.name == name:
                return upgrade
        raise KeyError(f"unknown upgrade {name!r}; known: {', '.join(self.names())}")

    def detect(self, tree: ProjectTree) -> list[Upgrade]:
        return [u for u in self.upgrades if u.detect(tree)]

    def detect_upgrades(self, path: Path | str) -> list[str]:
        """Names of the upgrades that apply to the tree at `path` (imports, requirements, pytest config)."""
        path = Path(path)
        if not path.exists():
            return []
        return [u.name for u in self.detect(ProjectTree(path))]

    def owners(self) -> dict[str, str]:
        """Rule prefix -> upgrade name."""
        return {u.rule_prefix: u.name for u in self.upgrades}

    def upgrade_for_rule(self, rule_id: str) -> str | None:
        return self.owners().get(rule_prefix(rule_id))

    def rule_catalogue(self) -> dict[str, dict[str, str]]:
        """Upgrade name -> {rule id: one line}."""
        return {u.name: dict(u.rules) for u in self.upgrades}

    def target_versions(self) -> dict[str, str]:
        """Target package -> default release, as the upgrades declare them."""
        return {u.packages.new: u.target_version for u in self.upgrades if u.packages.new}

    def versions(self, path: Path | None = None, overrides: dict[str, str] | None = None) -> Versions:
        pinners = [u.forced_pins for u in self.upgrades]
        return load_versions(self.target_versions(), pinners, path, overrides)


def check_declarations(upgrades: Iterable[Upgrade]) -> None:
    """Every upgrade has a unique name and rule prefix, and every rule id carries its prefix."""
    names: set[str] = set()
    prefixes: dict[str, str] = {}
    for upgrade in upgrades:
        if not upgrade.name or upgrade.name in names:
            raise RegistryError(f"upgrade name {upgrade.name!r} is empty or registered twice")
        names.add(upgrade.name)
        if not upgrade.rule_prefix or upgrade.rule_prefix in prefixes:
            owner = prefixes.get(upgrade.rule_prefix)
            raise RegistryError(
                f"{upgrade.name}: rule prefix {upgrade.rule_prefix!r} empty or owned by {owner}"
            )
        prefixes[upgrade.rule_prefix] = upgrade.name
        stray = [rule for rule in upgrade.rules if rule_prefix(rule) != upgrade.rule_prefix]
        if stray:
            raise RegistryError(f"{upgrade.name}: rules {stray} do not start with {upgrade.rule_prefix}-")
