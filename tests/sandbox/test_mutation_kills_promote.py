"""Promote's refusals say exactly why, and the gate tells its states apart (a real file tree, no Docker).

Written against mutants of sandbox/promote.py and sandbox/records.py that survived the older tests
(scripts/mutation.py, group `promote`): the sibling's last failure in a shared-change refusal, the
gate's reasons, and what a refused or failed promotion leaves behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox import workspace as wsmod
from sandbox.config import discover, load_service
from sandbox.promote import PromotionRefused, promote, revert
from sandbox.records import (
    RUN_RECORD,
    VerifiedDiff,
    content_states,
    gate_check,
    gate_status,
    record_verified,
    state_dir,
)
from sandbox.upgrades import target_versions

OLD_APP = "import asyncio_mqtt\n"


def _repo(tmp_path: Path) -> Path:
    for name in ("alpha", "beta"):
        svc = tmp_path / "services" / name
        (svc / "tests").mkdir(parents=True)
        (svc / "Dockerfile").write_text("FROM python:3.11-slim\n")
        (svc / "sandbox.toml").write_text('context = ".."\nshared = ["common"]\n')
        (svc / "app.py").write_text(OLD_APP)
    (tmp_path / "services" / "common").mkdir()
    (tmp_path / "services" / "common" / "mqtt.py").write_text("from asyncio_mqtt import Client\n")
    return tmp_path


def _verify(repo: Path, name: str, shared: str = "from aiomqtt import Client\n") -> VerifiedDiff:
    config = load_service(repo / "services" / name)
    ws = wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r1" / name)
    (ws.work / f"services/{name}/app.py").write_text("import aiomqtt\n")
    (ws.work / "services/common/mqtt.py").write_text(shared)
    record = record_verified(ws, "r1", target_versions(), {})
    record.save(repo)
    return record


def _last_run(repo: Path, run: str, service: str, report: dict | str) -> None:
    path = repo / ".sandbox" / "runs" / run / service / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report if isinstance(report, str) else json.dumps(report))


def _refusal(repo: Path) -> str:
    with pytest.raises(PromotionRefused) as caught:
        promote(repo, "alpha", discover(repo / "services"))
    return str(caught.value)


NO_RECORD = "alpha: its diff changes shared code services/common, which beta also builds with, and beta has no verified diff"
NEXT = "; run `sandbox verify beta` first"


def test_a_sibling_that_never_ran_is_named_without_a_last_failure(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    assert _refusal(repo) == NO_RECORD + NEXT


def test_the_siblings_newest_failed_run_is_quoted(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    # run ids sort by time; the folders are made newest first so listing order is not sorted order
    for run, stage in (("r9", "fix"), ("r5", "test"), ("r2", "build"), ("r7", "health")):
        _last_run(repo, run, "beta", {"overall_success": False, "failed_stage": stage, "reason": f"in {run}"})
    assert _refusal(repo) == f"{NO_RECORD} (its last run stopped at fix: in r9){NEXT}"


def test_a_long_reason_is_cut_at_200_characters_and_a_missing_one_is_empty(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _last_run(repo, "r1", "beta", {"overall_success": False, "failed_stage": "test", "reason": "x" * 300})
    assert _refusal(repo) == f"{NO_RECORD} (its last run stopped at test: {'x' * 200}){NEXT}"
    _last_run(repo, "r2", "beta", {"overall_success": False, "failed_stage": "build"})
    assert _refusal(repo) == f"{NO_RECORD} (its last run stopped at build: ){NEXT}"


@pytest.mark.parametrize(
    "report",
    [
        {"overall_success": True, "failed_stage": None},
        {"overall_success": True, "failed_stage": "test"},  # an accepted failure: the run verified
        {"overall_success": False, "failed_stage": None},  # interrupted before a stage failed
        "{not json",
    ],
    ids=["verified", "verified-with-accepted-failure", "no-failed-stage", "unreadable"],
)
def test_a_last_run_that_did_not_fail_at_a_stage_adds_nothing(tmp_path: Path, report) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _last_run(repo, "r1", "beta", report)
    assert _refusal(repo) == NO_RECORD + NEXT


def test_a_sibling_with_another_shared_change_is_refused_by_name(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta", shared="from aiomqtt import Client as Other\n")
    assert _refusal(repo) == (
        "alpha: beta verified a different change to shared code services/common; "
        "verify both in one run (`sandbox verify alpha beta`)"
    )
    assert (repo / "services/alpha/app.py").read_text() == OLD_APP


def test_an_unrelated_edit_is_named_in_the_refusal_and_the_gate(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    (repo / "services/alpha/tests/test_new.py").write_text("def test_x() -> None:\n    assert 1\n")
    assert _refusal(repo) == (
        "alpha: services/alpha changed since run r1 verified it (stale diff); run `sandbox verify alpha` again"
    )
    result = gate_check(repo, "alpha", target_versions())
    assert (result.ok, result.state, result.run_id) == (False, "changed", "r1")
    assert result.why == "services/alpha changed since run r1 verified it; run `sandbox verify alpha` again"
    assert gate_status(repo, "alpha") == (False, result.why)
    assert result.service == "alpha"
    (repo / "services/common/other.py").write_text("VALUE = 1\n")  # a second folder changed: both named
    assert gate_check(repo, "alpha", target_versions()).why.startswith(
        "services/alpha, services/common changed since run r1"
    )
    assert _refusal(repo).startswith(
        "alpha: services/alpha, services/common changed since run r1 verified it"
    )


def test_the_gate_reasons_of_ready_and_promoted(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    ready = gate_check(repo, "alpha", target_versions())
    assert (ready.service, ready.ok, ready.state, ready.why, ready.run_id) == (
        "alpha",
        True,
        "ready",
        "verified in run r1, ready to promote",
        "r1",
    )
    assert gate_status(repo, "alpha") == (True, "verified in run r1, ready to promote")
    promote(repo, "alpha", discover(repo / "services"))
    done = gate_check(repo, "alpha", target_versions())
    assert (done.service, done.ok, done.state, done.why, done.run_id) == (
        "alpha",
        True,
        "promoted",
        "verified in run r1, promoted",
        "r1",
    )
    # beta: its own folder before, the shared folder after (promoted with alpha) is still ready
    assert gate_check(repo, "beta", target_versions()).state == "ready"


def test_the_gate_of_other_targets_names_both_version_sets(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    other = {**target_versions(), "aiomqtt": "9.9.9"}
    result = gate_check(repo, "alpha", other)
    assert (result.ok, result.state, result.run_id) == (False, "targets", "r1")
    assert result.why == (
        f"run r1 verified the target versions {target_versions()}, the targets are now {other}; "
        "run `sandbox verify alpha` again"
    )


def test_the_gate_without_a_record_names_the_service(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = gate_check(repo, "alpha", target_versions())
    assert (result.service, result.ok, result.state) == ("alpha", False, "no-record")
    assert "alpha: no verified diff" in result.why


def test_promote_writes_a_reverse_record_that_revert_uses(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    assert promote(repo, "alpha", discover(repo / "services")) == [
        "services/alpha/app.py",
        "services/common/mqtt.py",
    ]
    reverse = json.loads((state_dir(repo) / "promoted" / "alpha.json").read_text())
    assert (reverse["service"], reverse["run_id"]) == ("alpha", "r1")
    assert [item["path"] for item in reverse["files"]] == ["services/alpha/app.py", "services/common/mqtt.py"]
    assert revert(repo, "alpha") == ["services/alpha/app.py", "services/common/mqtt.py"]
    assert (repo / "services/alpha/app.py").read_text() == OLD_APP
    assert (repo / "services/common/mqtt.py").read_text() == "from asyncio_mqtt import Client\n"


def _carried(where: Path, run_id: str, verified_at: str, service: str = "alpha") -> None:
    """A record of `service` as a run folder or an artifact carries it, with its own run id and time."""
    record = VerifiedDiff(service, run_id, [], {}, {}, [], verified_at=verified_at)
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(json.dumps(record.__dict__))


def test_the_newest_record_under_a_folder_of_runs_is_the_one_read(tmp_path: Path) -> None:
    artifacts = tmp_path / "download"
    _carried(artifacts / "sandbox-run-r1" / "alpha" / RUN_RECORD, "r1", "2024-01-01T00:00:00+00:00")
    _carried(artifacts / "sandbox-run-r3" / "alpha" / RUN_RECORD, "r3", "2024-03-01T00:00:00+00:00")
    _carried(artifacts / "old" / "verified" / "alpha.json", "r2", "2024-02-01T00:00:00+00:00")
    _carried(
        artifacts / "sandbox-run-r4" / "beta" / RUN_RECORD,
        "r4",
        "2025-01-01T00:00:00+00:00",
        "beta",
    )
    (artifacts / "broken" / "alpha").mkdir(parents=True)
    (artifacts / "broken" / "alpha" / RUN_RECORD).write_text("{not json")
    assert VerifiedDiff.load(tmp_path, "alpha", artifacts).run_id == "r3"
    assert VerifiedDiff.load(tmp_path, "beta", artifacts).run_id == "r4"
    # a verified/ copy newer than the run folders wins; a name.json outside verified/ is not a record
    _carried(artifacts / "new" / "verified" / "alpha.json", "r5", "2024-04-01T00:00:00+00:00")
    _carried(artifacts / "elsewhere" / "alpha.json", "r9", "2030-01-01T00:00:00+00:00")
    assert VerifiedDiff.load(tmp_path, "alpha", artifacts).run_id == "r5"


@pytest.mark.parametrize(
    "layout",
    ["alpha.json", f"alpha/{RUN_RECORD}", "verified/alpha.json"],
)
def test_a_record_is_found_directly_in_each_layout(tmp_path: Path, layout: str) -> None:
    records = tmp_path / "records"
    _carried(records / layout, "r7", "2024-01-01T00:00:00+00:00")
    assert VerifiedDiff.load(tmp_path, "alpha", records).run_id == "r7"
    assert VerifiedDiff.load(tmp_path, "alpha", records / layout).run_id == "r7"


def test_an_unreadable_record_is_refused_with_its_path(tmp_path: Path) -> None:
    records = tmp_path / "records"
    (records / "verified").mkdir(parents=True)
    (records / "verified" / "alpha.json").write_text('{"service": "alpha"}')
    with pytest.raises(PromotionRefused, match=r"alpha: .*verified/alpha.json is not a verified record"):
        VerifiedDiff.load(tmp_path, "alpha", records)
    with pytest.raises(
        PromotionRefused, match=r"alpha: no verified diff in this clone; run `sandbox verify alpha` first"
    ):
        VerifiedDiff.load(tmp_path, "alpha")


def test_a_record_without_a_time_loses_to_a_dated_one(tmp_path: Path) -> None:
    records = tmp_path / "records"
    old = VerifiedDiff("alpha", "r0", [], {}, {}, [])
    records.mkdir()
    data = old.__dict__.copy()
    del data["verified_at"]  # a record written before records carried their time
    (records / "alpha.json").write_text(json.dumps(data))
    _carried(records / "run" / "alpha" / RUN_RECORD, "r1", "2024-01-01T00:00:00+00:00")
    assert VerifiedDiff.load(tmp_path, "alpha", records).run_id == "r1"


def test_gate_status_reads_the_records_it_is_given(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    carried = tmp_path / "artifact"
    (carried / "alpha").mkdir(parents=True)
    (state_dir(repo) / "verified" / "alpha.json").rename(carried / "alpha" / RUN_RECORD)
    assert gate_status(repo, "alpha", carried) == (True, "verified in run r1, ready to promote")
    assert gate_status(repo, "alpha")[0] is False


def test_markers_are_found_in_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    ws = wsmod.create(load_service(repo / "services" / "alpha"), repo, tmp_path / "run")
    (ws.work / "services/alpha/app.py").write_bytes(
        b"x = '\xff'\n    # MIGRATION-BLOCKER(IX-9): set a retention period  \n"
    )
    assert wsmod.find_markers(ws) == [
        wsmod.Marker("services/alpha/app.py", 2, "# MIGRATION-BLOCKER(IX-9): set a retention period")
    ]


def test_every_refusing_gate_result_names_the_service_and_the_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    targets = gate_check(repo, "alpha", {"aiomqtt": "0"})
    assert (targets.service, targets.ok, targets.state, targets.run_id) == ("alpha", False, "targets", "r1")
    path = state_dir(repo) / "verified" / "alpha.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "tool_version": "0.0.1+0"}))
    tool = gate_check(repo, "alpha", target_versions())
    assert (tool.service, tool.ok, tool.state, tool.run_id) == ("alpha", False, "tool-version", "r1")
    assert tool.why.startswith("run r1 was verified by sandbox 0.0.1+0, this is ")
    path.write_text(json.dumps({**json.loads(path.read_text()), "tool_version": ""}))
    assert "verified by sandbox (unknown)" in gate_check(repo, "alpha", target_versions()).why


def test_a_failed_reverse_record_rolls_every_file_back(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    promoted = state_dir(repo) / "promoted"
    promoted.parent.mkdir(parents=True, exist_ok=True)
    promoted.write_text("a file where the folder of reverse records belongs")
    with pytest.raises(PromotionRefused) as caught:
        promote(repo, "alpha", discover(repo / "services"))
    assert str(caught.value).startswith("alpha: recording the promotion failed (")
    assert str(caught.value).endswith("); all 2 file(s) were rolled back, the repo is as before")
    assert (repo / "services/alpha/app.py").read_text() == OLD_APP
    assert (repo / "services/common/mqtt.py").read_text() == "from asyncio_mqtt import Client\n"
    assert gate_check(repo, "alpha", target_versions()).state == "ready"


def test_a_write_failing_midway_says_nothing_was_promoted(tmp_path: Path, monkeypatch) -> None:
    from sandbox import promote as promote_mod

    repo = _repo(tmp_path)
    _verify(repo, "alpha")
    _verify(repo, "beta")
    real, calls = promote_mod.atomic_write, []

    def full_disk_on_second(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(promote_mod, "atomic_write", full_disk_on_second)
    with pytest.raises(PromotionRefused) as caught:
        promote(repo, "alpha", discover(repo / "services"))
    assert str(caught.value) == (
        "alpha: writing failed ([Errno 28] No space left on device); the files already written were "
        "rolled back, the repo is as before and no promotion was recorded"
    )
    assert (repo / "services/alpha/app.py").read_text() == OLD_APP


def test_the_pipeline_version_adds_the_sandbox_packages_source_to_the_tool_version(tmp_path: Path) -> None:
    """A reused result needs the same codemods and the same stages that judged it (sandbox.cache)."""
    import sandbox
    from sandbox.records import pipeline_version, source_hash, tool_version

    version = pipeline_version()
    assert version.startswith(tool_version() + "+")
    own = version.rpartition("+")[2]
    assert len(own) == 12 and int(own, 16) >= 0
    # the part after the tool version is the sandbox package's hash, which a changed module changes
    copy = tmp_path / "sandbox"
    for path in Path(sandbox.__file__).parent.rglob("*.py"):
        (copy / path.relative_to(Path(sandbox.__file__).parent)).parent.mkdir(parents=True, exist_ok=True)
        (copy / path.relative_to(Path(sandbox.__file__).parent)).write_bytes(path.read_bytes())
    assert source_hash(copy) == own
    (copy / "pipeline" / "run.py").write_text("# another pipeline\n")
    assert source_hash(copy) != own


def test_content_states_name_which_verified_state_each_path_holds(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    record = _verify(repo, "alpha")
    _verify(repo, "beta")
    assert content_states(repo, record) == {"services/alpha": {"before"}, "services/common": {"before"}}
    promote(repo, "alpha", discover(repo / "services"))
    assert content_states(repo, record) == {"services/alpha": {"after"}, "services/common": {"after"}}
    (repo / "services/alpha/app.py").write_text("import something_else\n")
    assert content_states(repo, record)["services/alpha"] == set()


def test_a_file_after_a_shared_one_a_sibling_promoted_is_still_written(tmp_path: Path) -> None:
    """beta builds with two shared folders: its record lists its own file, then common's (promoted with
    alpha already, so skipped), then extra's, which must still be written."""
    repo = _repo(tmp_path)
    (repo / "services" / "extra").mkdir()
    (repo / "services" / "extra" / "x.py").write_text("import asyncio_mqtt\n")
    (repo / "services" / "beta" / "sandbox.toml").write_text('context = ".."\nshared = ["common", "extra"]\n')
    _verify(repo, "alpha")
    config = load_service(repo / "services" / "beta")
    ws = wsmod.create(config, repo, repo / ".sandbox" / "runs" / "r1" / "beta")
    (ws.work / "services/beta/app.py").write_text("import aiomqtt\n")
    (ws.work / "services/common/mqtt.py").write_text("from aiomqtt import Client\n")
    (ws.work / "services/extra/x.py").write_text("import aiomqtt\n")
    record = record_verified(ws, "r1", target_versions(), {})
    record.save(repo)
    assert [f["path"] for f in record.files] == [
        "services/beta/app.py",
        "services/common/mqtt.py",
        "services/extra/x.py",
    ]
    services = discover(repo / "services")
    promote(repo, "alpha", services)
    promote(repo, "beta", services)
    assert (repo / "services/extra/x.py").read_text() == "import aiomqtt\n"
    assert (repo / "services/beta/app.py").read_text() == "import aiomqtt\n"


def test_a_name_outside_the_fleet_is_refused_with_the_known_names(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    fleet = discover(repo / "services")
    with pytest.raises(PromotionRefused) as caught:
        promote(repo, "../alpha", fleet)
    assert str(caught.value) == "'../alpha': not a service of this repo (known: alpha, beta)"
    with pytest.raises(PromotionRefused) as caught:
        promote(repo, "alpha", {})
    assert str(caught.value) == "'alpha': not a service of this repo (known: none)"


def test_the_source_hash_is_over_python_file_names_and_bytes(tmp_path: Path) -> None:
    """Its format is part of every record's tool version: 12 hex digits of sha256 over, for each .py
    file in path order, its relative name, a NUL and its bytes."""
    import hashlib

    from sandbox.records import source_hash

    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    assert source_hash(package) == hashlib.sha256(b"").hexdigest()[:12]
    (package / "a.py").write_bytes(b"A = 1\n")
    (package / "sub" / "b.py").write_bytes(b"B = 2\n")
    (package / "notes.txt").write_text("not code")
    expected = hashlib.sha256(b"a.py\0A = 1\nsub/b.py\0B = 2\n").hexdigest()[:12]
    assert source_hash(package) == expected
    (package / "a.py").rename(package / "c.py")  # a moved module is another package
    assert source_hash(package) != expected


def test_the_tree_hash_is_over_names_and_digests_of_files_links_and_special_files(tmp_path: Path) -> None:
    """Every record's before/after hashes are this: a change of it makes the gate call every record's
    content changed. Per entry in path order: the repo-relative name, a NUL, the sha256 of the file's
    bytes, of `symlink:<target>` for a link (never followed) or of `special:<type>` for a FIFO."""
    import hashlib
    import os

    from sandbox.records import tree_hash

    svc = tmp_path / "services" / "svc"
    (svc / "__pycache__").mkdir(parents=True)
    (svc / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"cache")  # skipped, as the copy skips it
    (svc / "a.py").write_bytes(b"A = 1\n")
    os.symlink("a.py", svc / "link.py")
    os.mkfifo(svc / "pipe")
    digest = hashlib.sha256()
    for name, data in (
        ("services/svc/a.py", b"A = 1\n"),
        ("services/svc/link.py", b"symlink:a.py"),
        ("services/svc/pipe", b"special:0o10000"),
    ):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    assert tree_hash(tmp_path, ["services/svc"]) == digest.hexdigest()
    # a single file is hashed by its own name and bytes
    one = hashlib.sha256(b"services/svc/a.py\0" + hashlib.sha256(b"A = 1\n").digest()).hexdigest()
    assert tree_hash(tmp_path, ["services/svc/a.py"]) == one
