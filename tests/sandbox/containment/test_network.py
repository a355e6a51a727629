"""Network containment and hardening, proven by one verify of a service whose tests try to escape.

The service's own tests (in the test container, on the run's private network) must reach their
dependency and nothing else: not a listener on the host (any of its addresses, the private
network's gateway included), not a container on the default bridge, not another run's network.
Every container the run starts is inspected while it lives for the hardening every container gets.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import docker
import pytest

from sandbox.engine.labels import labels_for
from tests.sandbox.pipeline.fixture_fleet import run_report, sandbox, write_service

ESCAPE_TEST = """\
import json
import os
import pathlib
import socket
import struct

TARGETS = json.loads((pathlib.Path(__file__).parent / "targets.json").read_text())


def reach(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def gateways() -> list[str]:
    found = []
    for line in pathlib.Path("/proc/net/route").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] != "00000000":
            found.append(socket.inet_ntoa(struct.pack("<L", int(fields[2], 16))))
    return found


def test_reaches_its_dependency() -> None:
    assert reach(os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"]))


def test_reaches_nothing_else() -> None:
    port = TARGETS["host_port"]
    targets = [(host, port) for host in TARGETS["host_addresses"] + gateways()]
    targets += [tuple(target) for target in TARGETS["containers"]]
    assert [target for target in targets if reach(*target)] == []
"""


def _host_addresses() -> list[str]:
    text = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    return [address for address in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", text) if address != "127.0.0.1"]


class Listener:
    """A TCP listener on 0.0.0.0 of the host that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[tuple] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
                self.accepted.append(peer)
                conn.close()
            except OSError:
                pass


class Inspector:
    """Inspects every container of the service while the run is going, and every container of its
    run that serves no one service (the run's relay)."""

    def __init__(self, client: docker.DockerClient, service: str) -> None:
        self.client, self.service = client, service
        self.seen: dict[str, dict] = {}
        self.runs: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set():
            labels = [f"sandbox.service={self.service}", *(f"sandbox.run={run}" for run in self.runs)]
            for label in labels:
                for container in self.client.containers.list(all=True, filters={"label": label}, sparse=True):
                    self._inspect(container.id)
            time.sleep(0.2)

    def _inspect(self, container_id: str) -> None:
        if container_id in self.seen:
            return
        try:
            self.seen[container_id] = self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return
        self.runs.add(self.seen[container_id]["Config"]["Labels"]["sandbox.run"])


@pytest.fixture
def other_run(docker_client):
    """Another run's private network with a listener on it, and a listener on the default bridge."""
    labels = labels_for(f"test-other-{time.monotonic_ns()}", "probe")
    network = docker_client.networks.create(f"other-{labels['sandbox.run']}", internal=True, labels=labels)
    command = ["python3", "-m", "http.server", "8765"]
    on_other = docker_client.containers.run(
        "sandbox/base:local", command, network=network.name, labels=labels, detach=True
    )
    on_bridge = docker_client.containers.run("sandbox/base:local", command, labels=labels, detach=True)
    try:
        targets = []
        for container, net in ((on_other, network.name), (on_bridge, "bridge")):
            container.reload()
            targets.append([container.attrs["NetworkSettings"]["Networks"][net]["IPAddress"], 8765])
        yield targets
    finally:
        for container in (on_other, on_bridge):
            container.remove(force=True)
        network.remove()


def test_the_service_reaches_its_dependency_and_nothing_else(
    docker_client, other_run, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    root = write_service(repo / "services", "ok-svc").rename(repo / "services" / "net-svc")
    listener = Listener()
    (root / "tests" / "test_escape.py").write_text(ESCAPE_TEST)
    targets = {"host_port": listener.port, "host_addresses": _host_addresses(), "containers": other_run}
    (root / "tests" / "targets.json").write_text(json.dumps(targets))
    inspector = Inspector(docker_client, "net-svc")
    try:
        done = sandbox(repo, "verify", "net-svc", timeout=900)
    finally:
        inspector.stop.set()
        listener.stop.set()
    service = run_report(repo)["services"]["net-svc"]
    assert service["overall_success"], done.stdout + done.stderr
    assert service["tests"]["tests"] == 4, service["tests"]  # the app's 2 tests and the 2 escape tests
    assert listener.accepted == []
    _assert_hardened(inspector.seen)


def _assert_hardened(seen: dict[str, dict]) -> None:
    roles = {info["Config"]["Labels"].get("sandbox.role") for info in seen.values()}
    assert {"migrator", "tests", "service", "deps", "relay"} <= roles, roles
    for info in seen.values():
        if info["Config"]["Labels"].get("sandbox.role", "").endswith("-image"):
            continue  # a `docker build` step's container: the engine's builder starts it, not the sandbox
        host, name = info["HostConfig"], f"{info['Name']} ({info['Config']['Labels'].get('sandbox.role')})"
        assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd"), name
        assert "no-new-privileges" in (host.get("SecurityOpt") or []), name
        assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["PidsLimit"] > 0, name
        if info["Config"]["Labels"].get("sandbox.role") != "tests":  # its JUnit XML is read after exit
            assert host["ReadonlyRootfs"] and "/tmp" in (host.get("Tmpfs") or {}), name
        assert not host["Privileged"], name
        assert not any("docker.sock" in bind for bind in host.get("Binds") or []), name
        assert info["Config"]["User"] not in ("", "root", "0", "0:0"), name
        assert host["LogConfig"]["Config"].get("max-size"), name
