"""The health stage: the service runs with its normal command; health must mean healthy.

A check passes on a 2xx status *and*, when the body is JSON with a `status` field, a status in
the service's healthy set (ok/healthy/pass/up by default): 200 with "degraded" fails. Then the
smoke steps of sandbox.toml prove the service really uses its dependencies.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from sandbox.config import ServiceConfig, SmokeStep
from sandbox.deps import ServiceDeps, smoke_runners
from sandbox.deps.relay import Route
from sandbox.engine.containers import (
    LIMITS,
    NO_HEALTHCHECK,
    NOBODY,
    NOBODY_ENV,
    capped_logs,
    non_root,
    remove,
)
from sandbox.pipeline.stage import StageContext, StageResult

HINT = (
    "the service started but was not healthy or a smoke check failed; the log has its "
    "output and the dependency logs sit beside it"
)


STATE_EVERY = 1.0  # seconds between looks at the service container's state while it is probed


@dataclass(frozen=True)
class Probe:
    healthy: bool
    summary: str


@dataclass
class _Steps:
    """Seconds each step of the stage took after the one before (from the stage's start):
    in a fleet, the health check took as long as the tests beside it, and this says on what."""

    seconds: dict[str, float] = field(default_factory=dict)
    _last: float = field(default_factory=time.monotonic)

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.seconds[step] = round(now - self._last, 2)
        self._last = now


def judge(status_code: int, body: str, healthy_statuses: tuple[str, ...]) -> Probe:
    """Pure: does this HTTP answer mean healthy?"""
    summary = f"{status_code} {body[:200].strip()}"
    if not 200 <= status_code < 300:
        return Probe(False, summary)
    try:
        document = json.loads(body)
    except ValueError:
        return Probe(True, summary)
    if isinstance(document, dict) and "status" in document:
        status = str(document["status"]).lower()
        return Probe(status in healthy_statuses, summary)
    return Probe(True, summary)


def _probe(session: requests.Session, url: str, config: ServiceConfig) -> Probe:
    try:
        answer = session.get(url, timeout=3)
    except requests.RequestException as exc:
        return Probe(False, f"no answer ({type(exc).__name__})")
    return judge(answer.status_code, answer.text, config.healthy_statuses)


def _docker_health(container) -> Probe:
    container.reload()
    state = container.attrs["State"].get("Health", {}).get("Status")
    return Probe(state == "healthy", f"docker HEALTHCHECK: {state}")


def wait_healthy(ctx: StageContext, container, base_url: str) -> Probe:
    """Poll the health endpoint (or the image's HEALTHCHECK) until healthy or the timeout."""
    deadline = time.monotonic() + ctx.config.timeouts["health"]
    # One session for the probes, blind to proxy settings: a container's address is never reached
    # through a proxy, and requests.get built a session and read the proxy environment every probe
    # (~1 ms of the sandbox's CPU each, twice a second per starting service).
    session = requests.Session()
    session.trust_env = False
    with session:
        return _poll_healthy(ctx, container, base_url, session, deadline)


def _poll_healthy(
    ctx: StageContext, container, base_url: str, session: requests.Session, deadline: float
) -> Probe:
    probe = Probe(False, "not probed")
    next_look = 0.0
    while time.monotonic() < deadline and not ctx.cancelled.is_set():
        # The container's state is an engine call: once a second, not every probe (dockerd's CPU).
        if time.monotonic() >= next_look:
            container.reload()
            if container.status in ("exited", "dead"):
                return Probe(False, f"service exited with code {container.attrs['State'].get('ExitCode')}")
            next_look = time.monotonic() + STATE_EVERY
        if ctx.config.health:
            probe = _probe(session, base_url + ctx.config.health, ctx.config)
        else:
            probe = _docker_health(container)
        if probe.healthy:
            return probe
        time.sleep(0.5)
    return Probe(False, f"not healthy within {ctx.config.timeouts['health']}s; last: {probe.summary}")


def health(ctx: StageContext) -> StageResult:
    """The migrated service image, started with the stage's fresh dependencies (ctx.take_deps).

    The service is on the private network only; the host probes it through the run's relay
    (sandbox.deps.relay), which joined that network with the dependencies, so the service never
    gets a route to the host."""
    steps = _Steps()
    image, deps = ctx.service_image, ctx.take_deps()
    steps.done("dependencies")
    if deps.relay is None:
        raise RuntimeError("the health check's dependencies have no relay: the host cannot reach the service")
    # The relay sits on every checked service's network at once: the name it reaches this one by is
    # the run's only (a service's name could be another's alias), so it can start beside the service.
    alias = f"service-{secrets.token_hex(6)}"
    user = non_root(ctx.client.images.get(image).attrs["Config"].get("User"))
    container = ctx.client.containers.create(
        image,
        environment={**deps.container_env, **(NOBODY_ENV if user == NOBODY else {})},
        network=deps.network,
        networking_config={deps.network: ctx.client.api.create_endpoint_config(aliases=[alias])},
        labels=ctx.labels("service"),
        user=user,
        cpu_shares=ctx.cpu_shares,
        # probed over HTTP by this stage: the image's HEALTHCHECK only when it is the probe
        **({**LIMITS, **NO_HEALTHCHECK} if ctx.config.health else LIMITS),
    )
    steps.done("service_created")
    route = None
    try:
        route, error = _start_beside(container.start, lambda: deps.relay.route(alias, ctx.config.port))
        if error is not None:
            raise error
        base_url = f"http://{route.host}:{route.port}"
        steps.done("service_and_relay_started")
        probe = wait_healthy(ctx, container, base_url)
        steps.done("healthy")
        smoke = run_smoke(ctx.config.smoke, base_url, deps) if probe.healthy else []
        steps.done("smoke")
        logs = capped_logs(container).text
    finally:  # the logs are read: the verdict need not wait for the removal
        if route is not None:
            route.close()
        ctx.remove_later(lambda: remove(container), "service")
    log = ctx.write_log(
        "health.log",
        f"health: {probe.summary}\n"
        + "".join(f"smoke {name}: {verdict}\n" for name, verdict in smoke)
        + "\n"
        + logs,
    )
    details = {
        "probe": probe.summary,
        "smoke": [{"name": n, "result": v} for n, v in smoke],
        "step_seconds": steps.seconds,  # where the stage's time went (bench_pipeline)
    }
    if not probe.healthy:
        status = "timeout" if "within" in probe.summary else "failed"
        return StageResult(
            "health", status, reason=f"health check failed: {probe.summary}", log=log, details=details
        )
    failed = [f"{name}: {verdict}" for name, verdict in smoke if verdict != "passed"]
    if failed:
        return StageResult(
            "health", "failed", reason=f"smoke check failed: {failed[0]}", log=log, details=details
        )
    return StageResult("health", "passed", log=log, details=details)


def _start_beside(
    start_service: Callable[[], object], open_route: Callable[[], Route]
) -> tuple[Route | None, BaseException | None]:
    """The service started and the relay's route to it opened at once (a container start is one to
    three seconds on a loaded engine, and the relay reaches the service by its alias, so the route
    need not wait for it). (the route or None, the first error or None): the caller closes the route
    and removes the service."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        service = pool.submit(start_service)
        relay = pool.submit(open_route)
    error = service.exception() or relay.exception()
    return (relay.result() if relay.exception() is None else None), error


# --- smoke checks ------------------------------------------------------------------------------------


def run_smoke(steps: tuple[SmokeStep, ...], base_url: str, deps: ServiceDeps) -> list[tuple[str, str]]:
    """Run the steps in order; stop at the first failure (later steps depend on earlier ones).

    Each kind is run by the dependency that owns it (sandbox.deps); `http` is generic."""
    runners = smoke_runners()
    results = []
    host_env: dict[str, str] | None = None  # read once, when a step first needs it
    for step in steps:
        try:
            host_env = deps.host_env if host_env is None else host_env
            verdict = runners[step.kind](step.options, base_url, host_env)
        except Exception as exc:  # a smoke step's failure is a verdict, not a crash
            verdict = f"{type(exc).__name__}: {exc}"
        results.append((step.name, verdict))
        if verdict != "passed":
            break
    return results
