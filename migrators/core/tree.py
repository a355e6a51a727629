"""The folder being migrated: file listing, cached reads, and the edits of its non-Python files."""

from __future__ import annotations

import ast
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from migrators.core.results import Change

SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "dist",
    ".eggs",
    "site-packages",
    ".sandbox",
}


class ProjectTree:
    """A service (or shared) folder: file listing and cached reads, relative posix paths."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._texts: dict[str, str] = {}
        self._files: list[str] | None = None
        # libcst trees an analysis parsed, kept for the file's transform (one parse per file)
        self._modules: dict[str, cst.Module] = {}
        # CPython's trees of the files as read, shared by the analyses that read them (None: rejected)
        self._syntax: dict[str, ast.Module | None] = {}
        # the same trees by text: whoever holds a file's text finds the tree an analysis parsed of it
        self._kept: dict[str, ast.Module | None] = {}
        # the few texts parsed last (see syntax_of): a file's text goes from its transform to its
        # sweep and its check, each of which wants CPython's tree of it; a few, to bound the memory
        self._recent: dict[str, ast.Module | None] = {}

    def files(self) -> list[str]:
        if self._files is None:
            found = []
            if self.root.is_file():
                found.append(self.root.name)
            else:
                for dirpath, dirnames, filenames in os.walk(self.root):
                    dirnames[:] = sorted(
                        d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")
                    )
                    rel = Path(dirpath).relative_to(self.root)
                    for name in sorted(filenames):
                        found.append((rel / name).as_posix() if rel.parts else name)
            self._files = found
        return self._files

    def python_files(self) -> list[str]:
        return [f for f in self.files() if f.endswith(".py")]

    def path(self, rel: str) -> Path:
        return self.root.parent / rel if self.root.is_file() else self.root / rel

    def exists(self, rel: str) -> bool:
        return rel in set(self.files())

    def read(self, rel: str) -> str:
        if rel not in self._texts:
            try:
                self._texts[rel] = self.path(rel).read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                self._texts[rel] = ""
        return self._texts[rel]

    def parse(self, rel: str) -> cst.Module:
        """libcst's tree of a Python file, kept until the file's transform takes it (see
        take_parsed); raises cst.ParserSyntaxError."""
        module = self._modules.get(rel)
        if module is None:
            module = self._modules[rel] = cst.parse_module(self.read(rel))
        return module

    def syntax(self, rel: str) -> ast.Module | None:
        """CPython's tree of `rel` as read (None where CPython rejects it), parsed once for every analysis
        of the unit. Readers must not change the tree: others read it after them."""
        if rel not in self._syntax:
            text = self.read(rel)
            if text not in self._kept:
                recent = self._recent.pop(text, _UNPARSED)
                self._kept[text] = _ast_or_none(text) if recent is _UNPARSED else recent
            self._syntax[rel] = self._kept[text]
        return self._syntax[rel]

    def syntax_of(self, text: str) -> ast.Module | None:
        """CPython's tree of `text` (None where CPython rejects it), parsed once for the pre-checks, the
        transform, the sweep and the check of a file: the tree an analysis parsed of a file with this
        text (see syntax), else one of the last few parsed here. Readers must not change it."""
        if text in self._kept:
            return self._kept[text]
        if text in self._recent:
            return self._recent[text]
        if len(self._recent) >= _RECENT_TREES:
            del self._recent[next(iter(self._recent))]  # the oldest: a file's texts come in a row
        found = self._recent[text] = _ast_or_none(text)
        return found

    def take_parsed(self, rel: str) -> cst.Module | None:
        """The tree an analysis already parsed for `rel` (only once: the transform owns it)."""
        return self._modules.pop(rel, None)

    def grep(self, pattern: str, suffix: str = ".py") -> list[str]:
        regex = re.compile(pattern)
        return [f for f in self.files() if f.endswith(suffix) and regex.search(self.read(f))]


_RECENT_TREES = 4  # texts of one file: as read, after each upgrade that changed it, swept, final
_UNPARSED = object()


def _ast_or_none(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc.: the user's code, not ours to report
            return ast.parse(text)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
        return None


# A folder holding one of these is a service of its own (its own requirements, build or test config).
SERVICE_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "pytest.ini", "Dockerfile")


def _is_service_dir(path: Path) -> bool:
    try:
        names = {p.name for p in path.iterdir() if p.is_file()}
    except OSError:
        return False
    return any(n in names for n in SERVICE_FILES) or any(
        n.startswith("requirements") and n.endswith(".txt") for n in names
    )


def _child_dirs(path: Path) -> list[Path]:
    try:
        children = [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []
    return sorted(
        (
            p
            for p in children
            if p.name not in SKIP_DIRS and not p.name.startswith(".") and not p.name.endswith(".egg-info")
        ),
        key=lambda p: p.name,
    )


def _has_python(path: Path) -> bool:
    return any(ProjectTree(path).python_files())


def _partition(path: Path, base: Path) -> tuple[list[str], list[str]]:
    """(service units, shared units) strictly below `path`, relative to `base`."""
    services: list[str] = []
    shared: list[str] = []
    for child in _child_dirs(path):
        rel = child.relative_to(base).as_posix()
        if _is_service_dir(child):
            services.append(rel)
            continue
        inner_services, inner_shared = _partition(child, base)
        if inner_services:
            services += inner_services
            shared += inner_shared
        elif _has_python(child):
            shared.append(rel)
    return services, shared


def find_units(root: Path) -> list[str]:
    """The units a run on `root` migrates one at a time: `[""]` when `root` is one service.

    A monorepo root is a folder below which several folders are services (each with its own
    requirements*.txt, pyproject.toml, setup.cfg, pytest.ini or Dockerfile); a folder with Python
    code and no service inside (`common/`) is a unit of its own. Facts (tag schemas, fixture names,
    pytest config) are learned per unit and never leak between them, and the root's own files
    (a repo-level pyproject.toml) are not rewritten. A service folder that merely has one
    sub-folder with its own requirements (docs/) stays one unit."""
    root = Path(root)
    if root.is_file():
        return [""]
    services, shared = _partition(root, root)
    if not services or (_is_service_dir(root) and len(services) < 2):
        return [""]
    return sorted(services + shared)


def module_name(rel: str) -> str:
    """The dotted module a unit-relative path imports as (`app/runner.py` -> `app.runner`, a package's
    `__init__.py` -> the package)."""
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_test_file(rel: str) -> bool:
    """pytest's default discovery plus conftest.py and anything under a tests/ folder."""
    name = rel.rsplit("/", 1)[-1]
    if not name.endswith(".py"):
        return False
    parts = rel.split("/")[:-1]
    return (
        name == "conftest.py"
        or name.startswith("test_")
        or name.endswith("_test.py")
        or any(p in ("tests", "test", "testing") for p in parts)
    )


@dataclass
class FileInfo:
    """What a codemod knows about the file it transforms."""

    rel: str
    is_test: bool
    is_conftest: bool
    tree: ProjectTree | None = None


class EditSet:
    """Current content of non-Python files being rewritten, shared by all upgrades of a run."""

    def __init__(self, tree: ProjectTree):
        self.tree = tree
        self.texts: dict[str, str] = {}
        self.changes: dict[str, list[Change]] = {}
        self.upgrades: dict[str, list[str]] = {}
        self.errors: dict[str, tuple[str, int | None]] = {}
        self.tracebacks: dict[str, str] = {}

    def get(self, rel: str) -> str | None:
        if rel in self.texts:
            return self.texts[rel]
        if not self.tree.path(rel).is_file():
            return None
        return self.tree.read(rel)

    def set(self, rel: str, text: str, changes: Iterable[Change], upgrade: str) -> None:
        self.texts[rel] = text
        self.changes.setdefault(rel, []).extend(changes)
        if upgrade not in self.upgrades.setdefault(rel, []):
            self.upgrades[rel].append(upgrade)

    def note(self, rel: str, change: Change, upgrade: str) -> None:
        self.changes.setdefault(rel, []).append(change)
        if upgrade not in self.upgrades.setdefault(rel, []):
            self.upgrades[rel].append(upgrade)

    def error(self, rel: str, message: str, line: int | None = None, traceback: str | None = None) -> None:
        self.errors[rel] = (message, line)
        if traceback:
            self.tracebacks[rel] = traceback
