"""Which upgrades apply to a service, their target versions, and which upgrade a rule belongs to.

All of it comes from the top-level face of `migrators`; the sandbox names no upgrade itself.
Detection looks at the service folder and its shared paths (imports, requirements, pytest
config); `sandbox.toml [migrations] include/exclude` overrides it.

Importing `migrators` imports libcst (seconds on a loaded machine), which only the codemods need:
every command would pay it at start. So `migrators` is imported here only when an answer is not
in the facts cache: the registry's facts (upgrade names, target versions, rule owners) keyed by the
codemods' source and the installed upgrade entry points, and each detection keyed by that same
key plus the content of the folders it read. A change to either computes afresh; a cache that
cannot be read or written is only slower, never wrong.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from sandbox.config import ServiceConfig

__all__ = ["detect_migrations", "migrators_dir", "target_versions", "upgrade_for_rule", "upgrade_names"]

# migrators.core.registry.ENTRY_POINT_GROUP: third-party upgrades; installing one changes the facts
ENTRY_POINT_GROUP = "sandbox.upgrades"
FACTS_FILE = "upgrade-facts.json"
DETECTIONS_KEPT = 500  # detections remembered per facts key: a monorepo's services, several versions each
_write_lock = threading.Lock()  # the fleet's workers detect at once; one writer at a time per process


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry declares, as data: enough to answer without loading an upgrade."""

    names: list[str]
    targets: dict[str, str]  # target package -> default release
    owners: dict[str, str]  # rule prefix ("IX") -> upgrade name


def migrators_dir() -> Path:
    """The `migrators` package folder, found without importing it (its __init__ imports libcst)."""
    spec = importlib.util.find_spec("migrators")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the migrators package is not importable")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    """Where the facts are kept: SANDBOX_CACHE_DIR, else the user's cache folder."""
    explicit = os.environ.get("SANDBOX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sandbox"


@cache  # per process: the source and the installed packages do not change under a running command
def facts_key() -> str:
    """The codemods' source plus the installed upgrade entry points (reference and version)."""
    from sandbox.records import source_hash  # records imports this module: no cycle at import time

    plugins = sorted(
        f"{entry.value}@{entry.dist.version if entry.dist else ''}"
        for entry in entry_points(group=ENTRY_POINT_GROUP)
    )
    return hashlib.sha256(json.dumps([source_hash(migrators_dir()), plugins]).encode()).hexdigest()[:16]


def _load() -> dict:
    try:
        data = json.loads((cache_dir() / FACTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("key") == facts_key() else {}


def _store(update: dict) -> None:
    """Merge `update` into the file (atomically: a reader never sees half a file)."""
    with _write_lock:
        data = _load() or {"key": facts_key()}
        for name, value in update.items():
            data[name] = {**data.get(name, {}), **value} if isinstance(value, dict) else value
        detections = data.get("detections", {})
        data["detections"] = dict(list(detections.items())[-DETECTIONS_KEPT:])
        try:
            folder = cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
                json.dump(data, handle)
            os.replace(handle.name, folder / FACTS_FILE)
        except OSError:  # a read-only home: answers are computed each time, as without the cache
            pass


@cache
def registry_facts() -> RegistryFacts:
    stored = _load().get("registry")
    if isinstance(stored, dict):
        try:
            return RegistryFacts(**stored)
        except TypeError:  # an older shape of the file: computed afresh below
            pass
    from migrators.upgrades import default_registry

    registry = default_registry()
    facts = RegistryFacts(registry.names(), registry.target_versions(), registry.owners())
    _store({"registry": asdict(facts)})
    return facts


def upgrade_names() -> list[str]:
    return list(registry_facts().names)


def target_versions() -> dict[str, str]:
    """Target release per package, as the upgrades declare them (what `sandbox` records with a diff)."""
    return dict(registry_facts().targets)


def upgrade_for_rule(rule_id: str) -> str | None:
    """The upgrade that owns a rule id ("IX-9" -> "influxdb3"), None when no upgrade declares it."""
    # migrators.core.results.rule_prefix: the part before the first dash names the owner
    return registry_facts().owners.get(rule_id.split("-", 1)[0])


def detect_migrations(config: ServiceConfig) -> list[str]:
    found: set[str] = set()
    for path in (config.path, *(config.services_root / shared for shared in config.shared)):
        found.update(detect_upgrades(path))
    found.update(config.migrations_include)
    found.difference_update(config.migrations_exclude)
    return sorted(found)


def detect_upgrades(path: Path) -> list[str]:
    """migrators.detect_upgrades(path), remembered by the folder's content (every file, as the gate's
    records hash it: more than detection reads, so a change it ignores only recomputes)."""
    if not path.exists():  # as migrators answers for a missing folder
        return []
    key = _content_key(path)
    stored = _load().get("detections", {}).get(key) if key else None
    if isinstance(stored, list):
        return list(stored)
    from migrators import detect_upgrades as detect

    names = detect(path)
    if key:
        _store({"detections": {key: names}})
    return names


def _content_key(path: Path) -> str | None:
    from sandbox.records import tree_hash

    try:
        content = tree_hash(path.parent, [path.name])
    except OSError:  # unreadable: detection itself says what it makes of it
        return None
    return hashlib.sha256(f"{path.resolve()}\0{content}".encode()).hexdigest()
