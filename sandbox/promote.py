"""The gate and promotion: verified diffs, bound to the content they were made from.

A verified record (`.sandbox/verified/<service>.json`) holds every changed file's bytes before
(as a hash) and after, the hash of each path the service was verified with (its own folder and
its shared paths), the target versions and the dependency image digests. Promote applies a record
only if the repo still has that content: all files are checked first, then written; a failure
while writing restores what was already written. A reverse record makes `--revert` possible.
A change to shared code is promoted only when every service depending on it verified green with
the same shared change.
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
from sandbox.inventory import ServiceConfig, dependents_of


class PromotionRefused(RuntimeError):
    """The verified diff cannot be applied; the message says why and what to do."""


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
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
        _atomic_write(path, json.dumps(self.__dict__, indent=2).encode())
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
                "before_sha256": _sha(c.before),
                "after_sha256": _sha(c.after),
                "after_b64": _b64(c.after),
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
        digest.update(f"{change.path}\0{_sha(change.before)}\0{_sha(change.after)}\n".encode())
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


# --- promote --------------------------------------------------------------------------------------------


def _check_shared(record: VerifiedDiff, repo_root: Path, fleet: dict[str, ServiceConfig]) -> None:
    for rel, change in record.shared_diffs.items():
        shared_name = Path(rel).name
        for other in dependents_of(shared_name, fleet):
            if other == record.service:
                continue
            try:
                theirs = VerifiedDiff.load(repo_root, other)
            except PromotionRefused:
                raise PromotionRefused(
                    f"{record.service}: its diff changes shared code {rel}, which {other} also builds "
                    f"with, and {other} has no verified diff; run `sandbox verify {other}` first"
                ) from None
            if theirs.shared_diffs.get(rel) != change:
                raise PromotionRefused(
                    f"{record.service}: {other} verified a different change to shared code {rel}; "
                    f"verify both in one run (`sandbox verify {record.service} {other}`)"
                )


def plan_writes(record: VerifiedDiff, repo_root: Path) -> list[tuple[Path, bytes | None, bytes | None]]:
    """(path, current bytes, new bytes) for every file; refuses if anything moved since verification."""
    own = record.paths[0]
    if wsmod.content_hash(repo_root, [own]) != record.before_hashes[own]:
        raise PromotionRefused(
            f"{record.service}: {own} changed since run {record.run_id} verified it "
            f"(stale diff); run `sandbox verify {record.service}` again"
        )
    writes = []
    for item in record.files:
        path = repo_root / item["path"]
        current = path.read_bytes() if path.exists() else None
        if _sha(current) == item["after_sha256"]:
            continue  # a shared file already promoted with a sibling service
        if _sha(current) != item["before_sha256"]:
            raise PromotionRefused(
                f"{record.service}: {item['path']} changed since run {record.run_id} "
                f"verified it (stale diff); run `sandbox verify {record.service}` again"
            )
        writes.append((path, current, _unb64(item["after_b64"])))
    return writes


def apply_writes(writes: list[tuple[Path, bytes | None, bytes | None]]) -> None:
    """Write all files; if one write fails, restore the ones already written (all or nothing)."""
    done: list[tuple[Path, bytes | None]] = []
    try:
        for path, before, after in writes:
            _put(path, after)
            done.append((path, before))
    except BaseException:
        for path, before in reversed(done):
            _put(path, before)
        raise


def _put(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
    else:
        _atomic_write(path, data)


def _atomic_write(path: Path, data: bytes) -> None:
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


def promote(repo_root: Path, service: str, fleet: dict[str, ServiceConfig]) -> list[str]:
    """Apply the service's verified diff; returns the files written. Raises PromotionRefused."""
    record = VerifiedDiff.load(repo_root, service)
    _check_shared(record, repo_root, fleet)
    writes = plan_writes(record, repo_root)
    reverse = [
        {"path": str(path.relative_to(repo_root)), "before_b64": _b64(before), "after_sha256": _sha(after)}
        for path, before, after in writes
    ]
    reverse_file = state_dir(repo_root) / "promoted" / f"{service}.json"
    _atomic_write(
        reverse_file,
        json.dumps({"service": service, "run_id": record.run_id, "files": reverse}, indent=2).encode(),
    )
    apply_writes(writes)
    return [item["path"] for item in reverse]


def revert(repo_root: Path, service: str) -> list[str]:
    """Undo the last promotion of `service`, if its files are still as promote left them."""
    reverse_file = state_dir(repo_root) / "promoted" / f"{service}.json"
    if not reverse_file.is_file():
        raise PromotionRefused(f"{service}: nothing to revert (no promotion recorded)")
    data = json.loads(reverse_file.read_text())
    writes = []
    for item in data["files"]:
        path = repo_root / item["path"]
        current = path.read_bytes() if path.exists() else None
        if _sha(current) != item["after_sha256"]:
            raise PromotionRefused(f"{service}: {item['path']} changed after promotion; revert by hand")
        writes.append((path, current, _unb64(item["before_b64"])))
    apply_writes(writes)
    reverse_file.unlink()
    return [item["path"] for item in data["files"]]
