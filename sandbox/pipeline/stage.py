"""What a stage is: a name, its timeout key, the next step a person takes when it fails, whether it
runs against fresh dependencies, and the function that runs it.

Each stage writes its log into the service's run folder and returns a StageResult; a failed stage
stops the service's pipeline (sandbox.pipeline.run). The stages themselves, one module each, are
listed in run order in `sandbox.pipeline.STAGES`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, BuildError

from sandbox import workspace as wsmod
from sandbox.config import ServiceConfig
from sandbox.deps import ServiceDeps, dependencies
from sandbox.deps.relay import RunRelay
from sandbox.deps.service import SharedAccess
from sandbox.engine import Resolver, connect, labels_for
from sandbox.engine.cleanup import RunImages, Teardowns
from sandbox.engine.containers import CPU_SHARES
from sandbox.pipeline.shared_migrator import OnDemand

Events = Callable[[str, str, str], None]  # (service, stage, message)


@dataclass
class StageResult:
    name: str
    status: str  # passed | failed | timeout | skipped
    seconds: float = 0.0
    reason: str = ""
    log: str | None = None  # file name inside the service's run folder
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "reason": self.reason,
            "log": self.log,
            "details": self.details,
        }


@dataclass
class StageContext:
    """What every stage of one service reads, and what earlier stages leave for later ones."""

    run_id: str
    repo_root: Path
    folder: Path  # .sandbox/runs/<run-id>/<service>
    resolver: Resolver
    config: ServiceConfig
    migrations: list[str]
    cancelled: threading.Event
    on_event: Events
    images: Callable[[], dict[str, Any]]  # the run's image decisions, for the verified record
    baseline: bool = False
    ws: wsmod.Workspace | None = None  # set by the copy stage
    deps: ServiceDeps | None = None  # set by take_deps, inside a stage that needs dependencies
    # the stage's dependencies, starting in the background (with_deps) until the stage takes them
    pending_deps: EarlyDeps | None = None
    deps_waited: float = 0.0  # how long the stage waited in take_deps for their start to finish
    preexisting_failures: list[str] = field(default_factory=list)  # set by the baseline stage
    service_image: str = ""  # the migrated copy's image id, set by the build stage
    early_deps: dict[str, EarlyDeps] = field(default_factory=dict)  # stage name -> deps started ahead
    built: RunImages = field(default_factory=RunImages)  # every image a stage builds is recorded here
    # removals handed off by the stages, joined by the run before its sweep; None: removed at once
    teardowns: Teardowns | None = None
    # the CPU weight of the containers and builds the stage starts (lower off the critical path)
    cpu_shares: int = CPU_SHARES
    # a fleet run's one migrator container (sandbox.pipeline.shared_migrator); None: one of its own
    shared_migrator: OnDemand | None = None
    # the run's one access network for its dependency sets (sandbox.deps.service); None: their own
    shared_access: SharedAccess | None = None
    # the run's relay, and the stages whose dependency sets it joins (Stage.relayed: the host
    # reaches their service through it)
    relay: RunRelay | None = None
    relayed_stages: frozenset[str] = frozenset()
    _client: docker.DockerClient | None = None
    _client_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> docker.DockerClient:
        """The engine, connected when a stage first needs it (a service that stops early never does).

        Locked: the migrate stage's workers may ask for it at the same moment."""
        with self._client_lock:
            if self._client is None:
                self._client = connect()
            return self._client

    def close(self) -> None:
        for early in self.early_deps.values():  # started for a stage that never ran (the build failed)
            early.discard()
        self.early_deps.clear()
        if self._client is not None:
            self._client.close()

    def take_deps(self) -> ServiceDeps:
        """The stage's started dependencies, waiting for what is left of their start. A stage asks
        only once it needs them: what it prepares first (a test image) overlaps their start."""
        if self.deps is None:
            if self.pending_deps is None:
                raise RuntimeError(f"{self.config.name}: dependencies asked for outside with_deps")
            self.deps, self.deps_waited = self.pending_deps.take()
        return self.deps

    def remove_later(self, work: Callable[[], None], name: str) -> None:
        """`work` (a removal) on the run's teardowns, or now when the context has none."""
        if self.teardowns is None:
            work()
        else:
            self.teardowns.later(work, f"{name}-{self.config.name}")

    def labels(self, role: str) -> dict[str, str]:
        return labels_for(self.run_id, role, self.config.name)

    def write_log(self, name: str, text: str) -> str:
        (self.folder / name).write_text(text)
        return name


@dataclass(frozen=True)
class Stage:
    """One step of `sandbox verify` for a service.

    A stage with a timeout key (`[timeouts]` of sandbox.toml) works in containers: it is announced
    as started, skipped once the run is interrupted, and timed, with engine errors turned into a
    failed result. `run` returns None when the stage does not apply (baseline without --baseline).
    """

    name: str
    run: Callable[[StageContext], StageResult | None]
    timeout: str | None = None
    hint: str = ""  # the next step after a failure; {name} is the service
    needs_deps: bool = False
    blocking: bool = True  # False: a failure is recorded but the pipeline goes on
    # True: runs beside the stage before it (it needs only what the stages before that one made); its
    # result counts only once the stage before it passed, else it is dropped as if it never ran.
    beside_previous: bool = False
    # True: the host reaches the stage's service through the run's relay, which joins its
    # dependencies' private network while they start (sandbox.deps.relay)
    relayed: bool = False


def timed(name: str, body: Callable[[], StageResult]) -> StageResult:
    begin = time.monotonic()
    try:
        result = body()
    except (APIError, BuildError, OSError, ValueError) as exc:
        result = StageResult(name, "failed", reason=f"{type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - begin
    return result


def run_with_timeout(
    work: Callable[[], Any], seconds: float, cancelled: threading.Event | None = None, drain: float = 10.0
) -> tuple[bool, Any, BaseException | None]:
    """Run `work` in a thread; (finished, value, error). Used where the Engine API has no timeout.

    Once `cancelled` is set the call is given `drain` more seconds to return (an image being built
    then exists and the run's sweep removes it), and is abandoned after that."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # forwarded to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        if cancelled is not None and cancelled.is_set():
            deadline = min(deadline, time.monotonic() + drain)
            cancelled = None
        thread.join(0.2)
    return (not thread.is_alive(), box.get("value"), box.get("error"))


def _new_deps(ctx: StageContext, stage: str) -> ServiceDeps:
    known = dependencies()
    images = {need: ctx.resolver.resolve(known[need].image) for need in ctx.config.needs}
    return ServiceDeps(
        ctx.client,
        ctx.labels("deps"),
        needs=ctx.config.needs,
        database=database_name(ctx.config.name),
        images=images,
        known=known,
        cancelled=ctx.cancelled,
        shared_access=ctx.shared_access,
        relay=ctx.relay if stage in ctx.relayed_stages else None,
    )


class EarlyDeps:
    """A stage's fresh dependencies, started on a thread while an earlier stage runs (the build):
    their start-up (network, containers, readiness waits) overlaps that stage instead of following it.
    The stage takes them (waiting for whatever start-up is left); untaken, they are discarded."""

    def __init__(self, ctx: StageContext, stage: str) -> None:
        self._deps = _new_deps(ctx, stage)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name=f"deps-{ctx.config.name}", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            self._deps.__enter__()
        except BaseException as exc:  # forwarded to the stage that takes them
            self._error = exc

    def take(self) -> tuple[ServiceDeps, float]:
        """The started dependencies, and how long the stage still waited for them."""
        begin = time.monotonic()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._deps, time.monotonic() - begin

    def discard(self) -> None:
        self._thread.join()
        if self._error is None:
            self._deps.__exit__(None, None, None)


def start_early(ctx: StageContext, stage: str) -> None:
    """Start `stage`'s dependencies now, in the background (see EarlyDeps)."""
    if stage not in ctx.early_deps:
        ctx.early_deps[stage] = EarlyDeps(ctx, stage)


def with_deps(ctx: StageContext, name: str, body: Callable[[StageContext], StageResult]) -> StageResult:
    """Fresh dependencies for this stage only, on a private network; their logs kept for failures.

    Started earlier by start_early while a previous stage ran, else now in the background: either
    way the body prepares what needs no dependency while they start, and takes them (ctx.take_deps)
    when it needs them. Removed when the stage ends, also when the body never took them."""

    def run() -> StageResult:
        early = ctx.early_deps.pop(name, None)
        ctx.pending_deps = early or EarlyDeps(ctx, name)
        try:
            result = body(ctx)
            if ctx.deps is not None:
                _describe_deps(ctx, name, result)
            return result
        finally:
            pending, deps = ctx.pending_deps, ctx.deps
            ctx.pending_deps, ctx.deps, ctx.deps_waited = None, None, 0.0
            if deps is not None:  # the stage's result is final: it need not wait for the removal
                ctx.remove_later(lambda: deps.__exit__(None, None, None), f"{name}-deps")
            else:  # the body ended before it needed them: they go once their start returns
                ctx.remove_later(pending.discard, f"{name}-deps")

    return timed(name, run)


def _describe_deps(ctx: StageContext, name: str, result: StageResult) -> None:
    """The dependencies' start times and what the stage waited for them; their logs when it failed."""
    deps = ctx.deps
    if not result.ok:
        for dep, text in deps.logs().items():
            ctx.write_log(f"{name}-{dep}.log", text)
        result.details["dependency_logs"] = [f"{name}-{dep}.log" for dep in deps.containers]
    result.details["dependencies"] = {dep: round(s, 2) for dep, s in deps.started_in.items()}
    # started during the previous stage or the body's own preparation: only this part was waited for
    result.details["dependencies_waited"] = round(ctx.deps_waited, 2)


def last_lines(text: str, count: int = 5) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-count:])


def database_name(service: str) -> str:
    return service.replace("_", "-")
