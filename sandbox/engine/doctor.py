"""`sandbox doctor`: is this machine able to run the sandbox? One OK/WARN/FAIL line per check."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import docker

from sandbox.engine.client import EngineUnavailable, connect, engine_info
from sandbox.engine.images import SPECS, ImageSpec, ca_bundle, official_name

Status = Literal["OK", "WARN", "FAIL"]
MIN_FREE_GB = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def check_engine() -> tuple[Check, docker.DockerClient | None]:
    try:
        client = connect(timeout=30)
    except EngineUnavailable as exc:
        return Check("docker engine", "FAIL", str(exc)), None
    info = engine_info(client)
    return Check(
        "docker engine", "OK", f"Docker {info.version} (API {info.api_version}, {info.storage_driver})"
    ), client


def check_disk(client: docker.DockerClient) -> Check:
    root = engine_info(client).root_dir
    path = root if os.path.exists(root) else "/"
    free_gb = shutil.disk_usage(path).free / 1e9
    status: Status = "OK" if free_gb >= MIN_FREE_GB else "WARN"
    return Check("disk space", status, f"{free_gb:.1f} GB free under {path} (want >= {MIN_FREE_GB:.0f} GB)")


def check_image(client: docker.DockerClient, spec: ImageSpec) -> Check:
    """Resolvable without building: the official image is present (under SANDBOX_OFFICIAL_PREFIX
    when set), or a local build is (the alias, or a build on an official base, which has none)."""
    for ref, source in ((official_name(spec), "official"), (spec.local_tag, "local build")):
        if not ref:
            continue
        try:
            image = client.images.get(ref)
        except docker.errors.ImageNotFound:
            continue
        return Check(f"image {spec.name}", "OK", f"{ref} ({source}, {image.short_id})")
    builds = client.images.list(filters={"label": [f"sandbox.image={spec.name}", "sandbox.cache=true"]})
    tagged = [image for image in builds if image.tags]
    if tagged:
        return Check(f"image {spec.name}", "OK", f"{tagged[0].tags[0]} (local build, {tagged[0].short_id})")
    buildable = (spec.path / ("bootstrap.sh" if spec.kind == "rootfs" else "Dockerfile")).exists()
    if buildable:
        return Check(
            f"image {spec.name}", "WARN", f"not built yet; `sandbox images build` builds {spec.local_tag}"
        )
    return Check(f"image {spec.name}", "FAIL", f"no official image and no recipe in {spec.path}")


def check_ca_bundle() -> Check:
    bundle = ca_bundle()
    if bundle is None:
        return Check("CA bundle", "WARN", "none found; builds behind a TLS-intercepting proxy will fail")
    return Check("CA bundle", "OK", f"{bundle} (copied into the offline base image)")


def check_ryuk() -> Check:
    value = os.environ.get("TESTCONTAINERS_RYUK_DISABLED", "").lower()
    if value in ("yes", "true", "t", "y", "1"):
        return Check("testcontainers Ryuk", "OK", "disabled; the sandbox removes labelled objects itself")
    return Check(
        "testcontainers Ryuk",
        "WARN",
        "enabled, but its image cannot be pulled offline; set TESTCONTAINERS_RYUK_DISABLED=true",
    )


def run_checks() -> list[Check]:
    engine, client = check_engine()
    checks = [engine]
    if client is not None:
        checks.append(check_disk(client))
        checks.extend(check_image(client, spec) for spec in SPECS.values())
    checks.extend([check_ca_bundle(), check_ryuk()])
    return checks


def render(checks: list[Check], echo: Callable[[str], None] = print) -> int:
    """Print the checks; the exit code is 0 only when every check is OK."""
    for check in checks:
        echo(f"{check.status:<4} {check.name}: {check.detail}")
    return 0 if all(check.status == "OK" for check in checks) else 1
