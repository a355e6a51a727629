"""The service config: services under `services/`, their `sandbox.toml`, phases, shards and
shared-code dependents.

A missing `sandbox.toml` gets defaults that still make sense (MEDIUM priority, port 8000, /health,
the built-in dependencies). Invalid files fail with the service, the file and the key named;
`needs` and smoke step kinds are checked against the dependency registry (sandbox.deps).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.deps import DEFAULT_NEEDS, dependencies, smoke_runners
from sandbox.engine.images import project_root

PRIORITY_PHASE = {"LOW": "a", "MEDIUM": "b", "HIGH": "c", "CRITICAL": "d"}
PHASES = ("a", "b", "c", "d")
DEFAULT_TIMEOUTS = {"migrate": 300, "build": 900, "test": 600, "health": 90, "baseline": 900}
NOT_SERVICES = {"common"}


def repo_root() -> Path:
    """The monorepo the sandbox works on (services/, .sandbox/): SANDBOX_REPO, else this project."""
    return Path(os.environ["SANDBOX_REPO"]).resolve() if os.environ.get("SANDBOX_REPO") else project_root()


class ConfigError(ValueError):
    """A service's configuration is unusable; the message names the service, file and key."""


@dataclass(frozen=True)
class SmokeStep:
    name: str
    kind: str
    options: dict[str, Any]


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    path: Path  # services/<name>
    priority: str = "MEDIUM"
    port: int = 8000
    health: str = "/health"
    needs: tuple[str, ...] = DEFAULT_NEEDS
    context: str = "."  # build context relative to the service folder
    shared: tuple[str, ...] = ()  # paths relative to services/, e.g. ("common",)
    dockerfile: str = "Dockerfile"
    smoke: tuple[SmokeStep, ...] = ()
    timeouts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    migrations_include: tuple[str, ...] = ()
    migrations_exclude: tuple[str, ...] = ()
    healthy_statuses: tuple[str, ...] = ("ok", "healthy", "pass", "up")

    @property
    def phase(self) -> str:
        return PRIORITY_PHASE[self.priority]

    @property
    def services_root(self) -> Path:
        return self.path.parent

    @property
    def context_path(self) -> Path:
        return (self.path / self.context).resolve()


def _error(name: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{name}: services/{name}/sandbox.toml: {key}: {problem}")


def _smoke_steps(name: str, raw: Any) -> tuple[SmokeStep, ...]:
    if not isinstance(raw, list):
        raise _error(name, "smoke", "must be an array of tables ([[smoke]])")
    steps = []
    kinds = smoke_runners()
    for index, item in enumerate(raw, 1):
        kind = item.get("kind")
        if kind not in kinds:
            raise _error(name, f"smoke[{index}].kind", f"{kind!r} is not one of {', '.join(kinds)}")
        options = {key: value for key, value in item.items() if key not in ("name", "kind")}
        steps.append(SmokeStep(item.get("name", f"{kind}-{index}"), kind, options))
    return tuple(steps)


def load_service(path: Path) -> ServiceConfig:
    """Read services/<name>/sandbox.toml (or defaults) and validate it."""
    name = path.name
    file = path / "sandbox.toml"
    raw: dict[str, Any] = {}
    if file.is_file():
        try:
            raw = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{name}: services/{name}/sandbox.toml: {exc}") from exc
    priority = str(raw.get("priority", "MEDIUM")).upper()
    if priority not in PRIORITY_PHASE:
        raise _error(name, "priority", f"{priority!r} is not one of {', '.join(PRIORITY_PHASE)}")
    needs = tuple(raw.get("needs", DEFAULT_NEEDS))
    known = dependencies()
    unknown = [need for need in needs if need not in known]
    if unknown:
        raise _error(name, "needs", f"unknown dependency {', '.join(unknown)}; known: {', '.join(known)}")
    timeouts = dict(DEFAULT_TIMEOUTS)
    for stage, seconds in raw.get("timeouts", {}).items():
        if stage not in DEFAULT_TIMEOUTS or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise _error(name, f"timeouts.{stage}", "must be a positive number of seconds for a known stage")
        timeouts[stage] = int(seconds)
    migrations = raw.get("migrations", {})
    health = raw.get("health", "/health")
    return ServiceConfig(
        name=name,
        path=path,
        priority=priority,
        port=int(raw.get("port", 8000)),
        health=health if isinstance(health, str) else health.get("path", "/health"),
        needs=needs,
        context=str(raw.get("context", ".")),
        shared=tuple(raw.get("shared", ())),
        dockerfile=str(raw.get("dockerfile", "Dockerfile")),
        smoke=_smoke_steps(name, raw.get("smoke", [])),
        timeouts=timeouts,
        migrations_include=tuple(migrations.get("include", ())),
        migrations_exclude=tuple(migrations.get("exclude", ())),
        healthy_statuses=tuple(raw.get("healthy_statuses", ("ok", "healthy", "pass", "up"))),
    )


def validate_layout(config: ServiceConfig) -> list[str]:
    """Problems that stop the resolve stage: each names the file that is missing."""
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


def discover(services_root: Path) -> dict[str, ServiceConfig]:
    """Every service folder (one with a Dockerfile or sandbox.toml), by name."""
    found = {}
    for path in sorted(services_root.iterdir()):
        if path.is_dir() and path.name not in NOT_SERVICES and not path.name.startswith("."):
            if (path / "Dockerfile").exists() or (path / "sandbox.toml").exists():
                found[path.name] = load_service(path)
    return found


def dependents_of(shared: str, fleet: dict[str, ServiceConfig]) -> list[str]:
    """Services that build with a shared path: a shared diff needs all of them green."""
    return sorted(name for name, config in fleet.items() if shared in config.shared)


def shard(names: list[str], spec: str) -> list[str]:
    """`K/N`: the K-th of N interleaved slices (1-based), stable for a given fleet."""
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError as exc:
        raise ValueError(f"--shard {spec!r}: expected K/N, e.g. 1/4") from exc
    if not 1 <= k <= n:
        raise ValueError(f"--shard {spec!r}: K must be between 1 and N")
    return [name for index, name in enumerate(sorted(names)) if index % n == k - 1]
