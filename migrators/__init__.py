"""libcst codemods for the sandbox's library upgrades. What `sandbox` uses, and nothing else:

    from migrators import migrate_tree
    result = migrate_tree(Path("services/foo"), write=False)
    print(result.diff()); result.to_json()

Only libcst and tomlkit are needed (this package runs in the network-less migrator image). The
framework is in `migrators.core`, the file rewriters in `migrators.files`, one upgrade per module
(or package) in `migrators.upgrades`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from migrators.core import runner
from migrators.core.profile import Profile
from migrators.core.registry import Registry
from migrators.core.results import TreeResult
from migrators.core.upgrade import Upgrade
from migrators.core.versions import Versions
from migrators.upgrades import default_registry

__all__ = [
    "TreeResult",
    "detect_upgrades",
    "migrate_tree",
    "rule_catalogue",
    "target_versions",
    "upgrade_for_rule",
    "upgrade_names",
]


def migrate_tree(
    root: Path | str,
    upgrades: Iterable[Upgrade | str] | None = None,
    write: bool = False,
    versions: Versions | None = None,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    registry: Registry | None = None,
    jobs: int = 1,
    profile: Profile | None = None,
) -> TreeResult:
    """Run upgrades over a tree. `upgrades=None` detects them (or uses `only`). Writes only if `write`.

    `jobs` > 1 runs worker processes (same result, same order); `profile` collects seconds per phase."""
    return runner.migrate_tree(
        root,
        registry=registry or default_registry(),
        upgrades=upgrades,
        write=write,
        versions=versions,
        only=only,
        skip=skip,
        progress=progress,
        jobs=jobs,
        profile=profile,
    )


def detect_upgrades(path: Path | str) -> list[str]:
    """Names of the upgrades that apply to the folder at `path` (imports, requirements, pytest config)."""
    return default_registry().detect_upgrades(path)


def upgrade_names() -> list[str]:
    return default_registry().names()


def target_versions() -> dict[str, str]:
    """Target release per package, as the upgrades declare them (what `sandbox` records with a diff)."""
    return default_registry().target_versions()


def upgrade_modules() -> dict[str, list[str]]:
    """Upgrade name -> the top-level modules its services import (those that signal it)."""
    return {upgrade.name: list(upgrade.modules) for upgrade in default_registry().upgrades}


def upgrade_for_rule(rule_id: str) -> str | None:
    """The upgrade that owns a rule id ("IX-9" -> "influxdb3"), None when no upgrade declares it."""
    return default_registry().upgrade_for_rule(rule_id)


def rule_catalogue() -> dict[str, dict[str, str]]:
    """Upgrade name -> {rule id: one line}; docs/rules.md explains each id."""
    return default_registry().rule_catalogue()
