"""The hand-fix loop end to end through the real CLI on a real engine, over a blocked fixture service:
verify (blocker) → `sandbox fix` → scripted edit → `--save` → verify (green) → gate on a second
clone with the first clone's records → promote (codemods + fix) → revert; then a source change that
moves the codemod output under the fix fails the `fix` stage with the rejected hunks saved.

The fixture service deletes points with a predicate (`delete_api`): InfluxDB 3 has none, so the
influxdb3 codemod stops with MIGRATION-BLOCKER(IX-9), and only a person's edit gets it across.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sandbox.engine.labels import RUN_KEY
from tests.sandbox.docker_objects import containers, leftovers
from tests.sandbox.pipeline.fixture_fleet import BASE, SANDBOX, env_for, run_report, sandbox, snapshot

SERVICE = "expiry-svc"
EXPIRY = '''\
"""Expiry of old points: the one place the service deletes."""

from influxdb_client import InfluxDBClient


def expire(client: InfluxDBClient, bucket: str, org: str, start: str, stop: str) -> None:
    client.delete_api().delete(start, stop, '_measurement="readings"', bucket=bucket, org=org)
'''
EXPIRY_TEST = """\
from app import expiry


def test_expiry_has_one_entry_point() -> None:
    assert callable(expiry.expire)
"""
# The person's answer to IX-9, as a script would type it into the fix copy.
FIXED_BODY = "    # InfluxDB 3: expiry is the database's retention period, set where the database is made\n    return None\n"


def _write_service(repo: Path) -> Path:
    files = {
        **BASE,
        "requirements.txt": "tenacity==8.2.3\ninfluxdb-client==1.40.0\n",
        "app/expiry.py": EXPIRY,
        "tests/test_expiry.py": EXPIRY_TEST,
    }
    root = repo / "services" / SERVICE
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (repo / ".gitignore").write_text(".sandbox/\n")
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, "fixture fleet")
    return root


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }

    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


def _stage(report: dict, name: str) -> dict:
    return next(s for s in report["services"][SERVICE]["stages"] if s["name"] == name)


def _edit_fix_copy(copy: Path) -> None:
    """Delete the marker and the predicate delete, keep the signature: what a person would do."""
    path = copy / "app" / "expiry.py"
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if "MIGRATION-BLOCKER" not in line and "delete_api" not in line]
    path.write_text("".join(kept) + FIXED_BODY)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """The first half of the loop: blocked verify, fix, save, green verify. Returns the repo and results."""
    repo = tmp_path_factory.mktemp("repo")
    root = _write_service(repo)
    steps = {"blocked": sandbox(repo, "verify", SERVICE)}
    steps["blocked_report"] = run_report(repo)
    steps["save_before_prepare"] = sandbox(repo, "fix", SERVICE, "--save", "retention")
    steps["prepare"] = sandbox(repo, "fix", SERVICE)
    copy = repo / ".sandbox" / "fix" / SERVICE / "work" / "services" / SERVICE
    steps["copy_before"] = (copy / "app" / "expiry.py").read_text() if copy.is_dir() else ""
    if copy.is_dir():
        _edit_fix_copy(copy)
    reason = "IX-9: no predicate delete on InfluxDB 3; expiry is the database's retention period"
    steps["save"] = sandbox(repo, "fix", SERVICE, "--save", "retention-period", "--reason", reason)
    steps["list"] = sandbox(repo, "fix", SERVICE, "--list")
    _commit(repo, "expiry-svc: hand fix for IX-9")
    steps["green"] = sandbox(repo, "verify", SERVICE)
    steps["green_report"] = run_report(repo)
    return repo, root, steps


def test_the_blocked_copy_stops_at_the_fix_stage_with_its_marker(loop) -> None:
    _, _, steps = loop
    blocked = steps["blocked"]
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    fix = _stage(steps["blocked_report"], "fix")
    assert (
        fix["status"] == "failed"
        and "MIGRATION-BLOCKER" in fix["reason"]
        and "app/expiry.py" in fix["reason"]
    )
    assert [b["upgrade"] for b in fix["details"]["blockers"]] == ["influxdb3"]
    assert steps["blocked_report"]["services"][SERVICE]["migrations"]["influxdb3"] is False
    assert "sandbox fix expiry-svc" in blocked.stdout


def test_save_without_a_prepared_copy_says_what_to_run(loop) -> None:
    _, _, steps = loop
    early = steps["save_before_prepare"]
    assert early.returncode == 2 and "run `sandbox fix expiry-svc` first" in early.stderr


def test_fix_prepares_the_migrated_copy_with_a_clean_history(loop) -> None:
    repo, _, steps = loop
    prepare = steps["prepare"]
    assert prepare.returncode == 0, prepare.stdout + prepare.stderr
    assert "MIGRATION-BLOCKER(IX-9)" in steps["copy_before"] and "influxdb_client_3" in steps["copy_before"]
    assert "blocker: services/expiry-svc/app/expiry.py" in prepare.stdout and "--save NAME" in prepare.stdout


def test_the_saved_fix_is_a_reviewable_patch_with_its_reason(loop) -> None:
    _, root, steps = loop
    assert steps["save"].returncode == 0, steps["save"].stdout + steps["save"].stderr
    patch = root / "migration-fixes" / "0001-retention-period.patch"
    text = patch.read_text()
    assert text.startswith("# IX-9: no predicate delete on InfluxDB 3")
    assert "diff --git a/services/expiry-svc/app/expiry.py b/services/expiry-svc/app/expiry.py" in text
    assert "-    # MIGRATION-BLOCKER(IX-9)" in text and "+    return None" in text
    assert "0001-retention-period.patch" in steps["list"].stdout and "IX-9" in steps["list"].stdout


def test_verify_with_the_fix_is_green_and_reports_both_sources(loop) -> None:
    repo, _, steps = loop
    green = steps["green"]
    assert green.returncode == 0, green.stdout + green.stderr
    fix = _stage(steps["green_report"], "fix")
    assert fix["status"] == "passed" and fix["details"]["fixes"] == ["retention-period"]
    assert fix["details"]["fixes_diff"]["files"] == 1 and fix["details"]["codemods_diff"]["files"] >= 2
    assert fix["details"]["markers"] == [] and fix["details"]["resolved_by_fixes"] == 1
    folder = Path(steps["green_report"]["services"][SERVICE]["folder"])
    assert "delete_api" in (folder / "fixes.patch").read_text()
    assert "influxdb_client_3" in (folder / "codemods.patch").read_text()
    assert (folder / "verified.json").is_file()


def test_gate_on_a_second_clone_with_the_first_clones_records(loop, tmp_path: Path) -> None:
    repo, _, steps = loop
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    run_folder = Path(steps["green_report"]["services"][SERVICE]["folder"]).parent
    artifact = tmp_path / "artifact"
    shutil.copytree(run_folder, artifact)
    without = sandbox(clone, "gate", SERVICE)
    assert without.returncode == 1 and "no verified diff" in without.stdout
    passed = sandbox(clone, "gate", SERVICE, "--records", str(artifact), "--json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    document = json.loads(passed.stdout)
    assert document["ok"] and document["services"][0]["state"] == "ready"
    # the fix is part of what was verified: editing it on the clone fails the gate
    patch = next((clone / "services" / SERVICE / "migration-fixes").iterdir())
    patch.write_text(patch.read_text().replace("retention period", "retention  period", 1))
    edited = sandbox(clone, "gate", SERVICE, "--records", str(artifact))
    assert edited.returncode == 1 and "changed since run" in edited.stdout


def test_promote_applies_codemods_and_fix_then_a_conflicting_change_fails_the_fix(loop) -> None:
    repo, root, steps = loop
    promoted = sandbox(repo, "promote", SERVICE)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    code = (root / "app" / "expiry.py").read_text()
    assert "influxdb_client_3" in code and "delete_api" not in code and "retention period" in code
    assert "MIGRATION-BLOCKER" not in code and "influxdb3-python" in (root / "requirements.txt").read_text()
    assert not (root / "migration-fixes").exists()  # applied: the fix is part of the code now
    gate = sandbox(repo, "gate", SERVICE)
    assert gate.returncode == 0 and "promoted" in gate.stdout, gate.stdout + gate.stderr
    reverted = sandbox(repo, "promote", SERVICE, "--revert")
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert (root / "app" / "expiry.py").read_text() == EXPIRY
    assert (root / "migration-fixes" / "0001-retention-period.patch").is_file()
    # The source moves under the fix: the codemod output now differs on the very lines it edits.
    before = snapshot(root)
    (root / "app" / "expiry.py").write_text(EXPIRY.replace('_measurement="readings"', '_measurement="raw"'))
    conflicted = sandbox(repo, "verify", SERVICE)
    assert conflicted.returncode == 1, conflicted.stdout + conflicted.stderr
    report = run_report(repo)
    fix = _stage(report, "fix")
    assert fix["status"] == "failed" and "retention-period no longer applies" in fix["reason"]
    assert "sandbox fix expiry-svc" in fix["reason"]
    folder = Path(report["services"][SERVICE]["folder"])
    rejects = list((folder / "rejects").rglob("*.rej"))
    assert rejects and re.search(r"delete_api", rejects[0].read_text())
    assert (folder / "rejects" / "0001-retention-period.patch").is_file()
    assert snapshot(root).keys() == before.keys()


def test_sigterm_while_fix_migrates_leaves_no_container(tmp_path: Path, docker_client) -> None:
    """`sandbox fix` runs the migrator in a container as verify does: a SIGTERM (a CI job cancelled, a
    terminal closed) while it runs removes it, as Ctrl-C and SIGTERM do for verify."""
    repo = tmp_path / "repo"
    _write_service(repo)
    wanted = {"label": [f"sandbox.service={SERVICE}", "sandbox.role=migrator"]}
    earlier = {c.labels[RUN_KEY] for c in containers(docker_client, wanted)}  # other tests' runs
    proc = subprocess.Popen(
        [*SANDBOX, "fix", SERVICE],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_for(repo),
    )
    try:
        deadline = time.monotonic() + 300
        while not (
            running := [
                c
                for c in containers(docker_client, wanted, stopped=False)
                if c.labels[RUN_KEY] not in earlier
            ]
        ):
            assert proc.poll() is None and time.monotonic() < deadline, "no migrator container came"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, output
    run_id = running[0].labels[RUN_KEY]
    assert leftovers(docker_client, {"label": f"{RUN_KEY}={run_id}"}) == [], output
