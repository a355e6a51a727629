"""Verify only what changed (sandbox.cache), on a real engine over a small fixture fleet.

Two services share `services/common`, one stands alone, one is blocked. The first `--changed` run
verifies everything; the second reuses every verified result and runs the blocked one again; a change
to the shared code re-runs exactly its dependents. Which input changes make a miss is checked against
the real cache entries the runs wrote (no containers needed for that part).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from sandbox import cache
from sandbox.config import discover
from sandbox.records import pipeline_version
from tests.sandbox.pipeline.fixture_fleet import SANDBOX_TOML, run_report, sandbox, write_service

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SHARED_TOML = SANDBOX_TOML.replace('needs = ["mosquitto"]', 'needs = ["mosquitto"]\nshared = ["common"]')


def _fleet(repo: Path) -> Path:
    services = repo / "services"
    write_service(services, "blocker-svc")
    for name in ("two-svc", "solo-svc", "ok-svc"):  # three copies of the healthy service
        write_service(services, "ok-svc").rename(services / name)
    for name in ("ok-svc", "two-svc"):
        (services / name / "sandbox.toml").write_text(SHARED_TOML)
    (services / "common").mkdir()
    (services / "common" / "helpers.py").write_text("GREETING = 'hello'\n")
    return repo


def _verify(repo: Path, *args: str) -> tuple[dict, str]:
    result = sandbox(repo, "verify", *args)
    report = run_report(repo)
    return report, result.stdout + result.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """First run (everything verifies but the blocked service), then the same fleet again, unchanged."""
    repo = _fleet(tmp_path_factory.mktemp("cache-repo"))
    first, first_out = _verify(repo, "--all", "--changed", "-j", "2")
    second, second_out = _verify(repo, "--all", "--changed", "-j", "2")
    return repo, first, first_out, second, second_out


VERIFIED = ("ok-svc", "two-svc", "solo-svc")


def test_first_run_verifies_and_remembers_only_verified_services(runs) -> None:
    repo, first, output, _, _ = runs
    services = first["services"]
    assert [n for n in VERIFIED if services[n]["status"] == "verified"] == list(VERIFIED), output
    assert services["blocker-svc"]["status"] == "failed"
    assert all(services[n]["reused"] is None and services[n]["cache"]["state"] == "first" for n in services)
    assert first["totals"]["reused"] == 0
    for name in VERIFIED:
        assert cache.load(repo, name).run_id == first["run_id"]
    assert cache.load(repo, "blocker-svc") is None


def test_unchanged_services_are_reused_and_named_as_reused(runs) -> None:
    _, first, _, second, output = runs
    for name in VERIFIED:
        service = second["services"][name]
        assert service["status"] == "verified" and service["stages"] == [], output
        assert service["reused"]["run_id"] == first["run_id"]
        assert service["cache"]["state"] == "reused"
        assert f"unchanged since run {first['run_id']}" in service["reason"]
    assert second["totals"]["reused"] == 3 and second["totals"]["verified"] == 3
    assert "Reused: 3 verified result(s) of earlier runs (inputs unchanged); 0 verified by this run" in output


def test_a_failed_service_is_never_reused(runs) -> None:
    _, _, _, second, _ = runs
    blocked = second["services"]["blocker-svc"]
    assert blocked["status"] == "failed" and blocked["reused"] is None
    assert blocked["cache"]["state"] == "first"  # its failed run was forgotten
    assert [s["name"] for s in blocked["stages"]][-1] == "fix"  # it ran again, to its blocker


def test_reports_say_which_results_were_reused(runs) -> None:
    repo, first, _, second, _ = runs
    folder = repo / ".sandbox" / "runs" / second["run_id"]
    summary = (folder / "summary.md").read_text()
    assert f"| ok-svc | LOW | tenacity | reused (run {first['run_id']}) |" in summary
    assert "(3 reused from earlier runs)" in summary
    suites = {s.get("name"): s for s in etree.parse(str(folder / "junit.xml")).getroot().iter("testsuite")}
    props = {p.get("name"): p.get("value") for p in suites["ok-svc"].iter("property")}
    assert props["reused_from_run"] == first["run_id"]
    skipped = [c.find("skipped") for c in suites["ok-svc"].iter("testcase")]
    assert all(s is not None and first["run_id"] in s.get("message") for s in skipped)
    # The record travels with the run that reused it: the gate of another machine can read it.
    record = json.loads((folder / "ok-svc" / "verified.json").read_text())
    assert record["run_id"] == first["run_id"]
    then = repo / ".sandbox" / "runs" / first["run_id"] / "ok-svc" / "diff.patch"
    assert (folder / "ok-svc" / "diff.patch").read_text() == then.read_text() != ""


def _inputs(repo: Path, name: str, entry: cache.Entry) -> cache.Inputs:
    config = discover(repo / "services", repo=repo)[name]
    return cache.current_inputs(
        repo, config, entry.inputs.versions, entry.inputs.images, pipeline_version(), entry.inputs.options
    )


@pytest.mark.parametrize(
    "rel, text, changed",
    [
        ("services/solo-svc/app/server.py", "\n# edited\n", "services/solo-svc"),
        ("services/solo-svc/requirements.txt", "# pinned again\n", "services/solo-svc"),
        (
            "services/solo-svc/migration-fixes/0001-note.patch",
            "a fix\n---\n--- a/x\n+++ b/x\n",
            "services/solo-svc",
        ),
        ("services/common/helpers.py", "\nFAREWELL = 'bye'\n", "services/common"),
    ],
)
def test_a_change_to_any_input_file_is_a_miss(runs, rel, text, changed) -> None:
    repo, first, _, _, _ = runs
    name = "ok-svc" if rel.startswith("services/common") else "solo-svc"
    entry = cache.load(repo, name)
    assert cache.lookup(repo, name, _inputs(repo, name, entry)).hit
    path = repo / rel
    original = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((original or b"").decode() + text)
    try:
        found = cache.lookup(repo, name, _inputs(repo, name, entry))
    finally:
        path.write_bytes(original) if original is not None else path.unlink()
    assert not found.hit and found.state == "changed"
    assert found.why.startswith(f"{changed} changed since run {first['run_id']}")
    assert cache.lookup(repo, name, _inputs(repo, name, entry)).hit  # restored: a hit again


def test_other_targets_images_or_tool_are_a_miss(runs) -> None:
    repo, _, _, _, _ = runs
    entry = cache.load(repo, "solo-svc")
    now = _inputs(repo, "solo-svc", entry)
    for other, word in (
        (
            cache.Inputs(now.paths, {**now.versions, "tenacity": "10.0"}, now.images, now.tool_version),
            "target",
        ),
        (
            cache.Inputs(
                now.paths, now.versions, {**now.images, "mosquitto": "x@sha256:0"}, now.tool_version
            ),
            "image",
        ),
        (cache.Inputs(now.paths, now.versions, now.images, "0.0+other"), "tool version"),
    ):
        found = cache.lookup(repo, "solo-svc", other)
        assert not found.hit and word in found.why


def test_no_cache_verifies_from_scratch_and_a_named_service_reuses_by_default(runs) -> None:
    repo, first, _, _, _ = runs
    named, output = _verify(repo, "solo-svc")
    assert named["services"]["solo-svc"]["reused"]["run_id"] == first["run_id"], output
    full, output = _verify(repo, "solo-svc", "--no-cache")
    service = full["services"]["solo-svc"]
    assert service["reused"] is None and service["cache"]["state"] == "off", output
    assert [s["name"] for s in service["stages"]][-3:] == ["test", "health", "gate"]
    assert cache.load(repo, "solo-svc").run_id == full["run_id"]  # the full run is the one remembered


def test_a_shared_change_re_verifies_exactly_its_dependents(runs) -> None:
    repo, _, _, second, _ = runs
    (repo / "services" / "common" / "helpers.py").write_text("GREETING = 'hi'\n")
    third, output = _verify(repo, "--all", "--changed", "-j", "2")
    services = third["services"]
    for name in ("ok-svc", "two-svc"):
        assert services[name]["reused"] is None and services[name]["status"] == "verified", output
        assert services[name]["cache"]["why"].startswith("services/common changed since run")
    assert services["solo-svc"]["reused"] is not None
    assert third["totals"]["reused"] == 1
