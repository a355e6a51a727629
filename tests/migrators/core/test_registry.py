"""The registry and the package face: declarations checked at load, rule owners, versions from the
upgrades' own declarations."""

from __future__ import annotations

import pytest

import migrators
from migrators.core.registry import Registry, RegistryError, load_reference
from migrators.core.upgrade import Packages, Upgrade
from migrators.upgrades import BUILTINS, default_registry


class Declared(Upgrade):
    name = "declared"
    rule_prefix = "DC"
    rules = {"DC-1": "one line"}
    packages = Packages(old=("declared-old",), new="declared-new")
    target_version = "3.1.0"

    def forced_pins(self, versions):
        return {"helper": ">=2" if versions.at_least("declared-new", "3") else ">=1"}


def test_the_face_is_what_sandbox_needs_and_nothing_else():
    assert sorted(migrators.__all__) == sorted(
        [
            "TreeResult",
            "detect_upgrades",
            "migrate_tree",
            "rule_catalogue",
            "target_versions",
            "upgrade_for_rule",
            "upgrade_names",
        ]
    )
    assert migrators.upgrade_names() == ["pytest-asyncio", "tenacity", "aiomqtt", "influxdb3"]
    assert migrators.target_versions() == {
        "pytest-asyncio": "1.5.0",
        "tenacity": "9.2.1",
        "aiomqtt": "2.5.1",
        "influxdb3-python": "0.21.0",
    }
    assert migrators.upgrade_for_rule("IX-9") == "influxdb3"
    assert migrators.upgrade_for_rule("PA-16") == "pytest-asyncio"
    assert migrators.upgrade_for_rule("ZZ-1") is None and migrators.upgrade_for_rule("") is None
    assert migrators.rule_catalogue()["tenacity"]["TN-6"].startswith("a sync function")


def test_one_line_per_builtin_and_each_loads_an_upgrade():
    assert len(BUILTINS) == len(default_registry().upgrades)
    assert all(isinstance(load_reference(ref), Upgrade) for ref in BUILTINS)
    with pytest.raises(RegistryError, match="not an Upgrade"):
        load_reference("migrators.core.registry:Registry")


def test_declarations_are_checked_when_the_registry_is_built():
    with pytest.raises(RegistryError, match="registered twice"):
        Registry((Declared(), Declared()))
    stray = type("Stray", (Declared,), {"name": "stray", "rule_prefix": "ST", "rules": {"DC-9": "x"}})
    with pytest.raises(RegistryError, match="do not start with ST-"):
        Registry((stray(),))
    unnamed = type("Unnamed", (Declared,), {"rule_prefix": ""})
    with pytest.raises(RegistryError, match="rule prefix"):
        Registry((unnamed(),))


def test_versions_come_from_the_declarations_and_pins_follow_the_targets(tmp_path):
    registry = Registry((Declared(),))
    assert registry.target_versions() == {"declared-new": "3.1.0"}
    versions = registry.versions()
    assert versions.target("declared-new") == "3.1.0" and versions.forced == {"helper": ">=2"}
    assert versions.with_targets(**{"declared-new": "2.0"}).forced == {"helper": ">=1"}
    (tmp_path / "v.toml").write_text('[forced]\nhelper = ">=5"\n')
    assert registry.versions(tmp_path / "v.toml").forced == {"helper": ">=5"}
    assert registry.owners() == {"DC": "declared"} and registry.upgrade_for_rule("DC-1") == "declared"
