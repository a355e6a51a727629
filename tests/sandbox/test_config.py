"""sandbox.toml parsing, validation, phases, shards and shared-code dependents (pure logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.config import ConfigError, dependents_of, discover, load_service, shard, validate_layout


def _service(root: Path, name: str, toml: str | None, dockerfile: bool = True, tests: bool = True) -> Path:
    path = root / "services" / name
    path.mkdir(parents=True)
    if toml is not None:
        (path / "sandbox.toml").write_text(toml)
    if dockerfile:
        (path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    if tests:
        (path / "tests").mkdir()
    return path


def test_defaults_when_sandbox_toml_is_missing(tmp_path: Path) -> None:
    config = load_service(_service(tmp_path, "svc", None))
    assert (config.priority, config.phase, config.port, config.health) == ("MEDIUM", "b", 8000, "/health")
    assert config.needs == ("influxdb3", "mosquitto")


def test_priority_maps_to_phase_and_shared_paths_are_read(tmp_path: Path) -> None:
    config = load_service(
        _service(
            tmp_path,
            "svc",
            'priority = "critical"\ncontext = ".."\nshared = ["common"]\n'
            'needs = ["mosquitto"]\n[timeouts]\ntest = 30\n',
        )
    )
    assert (config.priority, config.phase, config.shared, config.needs) == (
        "CRITICAL",
        "d",
        ("common",),
        ("mosquitto",),
    )
    assert config.timeouts["test"] == 30 and config.timeouts["build"] == 900
    assert config.context_path == (tmp_path / "services").resolve()


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ('priority = "URGENT"\n', "priority: 'URGENT' is not one of"),
        ('needs = ["postgres"]\n', "needs: unknown dependency 'postgres'"),
        ("[timeouts]\ntest = -1\n", "timeouts.test: must be greater than 0, got -1"),
        ('[[smoke]]\nkind = "ssh"\n', "smoke[1]: kind 'ssh' is not one of"),
        ("priority = \n", "sandbox.toml"),
    ],
)
def test_invalid_config_names_service_file_and_key(tmp_path: Path, toml: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_service(_service(tmp_path, "bad-svc", toml))
    assert str(error.value).startswith("bad-svc: services/bad-svc/sandbox.toml")
    assert fragment in str(error.value)


def test_layout_problems_name_the_missing_file(tmp_path: Path) -> None:
    config = load_service(_service(tmp_path, "svc", 'shared = ["common"]\n', dockerfile=False, tests=False))
    problems = validate_layout(config)
    assert "svc: services/svc/Dockerfile is missing" in problems
    assert "svc: services/svc/tests/ is missing (no tests to run)" in problems
    assert any("services/common" in problem for problem in problems)


def test_discover_skips_common_and_finds_dependents(tmp_path: Path) -> None:
    _service(tmp_path, "a", 'shared = ["common"]\n')
    _service(tmp_path, "b", 'shared = ["common"]\n')
    _service(tmp_path, "c", None)
    (tmp_path / "services" / "common").mkdir()
    fleet = discover(tmp_path / "services")
    assert list(fleet) == ["a", "b", "c"]
    assert dependents_of("common", fleet) == ["a", "b"]


def test_shards_partition_the_services() -> None:
    names = [f"s{i}" for i in range(7)]
    parts = [shard(names, f"{k}/3") for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(names)
    assert all(parts)
    with pytest.raises(ValueError, match="K must be between 1 and N"):
        shard(names, "4/3")
    with pytest.raises(ValueError, match="expected K/N"):
        shard(names, "half")
