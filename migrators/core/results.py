"""What a migration run produces: per-file changes, the tree's result, and the blocker markers.

A marker is the codemods' "never guess" output: a `# MIGRATION-BLOCKER(RULE-ID): ...` comment above
the statement a person must finish. Its record names the rule and the upgrade that owns the rule, so
a reader of the JSON report (the sandbox) never parses marker text to know which upgrade to blame.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MARKER_PREFIX = "MIGRATION-BLOCKER("
MARKER_RULE = re.compile(r"MIGRATION-BLOCKER\((?P<rule>[^)\s]+)\)")


def marker_text(rule: str, instruction: str) -> str:
    instruction = " ".join(instruction.split())
    return f"# MIGRATION-BLOCKER({rule}): {instruction}"


def note_text(text: str) -> str:
    return "# " + " ".join(text.split()).lstrip("# ")


def rule_prefix(rule_id: str) -> str:
    """'XX-9' -> 'XX': the part of a rule id that names the upgrade owning it."""
    return rule_id.split("-", 1)[0]


def iter_markers(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of every blocker marker in a text."""
    for number, line in enumerate(text.splitlines(), 1):
        if MARKER_PREFIX in line:
            yield number, line.strip()


@dataclass(frozen=True)
class MarkerRecord:
    """One blocker marker as the JSON report gives it: where, which rule, which upgrade."""

    path: str
    line: int
    rule: str
    upgrade: str | None  # None: no known upgrade declares the rule's prefix
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckFailure:
    """One post-migrate check failure: where, what kind, and what a person must do next."""

    path: str
    line: int
    kind: str  # undefined-name | signature | unmarked | ...
    message: str
    next_step: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckResult:
    failures: list[CheckFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def extend(self, failures: Iterable[CheckFailure]) -> None:
        self.failures.extend(failures)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": [f.to_json() for f in self.failures]}


@dataclass
class Change:
    """One thing a rule did in a file. kind: rewrite | marker | note | info."""

    rule: str
    line: int
    message: str
    kind: str = "rewrite"


def insert_markers(
    lines: list[str], places: Mapping[int, tuple[str, str]], marked: Callable[[list[str], int], bool]
) -> list[Change]:
    """Put a marker line above each line of `places` (1-based line -> (rule, instruction)) unless
    `marked(lines, line)` finds one there already (a second run adds none). `lines` keep their line
    endings and are changed in place, bottom-up, so each line number still points at its line and
    what lies above it is unchanged when it is looked at; each marker takes its line's indent and
    line ending. The changes come in line order."""
    changes = []
    for line in sorted(places, reverse=True):
        if marked(lines, line):
            continue
        rule, instruction = places[line]
        original = lines[line - 1]
        indent = original[: len(original) - len(original.lstrip())]
        newline = "\r\n" if original.endswith("\r\n") else "\n"
        lines.insert(line - 1, f"{indent}{marker_text(rule, instruction)}{newline}")
        changes.append(Change(rule, line, instruction, "marker"))
    return sorted(changes, key=lambda change: change.line)


@dataclass
class FileResult:
    path: str  # relative to the tree root, posix separators
    status: str = "unchanged"  # changed | unchanged | skipped | error
    changes: list[Change] = field(default_factory=list)
    upgrades: list[str] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    traceback: str | None = None  # internal errors keep theirs: a crashed rule must be debuggable
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
        if self.traceback:
            data["traceback"] = self.traceback
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class TreeResult:
    root: str
    upgrades: list[str]
    versions: dict[str, Any]
    files: list[FileResult] = field(default_factory=list)
    # rule prefix -> upgrade name, for every known upgrade (a marker may come from any of them)
    owners: Mapping[str, str] = field(default_factory=dict)
    # the post-migrate check (None: not run, e.g. a result built by hand)
    check: CheckResult | None = None
    # a monorepo root run one unit at a time: the units' paths ("" for a plain service)
    units: list[str] = field(default_factory=list)

    def absorb(self, unit: str, sub: TreeResult) -> None:
        """Add one unit's result, its paths made relative to this (monorepo) root."""
        prefix = f"{unit}/" if unit else ""
        for fr in sub.files:
            fr.path = prefix + fr.path
            self.files.append(fr)
        self.upgrades.extend(u for u in sub.upgrades if u not in self.upgrades)
        self.owners = {**self.owners, **sub.owners}
        if sub.check is not None:
            self.check = self.check or CheckResult()
            for failure in sub.check.failures:
                self.check.failures.append(replace(failure, path=prefix + failure.path))

    @property
    def changed(self) -> list[FileResult]:
        return [f for f in self.files if f.changed]

    @property
    def errors(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "error"]

    @property
    def markers(self) -> list[tuple[str, Change]]:
        return [(f.path, c) for f in self.files for c in f.markers]

    def marker_records(self) -> list[MarkerRecord]:
        """The markers this run added, each with the upgrade that owns its rule."""
        return [
            MarkerRecord(path, c.line, c.rule, self.owners.get(rule_prefix(c.rule)), c.message)
            for path, c in self.markers
        ]

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
                "check_failures": len(self.check.failures) if self.check else 0,
            },
            "rules": self.rule_counts(),
            "files": [f.to_json() for f in self.files if f.status != "skipped" or f.changes],
            "markers": [record.to_json() for record in self.marker_records()],
            "check": (self.check or CheckResult()).to_json(),
        }
        if self.units:
            data["units"] = self.units
        if include_diff:
            data["diff"] = self.diff()
        return data
