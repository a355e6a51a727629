"""The dependencies a `sandbox.toml` may name in `needs`, and the smoke step kinds they own.

One line per dependency in DEPENDENCIES. A team can add its own without editing the sandbox:
`register(dependency)` at run time, or an entry point in the `sandbox.dependencies` group whose
object is a `Dependency`.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from sandbox.deps.base import Dependency, SmokeRunner, http_smoke
from sandbox.deps.influxdb3 import INFLUXDB3
from sandbox.deps.mosquitto import MOSQUITTO

DEPENDENCIES: dict[str, Dependency] = {
    "influxdb3": INFLUXDB3,
    "mosquitto": MOSQUITTO,
}
# What a service without `needs` gets: the built-in dependencies of the env contract (DESIGN.md).
DEFAULT_NEEDS: tuple[str, ...] = tuple(sorted(DEPENDENCIES))
ENTRY_POINT_GROUP = "sandbox.dependencies"
GENERIC_SMOKE: dict[str, SmokeRunner] = {"http": http_smoke}


def register(dependency: Dependency) -> Dependency:
    """Make `dependency` known to `needs`, ServiceDeps and the smoke steps; refuses a taken name."""
    known = dependencies()
    if dependency.name in known and known[dependency.name] is not dependency:
        raise ValueError(f"a dependency named {dependency.name!r} is already registered")
    DEPENDENCIES[dependency.name] = dependency
    return dependency


def unregister(name: str) -> None:
    DEPENDENCIES.pop(name, None)


def dependencies() -> dict[str, Dependency]:
    """Every known dependency by name: entry points first, the registry above them."""
    return {**_entry_point_dependencies(), **DEPENDENCIES}


# Installed distributions do not change while a process runs, and scanning them costs ~40 ms under load;
# config validation asks once per service and smoke step (51 times in one verify, 1.9 s).
@cache
def _entry_point_dependencies() -> dict[str, Dependency]:
    found: dict[str, Dependency] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        dependency = point.load()
        if not isinstance(dependency, Dependency):
            raise TypeError(f"entry point {point.name} ({point.value}) is not a sandbox.deps.Dependency")
        found[dependency.name] = dependency
    return found


def smoke_runners() -> dict[str, SmokeRunner]:
    """Smoke step kind -> the function that runs it: `http` is generic, the rest belong to a dependency."""
    runners = dict(GENERIC_SMOKE)
    for dependency in dependencies().values():
        runners.update(dependency.smoke)
    return runners
