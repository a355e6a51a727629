"""The `Upgrade` base: everything the framework knows about one library upgrade, declared by it.

An upgrade (one module or package under `migrators/upgrades/`, or a third-party package registered
in the `sandbox.upgrades` entry-point group) is an :class:`Upgrade` subclass with

* ``name``, ``description``, ``rule_prefix`` ("IX") and ``rules``, its catalogue
  ``{"XX-9": "one line"}`` (docs/rules.md explains each id; a test keeps the two in step);
* ``packages``: the requirement names it owns (old ones that signal it, the new one it targets)
  and ``target_version``, the default release of ``packages.new``;
* ``tokens``: the cheap text pre-check (a Python file that mentions none is never parsed), and
  optionally ``needs_codemod``, a precise one (a file its codemod cannot change is not parsed for it);
* ``detect(tree)``, ``analyze(tree, versions)`` (project-wide facts gathered once, before any
  file), ``codemod`` (a :class:`MigrationCodemod` applying *all* its Python rules in one
  traversal), ``requirement_rules``, ``forced_pins``, ``python_floor`` and ``rewrite_files``;
* optionally ``sweeper``: a :class:`Sweeper` run after every upgrade's rules on every Python file
  that still shows the old library, marking what the rules did not convert, and checking the
  result (the post-migrate check, :mod:`migrators.core.check`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from libcst.codemod import CodemodContext

from migrators.core.codemod import MigrationCodemod
from migrators.core.results import Change, CheckFailure
from migrators.core.tree import EditSet, FileInfo, ProjectTree, is_test_file
from migrators.core.versions import Versions
from migrators.files.requirements import RequirementRule, declared_packages


class Sweeper:
    """The "never miss silently" pass of one upgrade, built once per service (unit) from its files.

    ``precheck`` says whether a file can hold an old-API shape at all (a cheap text test);
    ``sweep`` runs after every upgrade's rules on the file's text and returns it with a
    ``MIGRATION-BLOCKER`` above each statement still holding an old shape (never a second one), with
    the markers as changes; ``check`` reports, on the final text of a file, what the post-migrate
    check must fail on.
    """

    def __init__(self, tree: ProjectTree, versions: Versions):
        self.tree = tree
        self.versions = versions

    def precheck(self, rel: str, text: str) -> bool:
        return False

    def sweep(self, info: FileInfo, code: str) -> tuple[str, list[Change]]:
        return code, []

    def check(self, rel: str, text: str) -> list[CheckFailure]:
        return []


@dataclass(frozen=True)
class Packages:
    """Requirement names an upgrade owns: `old` signal it in a tree; `new` is what it targets."""

    old: tuple[str, ...] = ()
    new: str = ""


class Upgrade:
    """One library upgrade. Subclasses set the class attributes and override the hooks."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    rule_prefix: ClassVar[str] = ""
    rules: ClassVar[Mapping[str, str]] = {}
    packages: ClassVar[Packages] = Packages()
    target_version: ClassVar[str] = ""
    tokens: ClassVar[tuple[str, ...]] = ()  # pre-check: parse only files containing one
    modules: ClassVar[tuple[str, ...]] = ()  # top-level import names that signal it
    codemod: ClassVar[type[MigrationCodemod] | None] = None
    sweeper: ClassVar[type[Sweeper] | None] = None
    test_files_only: ClassVar[bool] = False

    def precheck(self, rel: str, text: str) -> bool:
        if self.test_files_only and not is_test_file(rel):
            return False
        return any(token in text for token in self.tokens)

    def needs_codemod(self, rel: str, text: str, state: Any = None) -> bool:
        """A file that passed :meth:`precheck`: False only where the codemod provably changes nothing
        (no rule of it can fire on this text, given `state`, what :meth:`analyze` found in the unit),
        so the file is not parsed for it. The file still counts as scanned ("unchanged", not
        "skipped"): the report stays what a full run gives."""
        return True

    def detect(self, tree: ProjectTree) -> bool:
        names = declared_packages(tree)
        if any(p in names for p in self.packages.old):
            return True
        if self.modules:
            names = "|".join(re.escape(m) for m in self.modules)
            pattern = rf"^\s*(?:import|from)\s+(?:{names})\b"
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

    def make_sweeper(self, tree: ProjectTree, versions: Versions) -> Sweeper | None:
        return self.sweeper(tree, versions) if self.sweeper else None

    def requirement_rules(self, versions: Versions, state: Any) -> list[RequirementRule]:
        return []

    def forced_pins(self, versions: Versions) -> dict[str, str]:
        """Pins the target forces on other packages, e.g. {"pytest": ">=8.4"}."""
        return {}

    def python_floor(self, versions: Versions) -> tuple[str, str] | None:
        """(rule id, lowest Python version the target release supports), e.g. ("XX-1", "3.10")."""
        return None

    def rewrite_files(self, tree: ProjectTree, state: Any, versions: Versions, edits: EditSet) -> None:
        """Non-Python rewriters other than requirements (which the framework runs for all)."""
