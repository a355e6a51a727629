"""Huge logs are capped: head and tail kept, the cut said, never read whole into memory."""

from __future__ import annotations

import uuid

from sandbox.engine.containers import LIMITS, LOG_HEAD, LOG_TAIL, capped_logs, remove, wait_exit
from sandbox.engine.labels import labels_for

NOISY = "import sys\nprint('FIRST-LINE')\nfor i in range(200000): print('x' * 60)\nprint('LAST-LINE')\n"


def test_a_huge_log_keeps_head_and_tail(docker_client) -> None:
    container = docker_client.containers.run(
        "sandbox/base:local",
        ["python3", "-c", NOISY],
        labels=labels_for(f"test-{uuid.uuid4().hex[:8]}", "probe"),
        user="65534:65534",
        detach=True,
        **LIMITS,
    )
    try:
        assert wait_exit(container, 120) == 0
        log = capped_logs(container)
    finally:
        remove(container)
    total = len("FIRST-LINE\n") + 200000 * 61 + len("LAST-LINE\n")
    assert log.cut == total - LOG_HEAD - LOG_TAIL
    assert log.text.startswith("FIRST-LINE") and log.text.rstrip().endswith("LAST-LINE")
    assert f"[... {log.cut} bytes of log cut by the sandbox" in log.text
    assert len(log.text) < LOG_HEAD + LOG_TAIL + 200


def test_a_small_log_is_whole(docker_client) -> None:
    container = docker_client.containers.run(
        "sandbox/base:local",
        ["echo", "hello"],
        labels=labels_for(f"test-{uuid.uuid4().hex[:8]}", "probe"),
        detach=True,
        **LIMITS,
    )
    try:
        wait_exit(container, 60)
        log = capped_logs(container)
    finally:
        remove(container)
    assert (log.text, log.cut) == ("hello\n", 0)
