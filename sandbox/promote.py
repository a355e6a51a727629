"""Promotion and revert: a verified diff applied to the repo, all or nothing.

Promote applies a verified record (sandbox.records) only if the repo still has the content it was
verified from, every path of it (the service's folder, its shared paths and its `migration-fixes/`)
hashed as the gate hashes it: all files are checked first, then written; a failure while writing
restores what was already written and leaves no promotion record. The record's diff is the codemods
and the hand fixes together (the verified workspace after the fix stage), so one promotion applies
both and `--revert` undoes both. A change to shared code is promoted only when every service
depending on it verified green with the same shared change.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sandbox.config import ServiceConfig, dependents_of
from sandbox.records import (
    PromotionRefused,
    VerifiedDiff,
    atomic_write,
    b64,
    content_states,
    sha,
    state_dir,
    unb64,
)
from sandbox.workspace import LINK_PREFIX, entry_bytes

_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

__all__ = ["PromotionRefused", "apply_writes", "check_service_name", "plan_writes", "promote", "revert"]


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
                    f"with, and {other} has no verified diff{_last_failure(repo_root, other)}; "
                    f"run `sandbox verify {other}` first"
                ) from None
            if theirs.shared_diffs.get(rel) != change:
                raise PromotionRefused(
                    f"{record.service}: {other} verified a different change to shared code {rel}; "
                    f"verify both in one run (`sandbox verify {record.service} {other}`)"
                )


def _last_failure(repo_root: Path, service: str) -> str:
    """Why the service's newest run did not verify it, from its report in the run folder."""
    reports = sorted((state_dir(repo_root) / "runs").glob(f"*/{service}/report.json"))
    if not reports:
        return ""
    try:
        outcome = json.loads(reports[-1].read_text())
    except ValueError:
        return ""
    if outcome.get("overall_success") or not outcome.get("failed_stage"):
        return ""
    return f" (its last run stopped at {outcome['failed_stage']}: {outcome.get('reason', '')[:200]})"


def plan_writes(record: VerifiedDiff, repo_root: Path) -> list[tuple[Path, bytes | None, bytes | None]]:
    """(path, current bytes, new bytes) for every file; refuses if anything moved since verification."""
    changed = [rel for rel, state in content_states(repo_root, record).items() if not state]
    if changed:
        raise PromotionRefused(
            f"{record.service}: {', '.join(changed)} changed since run {record.run_id} verified it "
            f"(stale diff); run `sandbox verify {record.service}` again"
        )
    writes = []
    for item in record.files:
        path = repo_root / item["path"]
        current = _current(path)
        if sha(current) == item["after_sha256"]:
            continue  # a shared file already promoted with a sibling service
        if sha(current) != item["before_sha256"]:
            raise PromotionRefused(
                f"{record.service}: {item['path']} changed since run {record.run_id} "
                f"verified it (stale diff); run `sandbox verify {record.service}` again"
            )
        after = unb64(item["after_b64"])
        if after is not None and after.startswith(LINK_PREFIX) and not path.is_symlink():
            raise PromotionRefused(
                f"{record.service}: {item['path']} becomes a symbolic link in the verified diff; "
                "promote only retargets existing links: make the link by hand, then "
                f"`sandbox verify {record.service}`"
            )
        writes.append((path, current, after))
    return writes


def _current(path: Path) -> bytes | None:
    """What the repo holds at `path` as a record holds it: a link by its target's name (never its bytes)."""
    return entry_bytes(path) if path.is_symlink() or path.exists() else None


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
    if data is not None and path.is_symlink() and data.startswith(LINK_PREFIX):
        _relink(path, data[len(LINK_PREFIX) :].decode())
    elif data is None:
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()  # a folder the change emptied (applied fixes): git keeps none either
    else:
        if path.is_symlink():
            path.unlink()  # the diff replaces the link by a file: write the file, not through the link
        atomic_write(path, data)


def _relink(path: Path, target: str) -> None:
    """Point the link at `target` in one step (a new link renamed over the old one)."""
    tmp = path.with_name(f".{path.name}.sandbox-link")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)


def check_service_name(service: str, fleet: dict[str, ServiceConfig]) -> None:
    """A name of the fleet, never a path: the record files are named after it."""
    if not _SERVICE.match(service) or service not in fleet:
        known = ", ".join(sorted(fleet)) or "none"
        raise PromotionRefused(f"{service!r}: not a service of this repo (known: {known})")


def promote(repo_root: Path, service: str, fleet: dict[str, ServiceConfig]) -> list[str]:
    """Apply the service's verified diff; returns the files written. Raises PromotionRefused."""
    check_service_name(service, fleet)
    record = VerifiedDiff.load(repo_root, service)
    _check_shared(record, repo_root, fleet)
    writes = plan_writes(record, repo_root)
    reverse = [
        {"path": str(path.relative_to(repo_root)), "before_b64": b64(before), "after_sha256": sha(after)}
        for path, before, after in writes
    ]
    document = json.dumps({"service": service, "run_id": record.run_id, "files": reverse}, indent=2)
    _write_all(writes, state_dir(repo_root) / "promoted" / f"{service}.json", document.encode(), service)
    return [item["path"] for item in reverse]


def _write_all(
    writes: list[tuple[Path, bytes | None, bytes | None]], reverse_file: Path, reverse: bytes, service: str
) -> None:
    """The files, then the reverse record; any failure undoes the files and leaves no record."""
    try:
        apply_writes(writes)
    except OSError as exc:
        raise PromotionRefused(
            f"{service}: writing failed ({exc}); the files already written were rolled back, "
            "the repo is as before and no promotion was recorded"
        ) from None
    try:
        atomic_write(reverse_file, reverse)
    except OSError as exc:
        apply_writes([(path, after, before) for path, before, after in writes])
        raise PromotionRefused(
            f"{service}: recording the promotion failed ({exc}); all {len(writes)} file(s) were "
            "rolled back, the repo is as before"
        ) from None


def revert(repo_root: Path, service: str) -> list[str]:
    """Undo the last promotion of `service`, if its files are still as promote left them."""
    if not _SERVICE.match(service):
        raise PromotionRefused(f"{service!r}: not a service name")
    reverse_file = state_dir(repo_root) / "promoted" / f"{service}.json"
    if not reverse_file.is_file():
        raise PromotionRefused(f"{service}: nothing to revert (no promotion recorded)")
    data = json.loads(reverse_file.read_text())
    writes = []
    for item in data["files"]:
        path = repo_root / item["path"]
        current = _current(path)
        if sha(current) != item["after_sha256"]:
            raise PromotionRefused(f"{service}: {item['path']} changed after promotion; revert by hand")
        writes.append((path, current, unb64(item["before_b64"])))
    apply_writes(writes)
    reverse_file.unlink()
    return [item["path"] for item in data["files"]]
