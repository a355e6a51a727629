"""The service config: the repo and its services root, each service's `sandbox.toml` as a typed model,
phases, shards and shared-code dependents.

`sandbox.toml` is parsed by pydantic (strict types, unknown keys refused with a did-you-mean); every
error names the file, the key and what was expected. A missing file gets defaults that still make
sense (MEDIUM priority, port 8000, /health, the built-in dependencies). Every path key (`context`,
`shared`, `dockerfile`) must resolve, symlinks followed, inside the repo. `discover` never lets one
broken file stop the others: the broken service carries its error and fails on its own (resolve
stage, `plan` shows it as invalid).

The repo is SANDBOX_REPO (what `--repo` sets), else the first folder from the working directory
upward with `[tool.sandbox]` in its pyproject.toml or a `services/` folder. `[tool.sandbox]` may
set `services` (the services root, default "services") and `shared` (folders under it that hold
shared code and are never services, default ["common"]).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox.deps import DEFAULT_NEEDS, dependencies, smoke_runners
from sandbox.engine.images import project_root
from sandbox.upgrade_facts import upgrade_names

PRIORITY_PHASE = {"LOW": "a", "MEDIUM": "b", "HIGH": "c", "CRITICAL": "d"}
PHASES = ("a", "b", "c", "d")
DEFAULT_TIMEOUTS = {"migrate": 300, "build": 900, "test": 600, "health": 90, "baseline": 900}
DEFAULT_SERVICES = "services"
DEFAULT_SHARED = ("common",)
HEALTHY_STATUSES = ("ok", "healthy", "pass", "up")
# Kept for callers that still read it: the default shared folders are never services.
NOT_SERVICES = set(DEFAULT_SHARED)


class ConfigError(ValueError):
    """A service's or the repo's configuration is unusable; the message names the file and key."""


# --- the repo ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoSettings:
    """`[tool.sandbox]` of the repo's pyproject.toml: where the services are, which folders are shared."""

    root: Path
    services: str = DEFAULT_SERVICES
    shared: tuple[str, ...] = DEFAULT_SHARED

    @property
    def services_root(self) -> Path:
        return self.root / self.services


def _has_tool_sandbox(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        return "sandbox" in tomllib.loads(pyproject.read_text()).get("tool", {})
    except (tomllib.TOMLDecodeError, OSError):
        return False


def find_repo(start: Path) -> Path | None:
    """The nearest folder from `start` upward that is a sandbox repo ([tool.sandbox] or services/)."""
    for folder in (start, *start.parents):
        if _has_tool_sandbox(folder) or (folder / DEFAULT_SERVICES).is_dir():
            return folder
    return None


def repo_root() -> Path:
    """The monorepo the sandbox works on: SANDBOX_REPO (`--repo`), else found from the working
    directory upward, else this checkout (a development install)."""
    if os.environ.get("SANDBOX_REPO"):
        return Path(os.environ["SANDBOX_REPO"]).resolve()
    found = find_repo(Path.cwd().resolve())
    if found is not None:
        return found
    if (project_root() / DEFAULT_SERVICES).is_dir():
        return project_root()
    raise ConfigError(
        f"no sandbox repo at or above {Path.cwd()}: run inside a repo with a services/ folder or "
        "[tool.sandbox] in its pyproject.toml, or pass --repo PATH (or set SANDBOX_REPO)"
    )


class _RepoModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    services: str = DEFAULT_SERVICES
    shared: list[str] = Field(default_factory=lambda: list(DEFAULT_SHARED))


def repo_settings(root: Path | None = None) -> RepoSettings:
    """The repo's `[tool.sandbox]` settings (defaults without one); paths must stay inside the repo."""
    root = (root or repo_root()).resolve()
    pyproject = root / "pyproject.toml"
    raw: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            raw = tomllib.loads(pyproject.read_text()).get("tool", {}).get("sandbox", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject}: {exc}") from exc
    try:
        model = _RepoModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors("pyproject.toml [tool.sandbox]", exc, _RepoModel)) from exc
    services = _inside(root, root / model.services, "pyproject.toml [tool.sandbox]", "services")
    return RepoSettings(root, services.relative_to(root).as_posix() or ".", tuple(model.shared))


# --- sandbox.toml: the typed model --------------------------------------------------------------------

PositiveSeconds = Annotated[int | float, Field(gt=0, le=86_400)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HealthTable(_Strict):
    """`[health]`: the long form of `health = "/path"`."""

    path: str = Field("/health", description="HTTP path answering the service's health")
    healthy_statuses: list[str] | None = Field(
        None, description='"status" values of a 200 answer that mean healthy (default ok, healthy, pass, up)'
    )


class Migrations(_Strict):
    """`[migrations]`: override which upgrades apply (detection from imports and requirements otherwise)."""

    include: list[str] = Field(default_factory=list, description="upgrades to apply even when not detected")
    exclude: list[str] = Field(default_factory=list, description="upgrades never to apply to this service")

    @field_validator("include", "exclude")
    @classmethod
    def _known_upgrades(cls, names: list[str]) -> list[str]:
        known = upgrade_names()
        for name in names:
            if name not in known:
                raise ValueError(
                    f"unknown upgrade {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}"
                )
        return names


# The option keys of the built-in smoke step kinds: key -> (type, required). A kind a team registers
# through sandbox.deps takes any keys (its own runner reads them).
SMOKE_KEYS: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "http": {
        "method": (str, False),
        "path": (str, False),
        "json": (object, False),
        "expect_status": (int, False),
        "timeout": ((int, float), False),
    },
    "influx-query": {"sql": (str, True), "expect_min_rows": (int, False), "timeout": ((int, float), False)},
    "mqtt-publish": {
        "topic": (str, True),
        "payload": (str, False),
        "expect_topic": (str, False),
        "timeout": ((int, float), False),
    },
}


class SmokeStepModel(BaseModel):
    """`[[smoke]]`: one check after health; `kind` picks its runner, the other keys are its options."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    name: str | None = Field(None, description="shown in reports (default <kind>-<n>)")
    kind: str = Field(description="http | influx-query | mqtt-publish | a kind a registered dependency owns")

    @model_validator(mode="after")
    def _kind_and_options(self) -> SmokeStepModel:
        kinds = smoke_runners()
        if self.kind not in kinds:
            raise ValueError(
                f"kind {self.kind!r} is not one of {', '.join(kinds)}{_did_you_mean(self.kind, list(kinds))}"
            )
        _check_smoke_options(self.kind, dict(self.model_extra or {}))
        return self


def _check_smoke_options(kind: str, options: dict[str, Any]) -> None:
    keys = SMOKE_KEYS.get(kind)
    if keys is None:
        return
    for key, value in options.items():
        if key not in keys:
            allowed = ["name", "kind", *keys]
            raise ValueError(f"unknown key {key!r} for kind {kind!r}{_did_you_mean(key, allowed)}")
        expected, _ = keys[key]
        if isinstance(value, bool) and expected is not object or not isinstance(value, expected):
            raise ValueError(f"{key}: expected {_type_name(expected)}, got {type(value).__name__} {value!r}")
        if key == "timeout" and value <= 0:
            raise ValueError("timeout: must be a positive number of seconds")
    missing = [key for key, (_, required) in keys.items() if required and key not in options]
    if missing:
        raise ValueError(f"kind {kind!r} needs {', '.join(missing)}")


class SandboxToml(_Strict):
    """The whole of `services/<name>/sandbox.toml`."""

    priority: str = Field("MEDIUM", description="LOW | MEDIUM | HIGH | CRITICAL (phase A | B | C | D)")
    port: int = Field(8000, ge=1, le=65535, description="the port the service listens on in its container")
    health: str | HealthTable = Field("/health", description="health path, or a [health] table")
    healthy_statuses: list[str] | None = Field(None, description="see [health] healthy_statuses")
    needs: list[str] | None = Field(None, description="dependencies started for tests and health")
    context: str = Field(".", description="docker build context, relative to the service folder")
    dockerfile: str = Field("Dockerfile", description="the Dockerfile, relative to the service folder")
    shared: list[str] = Field(default_factory=list, description="shared code folders, relative to services/")
    timeouts: dict[str, PositiveSeconds] = Field(
        default_factory=dict, description="seconds per stage: " + ", ".join(DEFAULT_TIMEOUTS)
    )
    migrations: Migrations = Field(default_factory=Migrations)
    smoke: list[SmokeStepModel] = Field(default_factory=list, description="[[smoke]] steps run after health")

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str) -> str:
        upper = value.upper()
        if upper not in PRIORITY_PHASE:
            raise ValueError(f"{value!r} is not one of {', '.join(PRIORITY_PHASE)}")
        return upper

    @field_validator("needs")
    @classmethod
    def _needs(cls, value: list[str] | None) -> list[str] | None:
        known = list(dependencies())
        for need in value or []:
            if need not in known:
                raise ValueError(
                    f"unknown dependency {need!r}{_did_you_mean(need, known)}; known: {', '.join(known)}"
                )
        return value

    @field_validator("timeouts")
    @classmethod
    def _timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        for stage in value:
            if stage not in DEFAULT_TIMEOUTS:
                raise ValueError(
                    f"unknown stage {stage!r}{_did_you_mean(stage, list(DEFAULT_TIMEOUTS))}; "
                    f"known: {', '.join(DEFAULT_TIMEOUTS)}"
                )
        return value


def json_schema() -> dict[str, Any]:
    """The JSON Schema of sandbox.toml, for editors (Taplo / Even Better TOML)."""
    schema = SandboxToml.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sandbox.toml"
    return schema


# --- errors --------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "list_type": 'must be a list (an array, e.g. ["a", "b"])',
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
}


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return " or ".join(_type_name(one) for one in expected)
    return {str: "a string", int: "an integer", float: "a number", object: "any value"}.get(
        expected, expected.__name__
    )


def _key(loc: tuple[Any, ...]) -> str:
    """('smoke', 0, 'kind') -> smoke[1].kind; union branch names pydantic adds are dropped."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        elif part in (
            "str",
            "HealthTable",
            "int",
            "float",
            "list[str]",
            "function-after[_kind_and_options()]",
        ):
            continue
        elif "[" in str(part) or "function-" in str(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text or "(file)"


def _expected(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        fields = list(_fields_at(model, error["loc"][:-1]))
        return f"unknown key{_did_you_mean(name, fields)}; known: {', '.join(fields)}"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}, got {type(error['input']).__name__} {error['input']!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("greater_than", "less_than_equal", "greater_than_equal", "less_than"):
        return f"{message.replace('Input should be', 'must be')}, got {error['input']!r}"
    return message


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at a location (for did-you-mean), following nested models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not isinstance(current, type) or not issubclass(current, BaseModel):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            continue
        annotation = info.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), annotation
        )
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _format_errors(file: str, exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem: file: key: what was expected (and what was found)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for error in exc.errors():
        by_key.setdefault(_key(error["loc"]), []).append(error)
    lines = []
    for key, errors in by_key.items():
        # A union (health = str | table, seconds = int | float) reports each branch: say it once.
        kinds = {error["type"] for error in errors}
        got = f"got {type(errors[0]['input']).__name__} {errors[0]['input']!r}"
        if {"int_type", "float_type"} <= kinds:
            lines.append(f"{file}: {key}: must be a number, {got}")
        elif {"string_type", "model_type"} <= kinds:
            lines.append(f"{file}: {key}: must be a string or a table, {got}")
        else:
            lines.append(f"{file}: {key}: {_expected(errors[0], model)}")
    return "\n".join(lines)


# --- the result the pipeline uses ---------------------------------------------------------------------


@dataclass(frozen=True)
class SmokeStep:
    name: str
    kind: str
    options: dict[str, Any]


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    path: Path  # <services root>/<name>
    priority: str = "MEDIUM"
    port: int = 8000
    health: str = "/health"
    needs: tuple[str, ...] = DEFAULT_NEEDS
    context: str = "."  # build context relative to the service folder
    shared: tuple[str, ...] = ()  # paths relative to the services root, e.g. ("common",)
    dockerfile: str = "Dockerfile"
    smoke: tuple[SmokeStep, ...] = ()
    timeouts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    migrations_include: tuple[str, ...] = ()
    migrations_exclude: tuple[str, ...] = ()
    healthy_statuses: tuple[str, ...] = HEALTHY_STATUSES
    error: str | None = None  # the sandbox.toml is invalid: the service fails at resolve with this

    @property
    def phase(self) -> str:
        return PRIORITY_PHASE[self.priority]

    @property
    def services_root(self) -> Path:
        return self.path.parent

    @property
    def context_path(self) -> Path:
        return (self.path / self.context).resolve()

    @property
    def valid(self) -> bool:
        return self.error is None


def _relative_file(path: Path, repo: Path) -> str:
    try:
        return (path / "sandbox.toml").relative_to(repo).as_posix()
    except ValueError:
        return str(path / "sandbox.toml")


def _inside(repo: Path, target: Path, file: str, key: str) -> Path:
    """`target` resolved (symlinks followed) if it stays inside the repo; ConfigError otherwise."""
    resolved = target.resolve()
    if not resolved.is_relative_to(repo.resolve()):
        raise ConfigError(
            f"{file}: {key}: {target} resolves to {resolved}, outside the repo {repo.resolve()}; "
            "only paths inside the repo are allowed"
        )
    return resolved


def _check_paths(path: Path, repo: Path, file: str, model: SandboxToml) -> None:
    named = [("context", model.context, path), ("dockerfile", model.dockerfile, path)]
    named += [(f"shared[{i}]", value, path.parent) for i, value in enumerate(model.shared, 1)]
    for key, value, base in named:
        if not value.strip():
            raise ConfigError(f"{file}: {key}: must not be empty")
        if value.startswith("~"):
            raise ConfigError(f"{file}: {key}: '~' paths are refused; name a path relative to the repo")
        if Path(value).is_absolute():
            raise ConfigError(
                f"{file}: {key}: {value!r} is an absolute path; name a path relative to the repo"
            )
        _inside(repo, base / value, file, key)


def _from_model(path: Path, model: SandboxToml) -> ServiceConfig:
    health = model.health if isinstance(model.health, str) else model.health.path
    statuses = model.healthy_statuses or (
        model.health.healthy_statuses if isinstance(model.health, HealthTable) else None
    )
    return ServiceConfig(
        name=path.name,
        path=path,
        priority=model.priority,
        port=model.port,
        health=health,
        needs=tuple(model.needs) if model.needs is not None else DEFAULT_NEEDS,
        context=model.context,
        shared=tuple(model.shared),
        dockerfile=model.dockerfile,
        smoke=tuple(
            SmokeStep(step.name or f"{step.kind}-{index}", step.kind, dict(step.model_extra or {}))
            for index, step in enumerate(model.smoke, 1)
        ),
        timeouts={**DEFAULT_TIMEOUTS, **{k: int(v) for k, v in model.timeouts.items()}},
        migrations_include=tuple(model.migrations.include),
        migrations_exclude=tuple(model.migrations.exclude),
        healthy_statuses=tuple(statuses or HEALTHY_STATUSES),
    )


def load_service(path: Path, repo: Path | None = None) -> ServiceConfig:
    """Read <services root>/<name>/sandbox.toml (or defaults) and validate it; ConfigError names the
    service, the file and every bad key. `repo` bounds the path keys (default: the services root's
    parent)."""
    repo = (repo or path.parent.parent).resolve()
    file_path = path / "sandbox.toml"
    file = _relative_file(path, repo)
    raw: dict[str, Any] = {}
    if file_path.is_file():
        try:
            raw = tomllib.loads(file_path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path.name}: {file}: {exc}") from exc
    try:
        model = SandboxToml.model_validate(raw)
    except ValidationError as exc:
        message = _format_errors(file, exc, SandboxToml)
        raise ConfigError("\n".join(f"{path.name}: {line}" for line in message.splitlines())) from exc
    try:
        _check_paths(path, repo, file, model)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc
    return _from_model(path, model)


def _invalid(path: Path, error: ConfigError) -> ServiceConfig:
    """A service whose sandbox.toml is broken: defaults, its priority if that part was readable."""
    priority = "MEDIUM"
    try:
        raw = tomllib.loads((path / "sandbox.toml").read_text())
        if isinstance(raw.get("priority"), str) and raw["priority"].upper() in PRIORITY_PHASE:
            priority = raw["priority"].upper()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        pass
    return ServiceConfig(name=path.name, path=path, priority=priority, error=str(error))


def validate_layout(config: ServiceConfig) -> list[str]:
    """Problems that stop the resolve stage: an invalid sandbox.toml, or the file that is missing."""
    if config.error:
        return config.error.splitlines()
    problems = []
    dockerfile = config.path / config.dockerfile
    if not dockerfile.is_file():
        problems.append(f"{config.name}: services/{config.name}/{config.dockerfile} is missing")
    if not (config.path / "tests").is_dir() and not list(config.path.glob("test_*.py")):
        problems.append(f"{config.name}: services/{config.name}/tests/ is missing (no tests to run)")
    for shared in config.shared:
        if not (config.services_root / shared).exists():
            problems.append(f"{config.name}: shared path services/{shared} (sandbox.toml: shared) is missing")
    if not config.context_path.is_dir():
        problems.append(f"{config.name}: build context {config.context!r} (sandbox.toml: context) is missing")
    return problems


def discover(
    services_root: Path, shared: tuple[str, ...] = DEFAULT_SHARED, repo: Path | None = None
) -> dict[str, ServiceConfig]:
    """Every service folder (one with a Dockerfile or sandbox.toml), by name. A broken sandbox.toml
    makes that one service invalid (`config.error`), never the whole fleet."""
    if not services_root.is_dir():
        raise ConfigError(f"services root {services_root} is not a folder (see [tool.sandbox] services)")
    found = {}
    for path in sorted(services_root.iterdir()):
        if path.is_dir() and path.name not in shared and not path.name.startswith("."):
            if (path / "Dockerfile").exists() or (path / "sandbox.toml").exists():
                try:
                    found[path.name] = load_service(path, repo)
                except ConfigError as exc:
                    found[path.name] = _invalid(path, exc)
    return found


def discover_repo(settings: RepoSettings) -> dict[str, ServiceConfig]:
    """The fleet of a repo, per its `[tool.sandbox]` settings."""
    return discover(settings.services_root, settings.shared, settings.root)


def dependents_of(shared: str, fleet: dict[str, ServiceConfig]) -> list[str]:
    """Services that build with a shared path: a shared diff needs all of them green."""
    return sorted(name for name, config in fleet.items() if shared in config.shared)


def parse_shard(spec: str) -> tuple[int, int]:
    """`K/N` -> (K, N), 1 <= K <= N; ValueError with the fix otherwise."""
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError as exc:
        raise ValueError(f"--shard {spec!r}: expected K/N, e.g. 1/4") from exc
    if not 1 <= k <= n:
        raise ValueError(f"--shard {spec!r}: K must be between 1 and N")
    return k, n


def shard(names: list[str], spec: str) -> list[str]:
    """`K/N`: the K-th of N interleaved slices (1-based), stable for a given fleet."""
    k, n = parse_shard(spec)
    return [name for index, name in enumerate(sorted(names)) if index % n == k - 1]
