"""Nothing labelled is left after a run, after an exception, and after a run interrupted by SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from sandbox.deps import ServiceDeps
from sandbox.engine.cleanup import remove_labelled, run_scope
from sandbox.engine.labels import RUN_KEY, labels_for
from tests.sandbox.docker_objects import containers

INTERRUPTED_RUN = textwrap.dedent("""
    import sys, time
    from sandbox.engine.cleanup import run_scope
    from sandbox.deps import ServiceDeps
    from sandbox.engine.client import connect
    from sandbox.engine.labels import labels_for
    run_id = sys.argv[1]
    client = connect()
    with run_scope(client, run_id):
        with ServiceDeps(client, labels_for(run_id, "deps"), needs=("mosquitto",)):
            print("READY", flush=True)
            time.sleep(120)
""")


def _leftovers(client, run_id: str) -> list[str]:
    selector = {"label": f"{RUN_KEY}={run_id}"}
    return [c.name for c in containers(client, selector)] + [
        n.name for n in client.networks.list(filters=selector)
    ]


def test_run_scope_removes_everything_after_an_exception(docker_client) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError):
        with run_scope(docker_client, run_id):
            docker_client.containers.create(
                "sandbox/base:local", ["sleep", "60"], labels=labels_for(run_id, "probe")
            )
            docker_client.networks.create(f"probe-{run_id}", labels=labels_for(run_id, "probe"))
            assert len(_leftovers(docker_client, run_id)) == 2
            raise RuntimeError("stage crashed")
    assert _leftovers(docker_client, run_id) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing(docker_client, signum) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        assert _leftovers(docker_client, run_id), "the run should own a container and a network"
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _leftovers(docker_client, run_id) == []


def test_clean_removes_leftovers_of_a_crashed_run(docker_client) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    deps = ServiceDeps(docker_client, labels_for(run_id, "deps"), needs=("mosquitto",)).__enter__()
    del deps  # simulate a crash: the context is never exited
    assert _leftovers(docker_client, run_id)
    report = remove_labelled(docker_client, run_id)
    assert report.errors == []
    assert _leftovers(docker_client, run_id) == []
