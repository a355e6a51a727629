"""The health stage: the service runs with its normal command; health must mean healthy.

A check passes on a 2xx status *and*, when the body is JSON with a `status` field, a status in
the service's healthy set (ok/healthy/pass/up by default): 200 with "degraded" fails. Then the
smoke steps of sandbox.toml prove the service really uses its dependencies.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.deps import ServiceDeps
from sandbox.inventory import ServiceConfig, SmokeStep
from sandbox.stages import LIMITS, StageContext, StageResult, _remove


@dataclass(frozen=True)
class Probe:
    healthy: bool
    summary: str


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


def _probe(url: str, config: ServiceConfig) -> Probe:
    try:
        answer = requests.get(url, timeout=3)
    except requests.RequestException as exc:
        return Probe(False, f"no answer ({type(exc).__name__})")
    return judge(answer.status_code, answer.text, config.healthy_statuses)


def _docker_health(container) -> Probe:
    container.reload()
    state = container.attrs["State"].get("Health", {}).get("Status")
    return Probe(state == "healthy", f"docker HEALTHCHECK: {state}")


def wait_healthy(ctx: StageContext, container, network: str) -> Probe:
    """Poll the health endpoint (or the image's HEALTHCHECK) until healthy or the timeout."""
    deadline = time.monotonic() + ctx.config.timeouts["health"]
    probe = Probe(False, "not probed")
    while time.monotonic() < deadline and not ctx.cancelled.is_set():
        container.reload()
        if container.status in ("exited", "dead"):
            return Probe(False, f"service exited with code {container.attrs['State'].get('ExitCode')}")
        if ctx.config.health:
            url = f"http://{container_ip_of(container, network)}:{ctx.config.port}{ctx.config.health}"
            probe = _probe(url, ctx.config)
        else:
            probe = _docker_health(container)
        if probe.healthy:
            return probe
        time.sleep(0.5)
    return Probe(False, f"not healthy within {ctx.config.timeouts['health']}s; last: {probe.summary}")


def container_ip_of(container, network: str) -> str:
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def health(ctx: StageContext, image: str, deps: ServiceDeps) -> StageResult:
    container = ctx.client.containers.create(
        image, environment=deps.container_env, network=deps.network, labels=ctx.labels("service"), **LIMITS
    )
    try:
        container.start()
        probe = wait_healthy(ctx, container, deps.network)
        base_url = f"http://{container_ip_of(container, deps.network)}:{ctx.config.port}"
        smoke = run_smoke(ctx.config.smoke, base_url, deps) if probe.healthy else []
        logs = container.logs().decode(errors="replace")
    finally:
        _remove(container)
    log = ctx.write_log(
        "health.log",
        f"health: {probe.summary}\n"
        + "".join(f"smoke {name}: {verdict}\n" for name, verdict in smoke)
        + "\n"
        + logs,
    )
    details = {"probe": probe.summary, "smoke": [{"name": n, "result": v} for n, v in smoke]}
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


# --- smoke checks ------------------------------------------------------------------------------------


def run_smoke(steps: tuple[SmokeStep, ...], base_url: str, deps: ServiceDeps) -> list[tuple[str, str]]:
    """Run the steps in order; stop at the first failure (later steps depend on earlier ones)."""
    results = []
    for step in steps:
        try:
            verdict = SMOKE[step.kind](step.options, base_url, deps)
        except Exception as exc:  # a smoke step's failure is a verdict, not a crash
            verdict = f"{type(exc).__name__}: {exc}"
        results.append((step.name, verdict))
        if verdict != "passed":
            break
    return results


def _smoke_http(options: dict[str, Any], base_url: str, deps: ServiceDeps) -> str:
    url = base_url + options.get("path", "/")
    # A request that exercises retries against an unreachable peer may legitimately take a while.
    answer = requests.request(
        options.get("method", "GET"), url, json=options.get("json"), timeout=float(options.get("timeout", 10))
    )
    expected = options.get("expect_status")
    ok = answer.status_code == expected if expected else 200 <= answer.status_code < 300
    return "passed" if ok else f"HTTP {answer.status_code} {answer.text[:200]}"


def _smoke_mqtt(options: dict[str, Any], base_url: str, deps: ServiceDeps) -> str:
    env = deps.host_env
    return asyncio.run(_mqtt_exchange(env["MQTT_HOST"], int(env["MQTT_PORT"]), options))


async def _mqtt_exchange(host: str, port: int, options: dict[str, Any]) -> str:
    import aiomqtt

    expect = options.get("expect_topic")
    payload = options.get("payload", "")
    payload = json.dumps(payload) if isinstance(payload, (dict, list)) else str(payload)
    async with aiomqtt.Client(host, port, identifier=f"smoke-{uuid.uuid4().hex[:8]}") as client:
        if expect:
            await client.subscribe(expect, qos=1)
        await client.publish(options["topic"], payload.encode(), qos=1)
        if not expect:
            return "passed"
        try:
            async with asyncio.timeout(float(options.get("timeout", 15))):
                async for message in client.messages:
                    if message.topic.matches(expect):
                        return "passed"
        except TimeoutError:
            return f"no message on {expect} within {options.get('timeout', 15)}s"
    return f"no message on {expect}"


def _smoke_influx(options: dict[str, Any], base_url: str, deps: ServiceDeps) -> str:
    from influxdb_client_3 import InfluxDBClient3

    env = deps.host_env
    deadline = time.monotonic() + float(options.get("timeout", 15))
    wanted = int(options.get("expect_min_rows", 1))
    rows, last_error = 0, ""
    with InfluxDBClient3(
        host=env["INFLUXDB_URL"], token=env["INFLUXDB_TOKEN"], database=env["INFLUXDB_DATABASE"]
    ) as client:
        while time.monotonic() < deadline:
            try:
                rows = client.query(options["sql"], language="sql").num_rows
                last_error = ""
            except Exception as exc:  # table not created yet: keep polling until the deadline
                last_error = str(exc).splitlines()[0][:200]
            if rows >= wanted:
                return "passed"
            time.sleep(0.5)
    return f"{rows} row(s) for {options['sql']!r}, wanted >= {wanted}" + (
        f" ({last_error})" if last_error else ""
    )


SMOKE = {"http": _smoke_http, "mqtt-publish": _smoke_mqtt, "influx-query": _smoke_influx}
