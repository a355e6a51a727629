"""Adding an upgrade takes one new module and one registration, no edit of `migrators/`: a dummy
upgrade in a temporary folder, registered through the `sandbox.upgrades` entry-point group (as an
installed package would be) or through the registry API, is detected, run and blamed for its markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrators import migrate_tree
from migrators.core.registry import ENTRY_POINT_GROUP, Registry, RegistryError
from migrators.upgrades import BUILTINS, default_registry
from tests.migrators.helpers import dedent, read, write_tree

ROOT = Path(__file__).resolve().parents[3]

DUMMY_MODULE = """
import libcst as cst

from migrators.core.codemod import MigrationCodemod
from migrators.core.upgrade import Packages, Upgrade
from migrators.files.requirements import RequirementRule


class DummyCodemod(MigrationCodemod):
    def leave_Call(self, original_node, updated_node):
        names = self.qualified_names(original_node.func)
        if "dummy_old.old_call" in names:
            self.rewrote("DU-1", original_node, "old_call() -> new_call()")
            return updated_node.with_changes(func=cst.parse_expression("dummy_old.new_call"))
        if "dummy_old.old_danger" in names:
            self.mark("DU-2", original_node, "old_danger() has no successor; see docs/rules.md")
        return updated_node


class DummyUpgrade(Upgrade):
    name = "dummy"
    description = "dummy-old -> dummy-new (a test of the extension point)"
    rule_prefix = "DU"
    rules = {"DU-1": "old_call() becomes new_call()", "DU-2": "old_danger() is a blocker"}
    packages = Packages(old=("dummy-old",), new="dummy-new")
    target_version = "2.0.0"
    tokens = ("dummy_old",)
    modules = ("dummy_old",)
    codemod = DummyCodemod

    def requirement_rules(self, versions, state):
        return [RequirementRule("DU-1", "dummy-old", rename_to="dummy-new", version=versions.target("dummy-new"))]
"""

SERVICE = {
    "requirements.txt": "dummy-old==1.4\n",
    "app.py": "import dummy_old\n\ndummy_old.old_call()\ndummy_old.old_danger()\n",
}


@pytest.fixture
def dummy_package(tmp_path, monkeypatch) -> Path:
    """The dummy upgrade as an installed distribution: its module plus a dist-info with the entry point."""
    site = tmp_path / "site"
    (site / "acme_dummy-1.0.dist-info").mkdir(parents=True)
    (site / "acme_dummy.py").write_text(DUMMY_MODULE)
    (site / "acme_dummy-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-dummy\nVersion: 1.0\n"
    )
    (site / "acme_dummy-1.0.dist-info" / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ndummy = acme_dummy:DummyUpgrade\n"
    )
    default_registry()  # cached per process: load it before the dummy is installed, so it stays out
    monkeypatch.syspath_prepend(str(site))
    return site


def test_an_entry_point_upgrade_is_loaded_detected_and_run(dummy_package, tmp_path):
    registry = Registry.load(BUILTINS)
    assert registry.names() == [*Registry.load(BUILTINS, group="no.such.group").names(), "dummy"]
    assert "dummy" not in default_registry().names()
    assert registry.target_versions()["dummy-new"] == "2.0.0"
    assert registry.upgrade_for_rule("DU-2") == "dummy"

    write_tree(tmp_path / "svc", SERVICE)
    result = migrate_tree(tmp_path / "svc", write=True, registry=registry)

    assert result.upgrades == ["dummy"]
    assert read(tmp_path / "svc", "requirements.txt") == "dummy-new==2.0.0\n"
    assert read(tmp_path / "svc", "app.py") == dedent("""
        import dummy_old

        dummy_old.new_call()
        # MIGRATION-BLOCKER(DU-2): old_danger() has no successor; see docs/rules.md
        dummy_old.old_danger()
    """)
    assert [(m["rule"], m["upgrade"]) for m in result.to_json()["markers"]] == [("DU-2", "dummy")]


def test_the_cli_finds_an_entry_point_upgrade_without_any_edit_of_migrators(dummy_package, tmp_path):
    """`python -m migrators` as the migrator image runs it: package from PYTHONPATH, upgrade installed."""
    write_tree(tmp_path / "svc", SERVICE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(dummy_package), str(ROOT)])}
    listed = subprocess.run(
        [sys.executable, "-m", "migrators", "--list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "dummy\tdummy-old -> dummy-new" in listed.stdout, listed.stderr
    run = subprocess.run(
        [sys.executable, "-m", "migrators", str(tmp_path / "svc"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr  # the DU-2 blocker remains
    report = json.loads(run.stdout)
    assert [(b["path"], b["rule"], b["upgrade"]) for b in report["blockers"]] == [("app.py", "DU-2", "dummy")]


def test_an_upgrade_added_through_the_registry_api(tmp_path, monkeypatch):
    (tmp_path / "dummy_by_reference.py").write_text(DUMMY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.load([*BUILTINS, "dummy_by_reference:DummyUpgrade"])
    write_tree(tmp_path / "svc", SERVICE)
    result = migrate_tree(tmp_path / "svc", registry=registry)
    assert result.upgrades == ["dummy"] and len(result.changed) == 2


def test_two_upgrades_may_not_claim_one_rule_prefix(dummy_package):
    registry = Registry.load(BUILTINS)
    clash = type(registry.get("dummy"))
    renamed = type("OtherDummy", (clash,), {"name": "other-dummy"})
    with pytest.raises(RegistryError, match="rule prefix 'DU'"):
        registry.with_upgrades(renamed())
