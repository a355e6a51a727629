"""Start-to-ready of the throwaway Mosquitto (cold and warm) and the warm set-up time, in one run.

cold: the kernel's page cache is dropped first (root only), so image layers come from disk;
warm: the same start repeated with everything cached. Start-to-ready includes the private network,
the container start and the readiness proof (an MQTT publish/subscribe round trip).

usage: .venv/bin/python bench/bench_deps.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path

from sandbox.deps import ServiceDeps
from sandbox.engine import connect
from sandbox.engine.labels import labels_for

ROOT = Path(__file__).resolve().parent.parent


def start_to_ready(client, needs: tuple[str, ...]) -> float:
    begin = time.perf_counter()
    with ServiceDeps(client, labels_for(f"bench-{uuid.uuid4().hex[:8]}", "deps"), needs=needs):
        ready = time.perf_counter() - begin
    return ready


def drop_caches() -> bool:
    if os.geteuid() != 0:
        return False
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    return True


def warm_setup_seconds() -> float:
    begin = time.perf_counter()
    subprocess.run([str(ROOT / "scripts" / "setup.sh")], check=True, capture_output=True)
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    client = connect()
    start_to_ready(client, ("mosquitto",))  # make sure the image resolves before timing
    cold = start_to_ready(client, ("mosquitto",)) if drop_caches() else float("nan")
    warm = [start_to_ready(client, ("mosquitto",)) for _ in range(args.repeat)]
    setup = warm_setup_seconds()
    print(
        f"mosquitto start-to-ready cold   : {cold:6.2f} s" + ("" if cold == cold else " (not root: skipped)")
    )
    print(
        f"mosquitto start-to-ready warm   : {statistics.median(warm):6.2f} s "
        f"(median of {args.repeat}, min {min(warm):.2f}, max {max(warm):.2f})"
    )
    print(f"cold / warm ratio               : {cold / statistics.median(warm):6.2f}")
    print(f"warm set-up (scripts/setup.sh)  : {setup:6.2f} s")


if __name__ == "__main__":
    main()
