"""Shared machinery of the codemods: results, the Upgrade base, the marker helper, the tree runner.

An upgrade (one module per library upgrade) is an :class:`Upgrade` subclass with

* ``name`` and ``tokens``: the cheap text pre-check — a Python file that mentions none of the
  tokens is never parsed;
* ``detect(tree)``: does this upgrade apply to a service tree (imports, requirements, pytest config);
* ``analyze(tree, versions)``: project-wide facts gathered once before any file is rewritten
  (e.g. which conftest overrides ``event_loop``), returned as a state object;
* ``codemod``: a :class:`MigrationCodemod` subclass (a libcst ``VisitorBasedCodemodCommand``) that
  applies *all* Python rules of the upgrade in one traversal of a file;
* ``requirement_rules(versions, state)``: table rows for the requirements rewriter;
* ``rewrite_files(tree, state, edits)``: optional non-Python rewriters (pytest config, ...).

:func:`migrate_tree` runs the selected upgrades over a tree and returns a :class:`TreeResult`
(per-file results, unified diff, JSON). Every rewritten Python file is re-parsed (libcst and
``compile``); if the output does not parse, the original is kept and an internal error reported.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import (
    PositionProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
)

from migrators.versions import Versions, load_versions

MARKER_PREFIX = "MIGRATION-BLOCKER("
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


# --- results ------------------------------------------------------------------------------------


@dataclass
class Change:
    """One thing a rule did in a file. kind: rewrite | marker | note | info."""

    rule: str
    line: int
    message: str
    kind: str = "rewrite"


@dataclass
class FileResult:
    path: str  # relative to the tree root, posix separators
    status: str = "unchanged"  # changed | unchanged | skipped | error
    changes: list[Change] = field(default_factory=list)
    upgrades: list[str] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    reason: str | None = None  # why skipped
    original: str = field(default="", repr=False)
    new: str = field(default="", repr=False)

    @property
    def changed(self) -> bool:
        return self.status == "changed"

    @property
    def markers(self) -> list[Change]:
        return [c for c in self.changes if c.kind == "marker"]

    def diff(self) -> str:
        if not self.changed:
            return ""
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )

    def to_json(self) -> dict[str, Any]:
        data = {
            "path": self.path,
            "status": self.status,
            "upgrades": self.upgrades,
            "changes": [asdict(c) for c in self.changes],
        }
        if self.error:
            data.update(error=self.error, error_line=self.error_line)
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class TreeResult:
    root: str
    upgrades: list[str]
    versions: dict[str, Any]
    files: list[FileResult] = field(default_factory=list)

    @property
    def changed(self) -> list[FileResult]:
        return [f for f in self.files if f.changed]

    @property
    def errors(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "error"]

    @property
    def markers(self) -> list[tuple[str, Change]]:
        return [(f.path, c) for f in self.files for c in f.markers]

    def file(self, path: str) -> FileResult:
        for result in self.files:
            if result.path == path:
                return result
        raise KeyError(path)

    def diff(self) -> str:
        return "".join(f.diff() for f in sorted(self.changed, key=lambda f: f.path))

    def rule_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for f in self.files:
            for c in f.changes:
                counts.setdefault(c.rule, {}).setdefault(c.kind, 0)
                counts[c.rule][c.kind] += 1
        return dict(sorted(counts.items()))

    def to_json(self, include_diff: bool = True) -> dict[str, Any]:
        data = {
            "root": self.root,
            "upgrades": self.upgrades,
            "versions": self.versions,
            "summary": {
                "files_changed": len(self.changed),
                "errors": len(self.errors),
                "markers": len(self.markers),
                "files_scanned": len(self.files),
                "files_skipped": sum(1 for f in self.files if f.status == "skipped"),
            },
            "rules": self.rule_counts(),
            "files": [f.to_json() for f in self.files if f.status != "skipped" or f.changes],
            "markers": [
                {"path": p, "line": c.line, "rule": c.rule, "message": c.message} for p, c in self.markers
            ],
        }
        if include_diff:
            data["diff"] = self.diff()
        return data


# --- project tree ---------------------------------------------------------------------------------


class ProjectTree:
    """A service (or shared) folder: file listing and cached reads, relative posix paths."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._texts: dict[str, str] = {}
        self._files: list[str] | None = None

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

    def grep(self, pattern: str, suffix: str = ".py") -> list[str]:
        regex = re.compile(pattern)
        return [f for f in self.files() if f.endswith(suffix) and regex.search(self.read(f))]


def dotted(node: cst.CSTNode) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None (calls, subscripts, ...)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


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


# --- edits of non-Python files ---------------------------------------------------------------


class EditSet:
    """Current content of non-Python files being rewritten, shared by all upgrades of a run."""

    def __init__(self, tree: ProjectTree):
        self.tree = tree
        self.texts: dict[str, str] = {}
        self.changes: dict[str, list[Change]] = {}
        self.upgrades: dict[str, list[str]] = {}
        self.errors: dict[str, tuple[str, int | None]] = {}

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

    def error(self, rel: str, message: str, line: int | None = None) -> None:
        self.errors[rel] = (message, line)


# --- requirements table rows ------------------------------------------------------------------


@dataclass
class RequirementRule:
    """One row of the requirements table (see migrators.requirements).

    package: the distribution to look for (normalised name). rename_to: new distribution name.
    version: target release; written as ==version when the line was pinned with ==, else as
    >=version,<next-major. spec: an explicit specifier instead (e.g. ">=2.1,<3").
    extras: None keeps the line's extras; a set replaces them. remove: drop the line.
    forced: only raise a pin that allows versions below `spec`, never add the package.
    companion: a requirement line added after the rewritten one unless its package is already
    listed (e.g. a pyarrow ceiling the new package needs to stay importable beside NumPy 1.x).
    """

    rule: str
    package: str
    rename_to: str | None = None
    version: str | None = None
    spec: str | None = None
    extras: frozenset[str] | None = None
    remove: bool = False
    forced: bool = False
    companion: str | None = None


# --- the codemod base ---------------------------------------------------------------------------


def marker_text(rule: str, instruction: str) -> str:
    instruction = " ".join(instruction.split())
    return f"# MIGRATION-BLOCKER({rule}): {instruction}"


def note_text(text: str) -> str:
    return "# " + " ".join(text.split()).lstrip("# ")


@dataclass
class FileInfo:
    """What a codemod knows about the file it transforms."""

    rel: str
    is_test: bool
    is_conftest: bool
    tree: ProjectTree | None = None


class MigrationCodemod(VisitorBasedCodemodCommand):
    """Base of every upgrade's transformer: rule bookkeeping and markers above statements.

    Subclasses call ``self.rewrote(rule, node, msg)`` when they change something,
    ``self.mark(rule, node, instruction)`` for an impossible case (a ``# MIGRATION-BLOCKER``
    comment on the line above the statement that contains ``node``) and
    ``self.note_above(rule, node, text)`` for an informational comment. Comments are attached to
    the statement's ``leading_lines``, so they can never land inside a string or after a
    backslash continuation, and an identical comment already there is not added twice.
    """

    DESCRIPTION = "sandbox migration codemod"
    METADATA_DEPENDENCIES: ClassVar[tuple] = (PositionProvider, QualifiedNameProvider)

    def __init__(
        self,
        context: CodemodContext,
        state: Any = None,
        versions: Versions | None = None,
        info: FileInfo | None = None,
    ) -> None:
        super().__init__(context)
        self.state = state
        self.versions = versions or Versions()
        self.info = info or FileInfo(rel=context.filename or "<string>", is_test=True, is_conftest=False)
        self.changes: list[Change] = []
        self._stmt_stack: list[cst.CSTNode] = []
        self._pending: dict[int, list[tuple[str, Change]]] = {}

    # bookkeeping
    def line_of(self, node: cst.CSTNode) -> int:
        try:
            return self.get_metadata(PositionProvider, node).start.line
        except KeyError:
            return 0

    def rewrote(self, rule: str, node: cst.CSTNode, message: str) -> None:
        self.changes.append(Change(rule, self.line_of(node), message, "rewrite"))

    def info_only(self, rule: str, node: cst.CSTNode, message: str) -> None:
        self.changes.append(Change(rule, self.line_of(node), message, "info"))

    def mark(self, rule: str, node: cst.CSTNode, instruction: str) -> None:
        self._attach(
            node, marker_text(rule, instruction), Change(rule, self.line_of(node), instruction, "marker")
        )

    def note_above(self, rule: str, node: cst.CSTNode, text: str) -> None:
        self._attach(node, note_text(text), Change(rule, self.line_of(node), text, "note"))

    def _attach(self, node: cst.CSTNode, comment: str, change: Change) -> None:
        target = self._statement_for(node)
        self._pending.setdefault(id(target), []).append((comment, change))

    def _statement_for(self, node: cst.CSTNode) -> cst.CSTNode:
        if _can_lead(node):
            return node
        # innermost statement on the stack (we are visiting inside it)
        if self._stmt_stack:
            return self._stmt_stack[-1]
        return node

    def qualified_names(self, node: cst.CSTNode, local: bool = False) -> set[str]:
        """Qualified names of `node` that come from an import (a local `class pytest` does not count)."""
        try:
            found = self.get_metadata(QualifiedNameProvider, node, set())
        except KeyError:
            return set()
        return {q.name for q in found if local or q.source == QualifiedNameSource.IMPORT}

    # statement stack; markers flushed into leading_lines when the statement is left
    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Module):
            self._module_first = node.body[0] if node.body else None
            self._header_comments = {line.comment.value for line in node.header if line.comment is not None}
        if _can_lead(node):
            self._stmt_stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        result = super().on_leave(original_node, updated_node)
        if _can_lead(original_node):
            if self._stmt_stack and self._stmt_stack[-1] is original_node:
                self._stmt_stack.pop()
            pending = self._pending.pop(id(original_node), None)
            if pending:
                if original_node is getattr(self, "_module_first", None):
                    # comments above a module's first statement live in Module.header
                    pending = [
                        (c, ch)
                        for c, ch in pending
                        if c not in self._header_comments or self.changes.append(ch)
                    ]
                result = self._flush(result, pending) if pending else result
        return result

    def _flush(self, result, pending: list[tuple[str, Change]]):
        target = result
        if isinstance(result, cst.FlattenSentinel):
            nodes = list(result.nodes)
            if nodes and _can_lead(nodes[0]):
                nodes[0] = self._with_comments(nodes[0], pending)
                return cst.FlattenSentinel(nodes)
            target = None
        elif isinstance(result, cst.RemovalSentinel) or not _can_lead(result):
            target = None
        if target is None:
            # the statement went away: hand the comments to the enclosing statement
            if self._stmt_stack:
                self._pending.setdefault(id(self._stmt_stack[-1]), []).extend(pending)
            return result
        return self._with_comments(target, pending)

    def _with_comments(self, stmt, pending: list[tuple[str, Change]]):
        existing = {line.comment.value for line in stmt.leading_lines if line.comment is not None}
        lines = list(stmt.leading_lines)
        for comment, change in pending:
            if comment not in existing:
                lines.append(
                    cst.EmptyLine(
                        indent=True, whitespace=cst.SimpleWhitespace(""), comment=cst.Comment(comment)
                    )
                )
                existing.add(comment)
            self.changes.append(change)
        return stmt.with_changes(leading_lines=lines)


def _can_lead(node: Any) -> bool:
    return isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) and hasattr(
        node, "leading_lines"
    )


# --- the Upgrade base ---------------------------------------------------------------------------


class Upgrade:
    """One library upgrade. Subclasses set the class attributes and override the hooks."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    tokens: ClassVar[tuple[str, ...]] = ()  # pre-check: parse only files containing one
    packages: ClassVar[tuple[str, ...]] = ()  # requirement names that signal the upgrade
    modules: ClassVar[tuple[str, ...]] = ()  # top-level import names that signal it
    codemod: ClassVar[type[MigrationCodemod] | None] = None
    test_files_only: ClassVar[bool] = False

    def precheck(self, rel: str, text: str) -> bool:
        if self.test_files_only and not is_test_file(rel):
            return False
        return any(token in text for token in self.tokens)

    def detect(self, tree: ProjectTree) -> bool:
        from migrators import requirements

        names = requirements.declared_packages(tree)
        if any(p in names for p in self.packages):
            return True
        if self.modules:
            pattern = r"^\s*(?:import|from)\s+(?:%s)\b" % "|".join(re.escape(m) for m in self.modules)
            regex = re.compile(pattern, re.M)
            return any(regex.search(tree.read(f)) for f in tree.python_files())
        return False

    def analyze(self, tree: ProjectTree, versions: Versions) -> Any:
        return None

    def make_codemod(
        self, context: CodemodContext, state: Any, versions: Versions, info: FileInfo
    ) -> MigrationCodemod | None:
        if self.codemod is None:
            return None
        return self.codemod(context, state=state, versions=versions, info=info)

    def requirement_rules(self, versions: Versions, state: Any) -> list[RequirementRule]:
        return []

    def python_floor(self, versions: Versions) -> tuple[str, str] | None:
        """(rule id, lowest Python version the target release supports), e.g. ("PA-1", "3.10")."""
        return None

    def rewrite_files(self, tree: ProjectTree, state: Any, versions: Versions, edits: EditSet) -> None:
        """Non-Python rewriters other than requirements (which the framework runs for all)."""


# --- running ------------------------------------------------------------------------------------


class MigrationError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def transform_source(
    code: str, upgrades: Sequence[Upgrade], states: dict[str, Any], versions: Versions, info: FileInfo
) -> tuple[str, list[Change], list[str]]:
    """Run the given upgrades' codemods over one file's text: (new code, changes, upgrades applied).

    Raises MigrationError for a parse error of the input (with its line) or an output that
    does not re-parse (the caller keeps the original).
    """
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        raise MigrationError(f"parse error: {exc.message}", exc.raw_line) from None
    changes: list[Change] = []
    applied: list[str] = []
    for upgrade in upgrades:
        context = CodemodContext(filename=info.rel, full_module_name=None)
        codemod = upgrade.make_codemod(context, states.get(upgrade.name), versions, info)
        if codemod is None:
            continue
        new_module = _strip_new_leading_blank_lines(module, codemod.transform_module(module))
        if codemod.changes or new_module.code != module.code:
            applied.append(upgrade.name)
        changes.extend(codemod.changes)
        module = new_module
    new_code = module.code
    if new_code != code:
        check_parses(new_code, info.rel)
    return new_code, changes, applied


def _strip_new_leading_blank_lines(before: cst.Module, after: cst.Module) -> cst.Module:
    """Removing a file's first statement (an unused import) must not leave blank lines on top."""
    if not after.body or after.header or before.code.startswith("\n") or not after.code.startswith("\n"):
        return after
    first = after.body[0]
    lines = list(first.leading_lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return after.with_changes(body=[first.with_changes(leading_lines=lines), *after.body[1:]])


def check_parses(code: str, rel: str) -> None:
    try:
        cst.parse_module(code)
        compile(code, rel, "exec", dont_inherit=True)
    except (cst.ParserSyntaxError, SyntaxError) as exc:
        line = getattr(exc, "raw_line", None) or getattr(exc, "lineno", None)
        raise MigrationError(
            f"internal error: rewritten code does not parse ({exc}); original kept", line
        ) from None


def select_upgrades(
    upgrades: Iterable[Upgrade | str] | None,
    tree: ProjectTree,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
) -> list[Upgrade]:
    from migrators import registry

    if upgrades is None:
        chosen = [registry.get(n) for n in only] if only else registry.detect(tree)
    else:
        chosen = [registry.get(u) if isinstance(u, str) else u for u in upgrades]
    return [u for u in chosen if u.name not in set(skip)]


def migrate_tree(
    root: Path | str,
    upgrades: Iterable[Upgrade | str] | None = None,
    write: bool = False,
    versions: Versions | None = None,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> TreeResult:
    """Run upgrades over a tree. `upgrades=None` detects them (or uses `only`). Writes only if `write`."""
    from migrators import requirements

    root = Path(root)
    versions = versions or load_versions()
    tree = ProjectTree(root)
    chosen = select_upgrades(upgrades, tree, only, skip)
    result = TreeResult(root=str(root), upgrades=[u.name for u in chosen], versions=versions.as_dict())
    states = {u.name: u.analyze(tree, versions) for u in chosen}

    # Python files: pre-check, one parse, one traversal per upgrade, re-parse safety net
    for rel in tree.python_files():
        text = tree.read(rel)
        relevant = [u for u in chosen if u.precheck(rel, text)]
        if not relevant:
            result.files.append(FileResult(rel, "skipped", reason="pre-check: no token of any upgrade"))
            continue
        if progress:
            progress(rel)
        info = FileInfo(
            rel=rel, is_test=is_test_file(rel), is_conftest=rel.endswith("conftest.py"), tree=tree
        )
        file_result = FileResult(rel, original=text, new=text)
        try:
            new, changes, applied = transform_source(text, relevant, states, versions, info)
        except MigrationError as exc:
            file_result.status, file_result.error, file_result.error_line = "error", str(exc), exc.line
        except Exception as exc:  # a rule crashed: report it, keep the file
            file_result.status = "error"
            file_result.error = f"internal error: {type(exc).__name__}: {exc}; original kept"
        else:
            file_result.new, file_result.changes, file_result.upgrades = new, changes, applied
            file_result.status = "changed" if new != text else "unchanged"
        result.files.append(file_result)

    # non-Python files: requirements (table-driven, all upgrades at once), then each upgrade's own
    edits = EditSet(tree)
    if chosen:
        try:
            requirements.rewrite_requirements(tree, chosen, states, versions, edits)
            requirements.rewrite_python_floor(tree, chosen, versions, edits)
        except Exception as exc:  # keep going: Python results stand
            edits.error("requirements", f"internal error: {type(exc).__name__}: {exc}")
    for upgrade in chosen:
        try:
            upgrade.rewrite_files(tree, states.get(upgrade.name), versions, edits)
        except Exception as exc:
            edits.error(
                upgrade.name, f"internal error in {upgrade.name} rewriter: {type(exc).__name__}: {exc}"
            )
    for rel in sorted(set(edits.texts) | set(edits.changes) | set(edits.errors)):
        original = tree.read(rel) if tree.path(rel).is_file() else ""
        new = edits.texts.get(rel, original)
        fr = FileResult(
            rel,
            changes=edits.changes.get(rel, []),
            upgrades=edits.upgrades.get(rel, []),
            original=original,
            new=new,
        )
        if rel in edits.errors:
            fr.status, (fr.error, fr.error_line) = "error", edits.errors[rel]
            fr.new = original
        else:
            fr.status = "changed" if new != original else "unchanged"
        result.files.append(fr)

    if write:
        for fr in result.changed:
            tree.path(fr.path).write_text(fr.new, encoding="utf-8")
    return result


def iter_markers(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if MARKER_PREFIX in line:
            yield number, line.strip()
