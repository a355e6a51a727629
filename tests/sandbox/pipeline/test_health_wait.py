"""The health stage's wait against a real container: it asks the engine for the service's state only
once a second (health.STATE_EVERY), yet a service that exits is reported as exited, with its code,
within a few seconds, not at the health timeout."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def test_the_probe_goes_straight_to_the_service_whatever_the_proxy_settings(
    docker_client, monkeypatch
) -> None:
    """A proxy in the environment (a CI runner's) is never asked for a container's address: the
    probe session ignores the environment, so the service answers healthy, not the proxy's refusal."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = ServiceConfig(name="healthy", path=Path("/nowhere"), health="/health")
    config.timeouts["health"] = 5
    image = Resolver(docker_client).resolve("base").ref
    container = docker_client.containers.run(
        image,
        ["sleep", "30"],
        detach=True,
        network_mode="none",
        labels=labels_for(f"test-{uuid.uuid4().hex[:8]}", "service"),
    )
    ctx = SimpleNamespace(config=config, cancelled=threading.Event())
    try:
        probe = wait_healthy(ctx, container, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        container.remove(force=True)
        server.shutdown()
    assert probe.healthy, probe.summary
    assert probe.summary.startswith('200 {"status": "ok"}')


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the handler's name)
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None
