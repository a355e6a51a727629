"""The per-service workspace: a copy of the service and its shared paths, owned by the run.

Layout under the run folder, keeping the repo-relative layout so a build context above the
service folder (`services/`) still works:

    .sandbox/runs/<run-id>/<service>/orig/services/<service>/...   pristine copy (diff base)
    .sandbox/runs/<run-id>/<service>/work/services/<service>/...   migrated, built and tested
    .sandbox/runs/<run-id>/<service>/work/services/common/...      shared paths it builds with

The repo's own `services/<name>/` is only ever read here.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.config import ServiceConfig

IGNORED_NAMES = ("__pycache__", "*.pyc", ".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache", "*.egg-info")
IGNORED = shutil.ignore_patterns(*IGNORED_NAMES)
MARKER = "MIGRATION-BLOCKER("


class CopyRefused(ValueError):
    """A path the workspace will not copy: it leaves the repo or is not a file, folder or link.

    The message names the file and the reason, so a person can fix the repo or sandbox.toml."""


@dataclass(frozen=True)
class FileChange:
    path: str  # repo-relative, e.g. services/weather-api/app/db.py
    before: bytes | None  # None: the file was added
    after: bytes | None  # None: the file was deleted


@dataclass
class Workspace:
    config: ServiceConfig
    repo_root: Path
    folder: Path  # .sandbox/runs/<run-id>/<service>
    rel_paths: list[str] = field(default_factory=list)  # services/<name>, services/<shared>...

    @property
    def orig(self) -> Path:
        return self.folder / "orig"

    @property
    def work(self) -> Path:
        return self.folder / "work"

    def work_path(self, rel: str) -> Path:
        return self.work / rel

    @property
    def service_dir(self) -> Path:
        return self.work / self.rel_paths[0]

    @property
    def context_dir(self) -> Path:
        return (self.service_dir / self.config.context).resolve()


def create(config: ServiceConfig, repo_root: Path, folder: Path) -> Workspace:
    """Copy the service and its shared paths twice: a pristine base and the working copy.

    Every path is checked first (containment, no special files, no symlink out of the copied
    tree), so a refused service leaves no half-copied workspace and nothing from outside the repo
    ever reaches the run folder, an image or a report."""
    services_rel = config.services_root.relative_to(repo_root)
    rel_paths = [str(services_rel / config.name), *(str(services_rel / shared) for shared in config.shared)]
    ws = Workspace(config, repo_root, folder, rel_paths)
    check_paths(config, repo_root)
    for rel in rel_paths:
        check_tree(repo_root, (repo_root / rel).resolve())
    for rel in rel_paths:
        for target in (ws.orig, ws.work):
            # A shared path that is itself a link (inside the repo, checked) is copied as its content.
            _copy((repo_root / rel).resolve(), target / rel)
    return ws


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink resolved, lies inside `root` (also resolved)."""
    return path.resolve().is_relative_to(root.resolve())


def check_paths(config: ServiceConfig, repo_root: Path) -> None:
    """Defence in depth, whatever the config parser accepted: each path sandbox.toml names
    (the service, `shared`, `context`, `dockerfile`) resolves inside the repo."""
    where = f"services/{config.name}/sandbox.toml"
    named = [("service folder", config.path)]
    named += [(f"shared {shared!r}", config.services_root / shared) for shared in config.shared]
    named += [
        (f"context {config.context!r}", config.path / config.context),
        (f"dockerfile {config.dockerfile!r}", config.path / config.dockerfile),
    ]
    for key, path in named:
        if not inside(path, repo_root):
            raise CopyRefused(f"{where}: {key} resolves to {path.resolve()}, outside the repo")
    dockerfile = config.path / config.dockerfile
    if dockerfile.exists() and not stat.S_ISREG(dockerfile.stat().st_mode):
        raise CopyRefused(f"{where}: dockerfile {config.dockerfile!r} is not a regular file")


def check_tree(repo_root: Path, source: Path) -> None:
    """Refuse a tree holding a special file, or a symlink that leaves the copied tree."""
    tree = source.resolve()
    for path in [source, *_walk(source)]:
        mode = path.lstat().st_mode
        rel = _shown(path, repo_root)
        if stat.S_ISLNK(mode):
            if path != source and not inside(path, tree):
                raise CopyRefused(
                    f"{rel}: symlink to {os.readlink(path)} points outside {_shown(source, repo_root)}; "
                    "the sandbox copies links only within the copied tree"
                )
        elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise CopyRefused(f"{rel}: {_kind(mode)}; only regular files, folders and links are copied")


def _walk(source: Path) -> list[Path]:
    """Every entry under `source`, not following links, skipping the ignored caches."""
    if source.is_symlink() or not source.is_dir():
        return []
    found = []
    for entry in sorted(source.iterdir()):
        if any(fnmatch.fnmatch(entry.name, pattern) for pattern in IGNORED_NAMES):
            continue
        found.append(entry)
        if entry.is_dir() and not entry.is_symlink():
            found.extend(_walk(entry))
    return found


def _shown(path: Path, repo_root: Path) -> str:
    try:
        return str(path.relative_to(repo_root))
    except ValueError:
        return str(path)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def _copy(source: Path, target: Path) -> None:
    """Copy a checked tree; links are copied as links (check_tree proved they stay inside)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, ignore=IGNORED, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


# How a symbolic link stands in a change list, a record and a diff: its target's name, never its bytes.
LINK_PREFIX = b"symlink -> "


def entry_bytes(path: Path) -> bytes:
    """A file's bytes, or for a symbolic link the text that stands for it (never read through it)."""
    if path.is_symlink():
        return LINK_PREFIX + os.readlink(path).encode()
    return path.read_bytes()


def _files(root: Path, rel: str) -> dict[str, bytes]:
    """The files the copy holds under `rel`, by repo-relative name: the ignored caches are skipped
    (as the copy skips them, so a gate never fails on a `.ruff_cache/`) and a link stands for its
    target's name, never for its target's bytes (no host file is read through a link)."""
    base = root / rel
    if base.is_file() and not base.is_symlink():
        return {rel: base.read_bytes()}
    found = {}
    for path in _walk(base):
        name = str(path.relative_to(root))
        if path.is_symlink() or path.is_file():
            found[name] = entry_bytes(path)
    return dict(sorted(found.items()))


def content_hash(root: Path, rel_paths: list[str]) -> str:
    """sha256 over names and bytes of the given paths; what a verified diff is bound to."""
    digest = hashlib.sha256()
    for rel in rel_paths:
        for name, data in _files(root, rel).items():
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def changes(ws: Workspace) -> list[FileChange]:
    """Files that differ between the pristine copy and the working copy."""
    found = []
    for rel in ws.rel_paths:
        before, after = _files(ws.orig, rel), _files(ws.work, rel)
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                found.append(FileChange(name, before.get(name), after.get(name)))
    return found


def unified_diff(file_changes: list[FileChange]) -> str:
    """A `git apply`-compatible unified diff of text changes, for people and CI artefacts."""
    out: list[str] = []
    for change in file_changes:
        old = (change.before or b"").decode(errors="replace").splitlines(keepends=True)
        new = (change.after or b"").decode(errors="replace").splitlines(keepends=True)
        header = [f"diff --git a/{change.path} b/{change.path}\n"]
        if change.before is None:
            header.append("new file mode 100644\n")
        elif change.after is None:
            header.append("deleted file mode 100644\n")
        lines = list(
            difflib.unified_diff(
                old,
                new,
                "/dev/null" if change.before is None else f"a/{change.path}",
                "/dev/null" if change.after is None else f"b/{change.path}",
            )
        )
        out.extend(header)
        for line in lines:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def diff_stats(file_changes: list[FileChange]) -> dict[str, int]:
    added = removed = 0
    for change in file_changes:
        old = (change.before or b"").decode(errors="replace").splitlines()
        new = (change.after or b"").decode(errors="replace").splitlines()
        for line in difflib.unified_diff(old, new, lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
    return {"files": len(file_changes), "added": added, "removed": removed}


@dataclass(frozen=True)
class Marker:
    path: str
    line: int
    text: str


def find_markers(ws: Workspace) -> list[Marker]:
    """Every MIGRATION-BLOCKER( left in the working copy (the codemods' 'never guess' output)."""
    found = []
    for rel in ws.rel_paths:
        for name, data in _files(ws.work, rel).items():
            if MARKER.encode() not in data:
                continue
            for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
                if MARKER in line:
                    found.append(Marker(name, number, line.strip()))
    return found
