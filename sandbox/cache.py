"""Verify only what changed: a verified result is reused while every input it was verified from is unchanged.

The inputs of a service's verification are: the content of its folder (which holds its requirement
files, its `sandbox.toml` and its hand fixes under `migration-fixes/`) and of each shared path it builds
with, hashed as the gate's records hash them (`sandbox.records.tree_hash`); the target versions; the
images it runs on (migrator, offline base, each dependency: reference and digest); the tool version
(sandbox's own plus a hash of the codemods); and the options that change a verdict (--accept-preexisting).

`.sandbox/cache/<service>.json` holds the inputs of the service's last verified run. It is written only
when a service verified (every stage green, record written) and removed whenever a run of the service
ends any other way, so a failed or blocked service always runs again. A hit also needs the gate's record
of that same run in `.sandbox/verified/`: the reused result is then exactly what the gate and promote
read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sandbox.config import ServiceConfig
from sandbox.records import VerifiedDiff, atomic_write, state_dir, tree_hash, verified_path

CACHE_DIR = "cache"


@dataclass(frozen=True)
class Inputs:
    """Everything a verify's verdict depends on; equal inputs, equal verdict."""

    paths: dict[str, str]  # repo-relative path -> tree hash (service folder first, then shared paths)
    versions: dict[str, str]  # upgrade -> target version
    images: dict[str, str]  # logical image -> "ref@digest"
    tool_version: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def differences(self, other: Inputs) -> list[str]:
        """What differs from `other`, in words a person acts on (paths first)."""
        changed = [
            rel
            for rel in sorted(set(self.paths) | set(other.paths))
            if self.paths.get(rel) != other.paths.get(rel)
        ]
        if self.versions != other.versions:
            changed.append("target versions")
        changed += [
            f"image {name}"
            for name in sorted(set(self.images) | set(other.images))
            if self.images.get(name) != other.images.get(name)
        ]
        if self.tool_version != other.tool_version:
            changed.append(f"tool version ({other.tool_version} -> {self.tool_version})")
        if self.options != other.options:
            changed.append("options")
        return changed


@dataclass(frozen=True)
class Entry:
    """The cache's memory of one service: the inputs of its last verified run."""

    service: str
    run_id: str
    verified_at: str
    key: str
    inputs: Inputs


@dataclass(frozen=True)
class Lookup:
    """A cache answer: `entry` is set only on a hit; `why` says why the service runs (or not)."""

    state: str  # reused | changed | first | record-gone | off
    why: str
    entry: Entry | None = None

    @property
    def hit(self) -> bool:
        return self.entry is not None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "why": self.why}


def service_paths(config: ServiceConfig, repo_root: Path) -> list[str]:
    """The repo-relative paths a verify copies for this service, as the workspace names them."""
    services_rel = config.services_root.relative_to(repo_root)
    return [str(services_rel / config.name), *(str(services_rel / shared) for shared in config.shared)]


def current_inputs(
    repo_root: Path,
    config: ServiceConfig,
    versions: dict[str, str],
    images: dict[str, str],
    tool: str,
    options: dict[str, Any],
) -> Inputs:
    paths = {rel: tree_hash(repo_root, [rel]) for rel in service_paths(config, repo_root)}
    return Inputs(paths, dict(versions), dict(images), tool, dict(options))


def entry_path(repo_root: Path, service: str) -> Path:
    return state_dir(repo_root) / CACHE_DIR / f"{service}.json"


def lookup(repo_root: Path, service: str, inputs: Inputs) -> Lookup:
    """A hit when the service's last verified run had exactly these inputs and its record still stands."""
    entry = load(repo_root, service)
    if entry is None:
        return Lookup("first", "no verified run of this service with the cache on: verifying")
    if entry.key != inputs.key:
        what = ", ".join(inputs.differences(entry.inputs)) or "inputs"
        return Lookup("changed", f"{what} changed since run {entry.run_id} verified it: verifying again")
    if not _record_of(repo_root, service, entry.run_id):
        why = f"the verified record of run {entry.run_id} is gone or was replaced: verifying again"
        return Lookup("record-gone", why)
    why = f"unchanged since run {entry.run_id} (verified {entry.verified_at}): result reused, nothing ran"
    return Lookup("reused", why, entry)


def _record_of(repo_root: Path, service: str, run_id: str) -> bool:
    path = verified_path(repo_root, service)
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("run_id") == run_id
    except (OSError, ValueError):
        return False


def load(repo_root: Path, service: str) -> Entry | None:
    path = entry_path(repo_root, service)
    try:
        data = json.loads(path.read_text())
        return Entry(
            data["service"], data["run_id"], data["verified_at"], data["key"], Inputs(**data["inputs"])
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # a damaged entry is no memory at all
        return None


def remember(repo_root: Path, record: VerifiedDiff, inputs: Inputs) -> Entry:
    """After a verified run: its inputs, with the path hashes of the copy it really verified."""
    verified = Inputs(
        {**inputs.paths, **record.before_hashes},
        inputs.versions,
        inputs.images,
        inputs.tool_version,
        inputs.options,
    )
    entry = Entry(record.service, record.run_id, record.verified_at, verified.key, verified)
    atomic_write(entry_path(repo_root, record.service), json.dumps(asdict(entry), indent=2).encode())
    return entry


def forget(repo_root: Path, service: str) -> None:
    """A run of the service that did not verify: nothing of it is reused, the next run verifies again."""
    entry_path(repo_root, service).unlink(missing_ok=True)
