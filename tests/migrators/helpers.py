"""Before/after helpers in the style of LibCST's CodemodTest, with an idempotence check built in."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from migrators import migrate_tree
from migrators.core.results import Change
from migrators.core.runner import transform_source
from migrators.core.tree import FileInfo
from migrators.core.versions import Versions
from migrators.upgrades import default_registry


def dedent(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def marked_above(code: str, line: str, rule: str) -> bool:
    """The first line of `code` that reads `line` (stripped) has a `rule` marker right above it."""
    lines = code.splitlines()
    index = next(i for i, text in enumerate(lines) if text.strip() == line)
    return index > 0 and lines[index - 1].strip().startswith(f"# MIGRATION-BLOCKER({rule}): ")


def run_file(
    upgrade_name: str,
    before: str,
    *,
    state: Any = None,
    versions: Versions | None = None,
    rel: str = "tests/test_mod.py",
) -> tuple[str, list[Change]]:
    upgrade = default_registry().get(upgrade_name)
    versions = versions or default_registry().versions()
    info = FileInfo(rel=rel, is_test=True, is_conftest=rel.endswith("conftest.py"))
    new, changes, _ = transform_source(before, [upgrade], {upgrade_name: state}, versions, info)
    return new, changes


def assert_codemod(
    upgrade_name: str,
    before: str,
    after: str,
    *,
    rules: set[str] | None = None,
    state: Any = None,
    versions: Versions | None = None,
    rel: str = "tests/test_mod.py",
) -> list[Change]:
    """Transform `before`, compare with `after`, then run again: the second pass must change nothing."""
    before, after = dedent(before), dedent(after)
    new, changes = run_file(upgrade_name, before, state=state, versions=versions, rel=rel)
    assert new == after, f"--- got ---\n{new}\n--- expected ---\n{after}"
    again, _ = run_file(upgrade_name, new, state=state, versions=versions, rel=rel)
    assert again == new, f"not idempotent; second pass gave:\n{again}"
    if rules is not None:
        assert {c.rule for c in changes} == rules, changes
    return changes


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def migrate_twice(root: Path, **kwargs):
    """Apply in place, then check a second run changes nothing (idempotence over the whole tree)."""
    first = migrate_tree(root, write=True, **kwargs)
    second = migrate_tree(root, write=False, **kwargs)
    assert not second.changed, "second run changed: " + second.diff()
    return first


def read(root: Path, rel: str) -> str:
    return (root / rel).read_text()


def python_output(code: str, cwd: Path) -> str:
    """What `python -c code` prints in `cwd` (stripped), once it exited 0 (else its stderr fails
    the test): how a behaviour test runs migrated code on the installed new library."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()
