"""Promotion and revert: a verified diff applied to the repo, all or nothing.

Promote applies a verified record (sandbox.records) only if the repo still has the content it was
verified from: all files are checked first, then written; a failure while writing restores what was
already written. A reverse record makes `--revert` possible. A change to shared code is promoted
only when every service depending on it verified green with the same shared change.
"""

from __future__ import annotations

import json
from pathlib import Path

from sandbox import workspace as wsmod
from sandbox.config import ServiceConfig, dependents_of
from sandbox.records import PromotionRefused, VerifiedDiff, atomic_write, b64, sha, state_dir, unb64

__all__ = ["PromotionRefused", "apply_writes", "plan_writes", "promote", "revert"]


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
        if sha(current) == item["after_sha256"]:
            continue  # a shared file already promoted with a sibling service
        if sha(current) != item["before_sha256"]:
            raise PromotionRefused(
                f"{record.service}: {item['path']} changed since run {record.run_id} "
                f"verified it (stale diff); run `sandbox verify {record.service}` again"
            )
        writes.append((path, current, unb64(item["after_b64"])))
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
        atomic_write(path, data)


def promote(repo_root: Path, service: str, fleet: dict[str, ServiceConfig]) -> list[str]:
    """Apply the service's verified diff; returns the files written. Raises PromotionRefused."""
    record = VerifiedDiff.load(repo_root, service)
    _check_shared(record, repo_root, fleet)
    writes = plan_writes(record, repo_root)
    reverse = [
        {"path": str(path.relative_to(repo_root)), "before_b64": b64(before), "after_sha256": sha(after)}
        for path, before, after in writes
    ]
    reverse_file = state_dir(repo_root) / "promoted" / f"{service}.json"
    atomic_write(
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
        if sha(current) != item["after_sha256"]:
            raise PromotionRefused(f"{service}: {item['path']} changed after promotion; revert by hand")
        writes.append((path, current, unb64(item["before_b64"])))
    apply_writes(writes)
    reverse_file.unlink()
    return [item["path"] for item in data["files"]]
