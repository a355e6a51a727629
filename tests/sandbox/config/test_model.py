"""sandbox.toml as a typed model: every bad value is a ConfigError naming file, key and expectation
(never a traceback), unknown keys get a did-you-mean, paths stay inside the repo, and a broken file
fails only its own service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.config import ConfigError, discover, json_schema, load_service, repo_settings, validate_layout

ROOT = Path(__file__).resolve().parents[3]


def _service(repo: Path, name: str, toml: str) -> Path:
    path = repo / "services" / name
    (path / "tests").mkdir(parents=True)
    (path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (path / "sandbox.toml").write_text(toml)
    return path


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ('priorty = "HIGH"\n', "priorty: unknown key (did you mean 'priority'?)"),
        ('needs = "influxdb3"\n', "needs: must be a list"),
        ('needs = ["influxdb"]\n', "needs: unknown dependency 'influxdb' (did you mean 'influxdb3'?)"),
        ("health = 5\n", "health: must be a string or a table, got int 5"),
        ('port = "abc"\n', "port: must be an integer, got str 'abc'"),
        ("port = [1]\n", "port: must be an integer, got list [1]"),
        ("port = -1\n", "port: must be greater than or equal to 1, got -1"),
        ("port = 70000\n", "port: must be less than or equal to 65535"),
        ("port = 8090.9\n", "port: must be an integer, got float 8090.9"),
        ("port = true\n", "port: must be an integer, got bool True"),
        ("timeouts = 5\n", "timeouts: must be a table, got int 5"),
        ("[timeouts]\ntest = true\n", "timeouts.test: must be a number, got bool True"),
        ("[timeouts]\ntest = 0\n", "timeouts.test: must be greater than 0"),
        ("[timeouts]\ntset = 4\n", "timeouts: unknown stage 'tset' (did you mean 'test'?)"),
        ("smoke = [1]\n", "smoke[1]: must be a table, got int 1"),
        ('[[smoke]]\nkind = "htp"\n', "smoke[1]: kind 'htp' is not one of http, "),
        ('[[smoke]]\nkind = "http"\nexpect_stauts = 200\n', "(did you mean 'expect_status'?)"),
        ('[[smoke]]\nkind = "http"\nexpect_status = "200"\n', "expect_status: expected an integer, got str"),
        ('[[smoke]]\nkind = "influx-query"\n', "kind 'influx-query' needs sql"),
        ('[[smoke]]\nkind = "mqtt-publish"\ntopic = "t"\ntimeout = -2\n', "timeout: must be a positive"),
        ('migrations = "x"\n', "migrations: must be a table, got str 'x'"),
        ('[migrations]\ninclude = ["tenacty"]\n', "unknown upgrade 'tenacty' (did you mean 'tenacity'?)"),
        ('[migrations]\nexclude = ["pydantic2"]\n', "migrations.exclude: unknown upgrade 'pydantic2'"),
        ('[health]\npaht = "/h"\n', "health.paht: unknown key (did you mean 'path'?)"),
        ('priority = "URGENT"\n', "priority: 'URGENT' is not one of LOW, MEDIUM, HIGH, CRITICAL"),
        ("priority = \n", "services/bad/sandbox.toml"),
    ],
)
def test_bad_values_name_file_key_and_expectation(tmp_path: Path, toml: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_service(_service(tmp_path, "bad", toml))
    assert str(error.value).startswith("bad: services/bad/sandbox.toml"), error.value
    assert fragment in str(error.value), error.value


@pytest.mark.parametrize(
    "toml, key, reason",
    [
        ('context = "../../.."\n', "context", "outside the repo"),
        ('context = "/etc"\n', "context", "absolute path"),
        ('dockerfile = "../../../etc/passwd"\n', "dockerfile", "outside the repo"),
        ('dockerfile = "/etc/passwd"\n', "dockerfile", "absolute path"),
        ('shared = ["../../../etc"]\n', "shared[1]", "outside the repo"),
        ('shared = ["/etc"]\n', "shared[1]", "absolute path"),
        ('shared = ["common", "~/x"]\n', "shared[2]", "'~' paths are refused"),
    ],
)
def test_path_keys_outside_the_repo_are_refused(tmp_path: Path, toml: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_service(_service(tmp_path / "repo", "svc", toml))
    assert f"svc: services/svc/sandbox.toml: {key}: " in str(error.value)
    assert reason in str(error.value)


def test_a_symlink_out_of_the_repo_is_refused_after_resolving(tmp_path: Path) -> None:
    outside = tmp_path / "host-secrets"
    outside.mkdir()
    repo = tmp_path / "repo"
    _service(repo, "svc", 'shared = ["leak"]\n')
    (repo / "services" / "leak").symlink_to(outside)
    with pytest.raises(ConfigError, match=r"shared\[1\]: .* resolves to .*host-secrets, outside the repo"):
        load_service(repo / "services" / "svc")


def test_paths_inside_the_repo_and_the_long_health_form_load(tmp_path: Path) -> None:
    (tmp_path / "services" / "common").mkdir(parents=True)
    config = load_service(
        _service(
            tmp_path,
            "svc",
            'context = ".."\nshared = ["common"]\nport = 8090\n[health]\npath = "/h"\nhealthy_statuses = ["ok"]\n'
            '[[smoke]]\nkind = "http"\npath = "/x"\nexpect_status = 200\n',
        )
    )
    assert (config.health, config.healthy_statuses, config.port) == ("/h", ("ok",), 8090)
    assert config.smoke[0].name == "http-1" and config.smoke[0].options == {
        "path": "/x",
        "expect_status": 200,
    }


def test_a_broken_file_fails_only_its_own_service(tmp_path: Path) -> None:
    _service(tmp_path, "good", 'priority = "LOW"\n')
    _service(tmp_path, "broken", 'priority = "HIGH"\nport = "abc"\n')
    fleet = discover(tmp_path / "services")
    assert fleet["good"].valid and validate_layout(fleet["good"]) == []
    assert not fleet["broken"].valid
    assert fleet["broken"].phase == "c"  # its readable priority keeps it in its phase
    assert validate_layout(fleet["broken"]) == [
        "broken: services/broken/sandbox.toml: port: must be an integer, got str 'abc'"
    ]


def test_repo_settings_read_tool_sandbox_and_refuse_escapes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sandbox]\nservices = "apps"\nshared = ["lib"]\n')
    settings = repo_settings(tmp_path)
    assert (settings.services_root, settings.shared) == (tmp_path.resolve() / "apps", ("lib",))
    (tmp_path / "pyproject.toml").write_text('[tool.sandbox]\nservices = "../elsewhere"\n')
    with pytest.raises(ConfigError, match="services: .* outside the repo"):
        repo_settings(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.sandbox]\nservice = "apps"\n')
    with pytest.raises(ConfigError, match="service: unknown key \\(did you mean 'services'\\?\\)"):
        repo_settings(tmp_path)


def test_committed_schema_is_the_models_schema() -> None:
    committed = json.loads((ROOT / "docs" / "sandbox.schema.json").read_text())
    assert committed == json_schema(), "regenerate: sandbox config-schema > docs/sandbox.schema.json"


def test_every_fleet_file_is_valid() -> None:
    fleet = discover(ROOT / "services")
    assert {name: config.error for name, config in fleet.items() if not config.valid} == {}


def test_every_key_and_smoke_key_is_documented_in_the_readme() -> None:
    from sandbox.config import SMOKE_KEYS, HealthTable, Migrations, SandboxToml

    readme = (ROOT / "README.md").read_text()
    keys = [*SandboxToml.model_fields, *HealthTable.model_fields, *Migrations.model_fields]
    keys += [key for options in SMOKE_KEYS.values() for key in options]
    forms = ("`{}`", "`[{}]`", "`[[{}]]`")
    assert [key for key in keys if not any(form.format(key) in readme for form in forms)] == []
