"""`bin/sandbox` (the README's command) runs the set-up before the CLI: the set-up's own lines (the image
table of `images build`) go to stderr, so `bin/sandbox ... --json` prints one JSON document on stdout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_wrapper_keeps_stdout_for_the_command():
    done = subprocess.run(
        [str(ROOT / "bin" / "sandbox"), "plan", "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)  # nothing but the document
    assert plan and "[setup]" in done.stderr
