"""The health stage's wait against a real container: it asks the engine for the service's state only
once a second (health.STATE_EVERY), yet a service that exits is reported as exited, with its code,
within a few seconds, not at the health timeout."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from sandbox.config import ServiceConfig
from sandbox.engine import Resolver
from sandbox.engine.labels import labels_for
from sandbox.pipeline.health import STATE_EVERY, wait_healthy


def test_a_service_that_exits_is_reported_with_its_code_at_once(docker_client) -> None:
    config = ServiceConfig(name="exits", path=Path("/nowhere"), health="/health")
    config.timeouts["health"] = 60
    image = Resolver(docker_client).resolve("base").ref
    container = docker_client.containers.run(
        image,
        ["python3", "-c", "import time; time.sleep(1); raise SystemExit(3)"],
        detach=True,
        network_mode="none",
        labels=labels_for(f"test-{uuid.uuid4().hex[:8]}", "service"),
    )
    ctx = SimpleNamespace(config=config, cancelled=threading.Event())
    begin = time.monotonic()
    try:
        probe = wait_healthy(ctx, container, "http://127.0.0.1:9")  # nothing answers there
    finally:
        container.remove(force=True)
    assert not probe.healthy
    assert probe.summary == "service exited with code 3"
    assert time.monotonic() - begin < 15 + 2 * STATE_EVERY  # not the 60 s health timeout
