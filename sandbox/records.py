"""Verified records and the gate: verified diffs, bound to the content they were made from.

A verified record (`.sandbox/verified/<service>.json`) holds every changed file's bytes before
(as a hash) and after, the hash of each path the service was verified with (its own folder and
its shared paths), the target versions and the dependency image digests. The gate passes a service
whose current content is the content a record was verified from (or the content it promoted).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import workspace as wsmod


class PromotionRefused(RuntimeError):
    """The verified diff cannot be applied; the message says why and what to do."""


def sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def state_dir(repo_root: Path) -> Path:
    return repo_root / ".sandbox"


def verified_path(repo_root: Path, service: str) -> Path:
    return state_dir(repo_root) / "verified" / f"{service}.json"


@dataclass
class VerifiedDiff:
    service: str
    run_id: str
    paths: list[str]  # repo-relative: services/<name>, services/common ...
    before_hashes: dict[str, str]  # path -> content hash when verified
    after_hashes: dict[str, str]  # path -> content hash once applied
    files: list[dict[str, Any]]  # {path, before_sha256, after_b64, after_sha256}
    shared_diffs: dict[str, str] = field(default_factory=dict)  # shared path -> hash of its change
    versions: dict[str, str] = field(default_factory=dict)
    images: dict[str, Any] = field(default_factory=dict)
    verified_at: str = ""

    def save(self, repo_root: Path) -> Path:
        path = verified_path(repo_root, self.service)
        atomic_write(path, json.dumps(self.__dict__, indent=2).encode())
        return path

    @classmethod
    def load(cls, repo_root: Path, service: str) -> VerifiedDiff:
        path = verified_path(repo_root, service)
        if not path.is_file():
            raise PromotionRefused(f"{service}: no verified diff; run `sandbox verify {service}` first")
        return cls(**json.loads(path.read_text()))


def record_verified(
    ws: wsmod.Workspace, run_id: str, versions: dict[str, str], images: dict[str, Any]
) -> VerifiedDiff:
    """Turn a green workspace into a verified record (not yet written)."""
    file_changes = wsmod.changes(ws)
    shared = {}
    for rel in ws.rel_paths[1:]:
        touched = [c for c in file_changes if c.path == rel or c.path.startswith(rel + "/")]
        if touched:
            shared[rel] = _change_hash(touched)
    return VerifiedDiff(
        service=ws.config.name,
        run_id=run_id,
        paths=list(ws.rel_paths),
        before_hashes={rel: wsmod.content_hash(ws.orig, [rel]) for rel in ws.rel_paths},
        after_hashes={rel: wsmod.content_hash(ws.work, [rel]) for rel in ws.rel_paths},
        files=[
            {
                "path": c.path,
                "before_sha256": sha(c.before),
                "after_sha256": sha(c.after),
                "after_b64": b64(c.after),
            }
            for c in file_changes
        ],
        shared_diffs=shared,
        versions=versions,
        images=images,
        verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _change_hash(file_changes: list[wsmod.FileChange]) -> str:
    digest = hashlib.sha256()
    for change in sorted(file_changes, key=lambda c: c.path):
        digest.update(f"{change.path}\0{sha(change.before)}\0{sha(change.after)}\n".encode())
    return digest.hexdigest()


# --- gate ---------------------------------------------------------------------------------------------


def gate_status(repo_root: Path, service: str) -> tuple[bool, str]:
    """(ok, why): a verified diff exists for the service's current content (or it is promoted)."""
    try:
        record = VerifiedDiff.load(repo_root, service)
    except PromotionRefused as exc:
        return False, str(exc)
    own = record.paths[0]
    current = wsmod.content_hash(repo_root, [own])
    if current == record.before_hashes[own]:
        return True, f"verified in run {record.run_id}, ready to promote"
    if current == record.after_hashes[own]:
        return True, f"verified in run {record.run_id}, promoted"
    return False, f"{own} changed since run {record.run_id} verified it; run `sandbox verify {service}` again"


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, keeping the file's mode: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
