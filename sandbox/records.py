"""Verified records and the gate: verified diffs, bound to the content they were made from.

A verified record (`.sandbox/verified/<service>.json`, and `verified.json` in the service's run
folder) is self-contained: every changed file's bytes before (as a hash) and after, the content hash
of each path the service was verified with (its own folder and its shared paths, hashed exactly as
the workspace copy holds them: tool caches ignored), the target versions, the dependency image
digests, the tool version (sandbox's own plus a hash of the codemods) and the diff itself. It can be
carried to another clone or CI job (`sandbox gate --records PATH`).

The gate passes a service in two states only:
- ready: every path holds the content the record was verified from (the verified diff is ready to
  promote for this exact content);
- promoted: every path holds the content the record produced, the diff applied (a path the diff does
  not change is in both states at once; a shared path a sibling promoted first counts as promoted).
In every other state it fails with the reason: no record, a record of another tool version or other
target versions, or content that changed since the record was made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import __version__
from sandbox import workspace as wsmod
from sandbox.upgrade_facts import migrators_dir, source_hash
from sandbox.upgrades import target_versions

RUN_RECORD = "verified.json"  # the record's copy in the service's run folder (a CI artifact)


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
    tool_version: str = ""
    diff: str = ""  # the verified diff as a patch, for people reading a carried record

    def save(self, repo_root: Path, also: Path | None = None) -> Path:
        """Write the record to `.sandbox/verified/`, and to `also` (the run folder's copy) if given."""
        path = verified_path(repo_root, self.service)
        data = json.dumps(asdict(self), indent=2).encode()
        atomic_write(path, data)
        if also is not None:
            atomic_write(also, data)
        return path

    @classmethod
    def load(cls, repo_root: Path, service: str, records: Path | None = None) -> VerifiedDiff:
        """The service's record from this clone's `.sandbox/verified/`, or from `records` (a run
        folder, a downloaded CI artifact, a verified/ folder or one record file)."""
        path = find_record(records, service) if records is not None else verified_path(repo_root, service)
        if path is None or not path.is_file():
            where = f"under {records}" if records is not None else "in this clone"
            raise PromotionRefused(
                f"{service}: no verified diff {where}; run `sandbox verify {service}` first"
            )
        try:
            data = json.loads(path.read_text())
            record = cls(**data)
        except (ValueError, TypeError) as exc:
            raise PromotionRefused(f"{service}: {path} is not a verified record ({exc})") from None
        if record.service != service:
            raise PromotionRefused(f"{service}: {path} is the record of {record.service}")
        return record


def find_record(records: Path, service: str) -> Path | None:
    """The newest record of `service` under `records`, in any of the layouts a record travels in."""
    if records.is_file():
        return records
    direct = [
        records / f"{service}.json",
        records / service / RUN_RECORD,
        records / "verified" / f"{service}.json",
    ]
    found = [path for path in direct if path.is_file()]
    found += [path for path in records.rglob(RUN_RECORD) if path.parent.name == service]
    found += [path for path in records.rglob(f"{service}.json") if path.parent.name == "verified"]
    if not found:
        return None
    return max(found, key=_verified_at)


def _verified_at(path: Path) -> str:
    try:
        return str(json.loads(path.read_text()).get("verified_at", ""))
    except (ValueError, OSError):
        return ""


def tool_version() -> str:
    """sandbox's version plus a hash of the codemods' source: a record made by other codemods is stale."""
    return f"{__version__}+{source_hash(migrators_dir())}"


def pipeline_version() -> str:
    """tool_version plus the sandbox package's own source: a result is reused only when the same stages
    (build, test, health and gate rules) would judge it, not only the same codemods."""
    return f"{tool_version()}+{source_hash(Path(__file__).parent)}"


def tree_hash(root: Path, rel_paths: list[str]) -> str:
    """sha256 over names and bytes of the given paths, skipping what the workspace copy skips (tool
    caches); a symbolic link counts by its target text, as the copy keeps it."""
    digest = hashlib.sha256()
    for rel in rel_paths:
        for name, data in _tree_entries(root, rel):
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _tree_entries(root: Path, rel: str) -> list[tuple[str, bytes]]:
    base = root / rel
    if base.is_symlink() or base.is_file():
        return [(rel, _entry_bytes(base))]
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        skip = wsmod.IGNORED(dirpath, [*dirnames, *filenames])
        links = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]
        dirnames[:] = sorted(d for d in dirnames if d not in skip and d not in links)
        for name in sorted((set(filenames) | set(links)) - skip):
            path = Path(dirpath) / name
            found.append((str(path.relative_to(root)), _entry_bytes(path)))
    return sorted(found)


def _entry_bytes(path: Path) -> bytes:
    if path.is_symlink():
        return b"symlink:" + os.readlink(path).encode()
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode):
        # a FIFO, socket or device is never opened: reading a FIFO blocks until someone writes to it
        # (the copy stage refuses such files; the hash only has to tell them apart)
        return b"special:" + oct(stat.S_IFMT(mode)).encode()
    return path.read_bytes()


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
        before_hashes={rel: tree_hash(ws.orig, [rel]) for rel in ws.rel_paths},
        after_hashes={rel: tree_hash(ws.work, [rel]) for rel in ws.rel_paths},
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
        tool_version=tool_version(),
        diff=wsmod.unified_diff(file_changes),
    )


def _change_hash(file_changes: list[wsmod.FileChange]) -> str:
    digest = hashlib.sha256()
    for change in sorted(file_changes, key=lambda c: c.path):
        digest.update(f"{change.path}\0{sha(change.before)}\0{sha(change.after)}\n".encode())
    return digest.hexdigest()


# --- gate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    service: str
    ok: bool
    state: str  # ready | promoted | no-record | tool-version | targets | changed
    why: str
    run_id: str | None = None


def gate_check(
    repo_root: Path, service: str, targets: dict[str, str], records: Path | None = None
) -> GateResult:
    """The gate for one service: its record matches this tool, these targets and the current content."""
    try:
        record = VerifiedDiff.load(repo_root, service, records)
    except PromotionRefused as exc:
        return GateResult(service, False, "no-record", str(exc))
    run, again = record.run_id, f"run `sandbox verify {service}` again"
    if record.tool_version != tool_version():
        made_by = record.tool_version or "(unknown)"
        why = f"run {run} was verified by sandbox {made_by}, this is {tool_version()}"
        return GateResult(service, False, "tool-version", f"{why}; {again}", run)
    if record.versions != targets:
        why = f"run {run} verified the target versions {record.versions}, the targets are now {targets}"
        return GateResult(service, False, "targets", f"{why}; {again}", run)
    states = content_states(repo_root, record)
    changed = [rel for rel, state in states.items() if not state]
    if changed:
        why = f"{', '.join(changed)} changed since run {run} verified it; {again}"
        return GateResult(service, False, "changed", why, run)
    if all("after" in state for state in states.values()):
        return GateResult(service, True, "promoted", f"verified in run {run}, promoted", run)
    return GateResult(service, True, "ready", f"verified in run {run}, ready to promote", run)


def content_states(repo_root: Path, record: VerifiedDiff) -> dict[str, set[str]]:
    """For each path of the record, which of its verified states the repo holds: before, after, both, none."""
    states = {}
    for rel in record.paths:
        current = tree_hash(repo_root, [rel])
        states[rel] = {
            name
            for name, value in (("before", record.before_hashes[rel]), ("after", record.after_hashes[rel]))
            if current == value
        }
    return states


def gate_status(repo_root: Path, service: str, records: Path | None = None) -> tuple[bool, str]:
    """(ok, why) against the current target versions."""
    result = gate_check(repo_root, service, target_versions(), records)
    return result.ok, result.why


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
