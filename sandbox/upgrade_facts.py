"""What the codemods' registry says (upgrade names, target versions, rule owners) and which upgrades
a folder needs, answered without importing `migrators` whenever the answer is known.

Importing `migrators` imports libcst (seconds on a loaded machine), which only the codemods need:
every command would pay it at start. So `migrators` is imported here only when an answer is not in
the facts file: the registry's facts keyed by the codemods' source and the installed upgrade entry
points, and each detection keyed by that same key plus the content of the folder it read. A change
to either computes afresh; a file that cannot be read or written is only slower, never wrong.

No sandbox module is imported here: the config (which validates upgrade names) and the records (which
name the codemods' source in the tool version) both read it.
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

# migrators.core.registry.ENTRY_POINT_GROUP: third-party upgrades; installing one changes the facts
ENTRY_POINT_GROUP = "sandbox.upgrades"
FACTS_FILE = "upgrade-facts.json"
DETECTIONS_KEPT = 500  # detections remembered: a monorepo's services, several versions each
# Never part of a detection's key: tool caches (the workspace copy skips them too).
NOT_CONTENT = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
_write_lock = threading.Lock()  # the fleet's workers detect at once; one writer at a time per process


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry declares, as data: enough to answer without loading an upgrade."""

    names: list[str]
    targets: dict[str, str]  # target package -> default release
    owners: dict[str, str]  # rule prefix ("IX") -> upgrade name
    modules: dict[str, list[str]]  # upgrade name -> the top-level modules it migrates away from or up


def migrators_dir() -> Path:
    """The `migrators` package folder, found without importing it (its __init__ imports libcst)."""
    spec = importlib.util.find_spec("migrators")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the migrators package is not importable")
    return Path(next(iter(spec.submodule_search_locations)))


def source_hash(package: Path) -> str:
    """12 hex digits over the names and bytes of a package's Python files."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


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
        except OSError:  # a read-only home: answers are computed each time, as without the file
            pass


@cache
def registry_facts() -> RegistryFacts:
    stored = _load().get("registry")
    if isinstance(stored, dict):
        try:
            return RegistryFacts(**stored)
        except TypeError:  # an older shape of the file: computed afresh below
            pass
    import migrators

    owners = {
        rule.split("-", 1)[0]: upgrade
        for upgrade, rules in migrators.rule_catalogue().items()
        for rule in rules
    }
    facts = RegistryFacts(
        migrators.upgrade_names(), migrators.target_versions(), owners, migrators.upgrade_modules()
    )
    _store({"registry": asdict(facts)})
    return facts


def upgrade_names() -> list[str]:
    return list(registry_facts().names)


def target_versions() -> dict[str, str]:
    """Target release per package, as the upgrades declare them (what `sandbox` records with a diff)."""
    return dict(registry_facts().targets)


def upgrade_modules(names: list[str]) -> set[str]:
    """The top-level modules the named upgrades migrate (influxdb3 -> influxdb_client, ...)."""
    declared = registry_facts().modules
    return {module for name in names for module in declared.get(name, [])}


def upgrade_for_rule(rule_id: str) -> str | None:
    """The upgrade that owns a rule id ("IX-9" -> "influxdb3"), None when no upgrade declares it."""
    # migrators.core.results.rule_prefix: the part before the first dash names the owner
    return registry_facts().owners.get(rule_id.split("-", 1)[0])


def detect_upgrades(path: Path) -> list[str]:
    """migrators.detect_upgrades(path), remembered by the folder's content (every file but tool
    caches: more than detection reads, so a change it ignores only recomputes)."""
    if not path.exists():  # as migrators answers for a missing folder
        return []
    key = content_key(path)
    stored = _load().get("detections", {}).get(key) if key else None
    if isinstance(stored, list):
        return list(stored)
    import migrators

    names = migrators.detect_upgrades(path)
    if key:
        _store({"detections": {key: names}})
    return names


def content_key(path: Path) -> str | None:
    """sha256 over the folder's place and its files' names and bytes (a link by its target text, and a
    linked file also by the bytes it points at); None when a part of it cannot be read (detection
    itself then says what it makes of it)."""
    digest = hashlib.sha256(str(path.resolve()).encode() + b"\0")
    try:
        for entry in _entries(path):
            name = str(entry.relative_to(path.parent)).encode()
            digest.update(name + b"\0" + hashlib.sha256(_entry_bytes(entry)).digest())
    except OSError:
        return None
    return digest.hexdigest()


def _entries(path: Path) -> list[Path]:
    # a folder given as a link is walked, as detection's own walk follows the top link
    if not path.is_dir():
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        here = Path(dirpath)
        links = [name for name in dirnames if (here / name).is_symlink()]  # counted, never followed
        dirnames[:] = [name for name in dirnames if name not in NOT_CONTENT and name not in links]
        found += [here / name for name in (*filenames, *links) if not name.endswith(".pyc")]
    return sorted(found)


def _entry_bytes(path: Path) -> bytes:
    if path.is_symlink():
        # detection reads a linked file through the link: what it points at is content too (a linked
        # folder inside is not walked by detection, so its target text alone counts)
        target = path.read_bytes() if path.is_file() else b""
        return b"link:" + os.readlink(path).encode() + b"\0" + target
    if not path.is_file():  # a FIFO or device is never opened: reading a FIFO blocks
        return b"special"
    return path.read_bytes()
