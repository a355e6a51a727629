"""Interrupt safety through the real CLI: SIGINT or SIGTERM at migrate, build, test and health, and
SIGINT then SIGTERM, leave no labelled container, network or image and no temp folder; the process
exits promptly with 130 and the report lists the service with its last state."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.sandbox.containment.helpers import (
    RUN_START,
    run_objects,
    start_verify,
    temp_folders_of,
    wait_for_line,
)
from tests.sandbox.pipeline.fixture_fleet import write_fleet

# The signal goes this long after the stage is announced: inside its Docker calls, not before them.
INTO_STAGE = {"migrate": 0.5, "build": 1.5, "test": 4.0, "health": 1.0}
CASES = [
    ("migrate", [signal.SIGINT]),
    ("migrate", [signal.SIGTERM]),
    ("build", [signal.SIGINT]),
    ("build", [signal.SIGTERM]),
    ("build", [signal.SIGINT]),  # twice: a build in flight is the case that used to leak images
    ("test", [signal.SIGINT]),
    ("test", [signal.SIGTERM]),
    ("health", [signal.SIGINT]),
    ("health", [signal.SIGTERM]),
    ("build", [signal.SIGINT, signal.SIGTERM]),
    ("test", [signal.SIGINT, signal.SIGTERM]),
]


@pytest.mark.parametrize(
    ("stage", "signals"), CASES, ids=[f"{s}-{'+'.join(g.name for g in sig)}" for s, sig in CASES]
)
def test_an_interrupt_leaves_nothing(docker_client, tmp_path: Path, stage: str, signals: list) -> None:
    repo = write_fleet(tmp_path / "repo", ["ok-svc", "hang-svc"])
    proc = start_verify(repo, "ok-svc", "hang-svc")
    seen: list[str] = []
    try:
        run_id = wait_for_line(proc, RUN_START.pattern, 60, seen)[1]
        wait_for_line(proc, rf"ok-svc\s+{stage}\s+started", 600, seen)
        time.sleep(INTO_STAGE[stage])
        for signum in signals:
            proc.send_signal(signum)
            time.sleep(0.3)
        begin = time.monotonic()
        output, _ = proc.communicate(timeout=90)
        seen.append(output)
        took = time.monotonic() - begin
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(seen)
    assert proc.returncode == 130, text
    assert took < 60, f"took {took:.0f}s to stop"
    assert run_objects(docker_client, run_id) == [], text
    assert temp_folders_of(proc.pid) == []
    report = json.loads((repo / ".sandbox" / "runs" / run_id / "report.json").read_text())
    assert report["interrupted"] and set(report["services"]) == {"ok-svc", "hang-svc"}, text
    assert report["services"]["ok-svc"]["stages"], report["services"]["ok-svc"]
