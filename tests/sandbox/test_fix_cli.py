"""`sandbox fix` through the real CLI where no engine is needed: save, list, drop, and the refusals
(the copy itself is prepared by tests/sandbox/pipeline/test_fix_loop.py on a real engine)."""

from __future__ import annotations

from pathlib import Path

from sandbox.fixes import init_history
from tests.sandbox.pipeline.fixture_fleet import sandbox, write_fleet


def _prepared(repo: Path) -> Path:
    """A fix copy as `sandbox fix ok-svc` leaves it: the service in repo layout, one base commit."""
    work = repo / ".sandbox" / "fix" / "ok-svc" / "work"
    source = repo / "services" / "ok-svc" / "app" / "server.py"
    target = work / "services" / "ok-svc" / "app" / "server.py"
    target.parent.mkdir(parents=True)
    target.write_text(source.read_text())
    init_history(work, "codemods and the saved fixes")
    return target


def test_save_list_drop_and_their_refusals(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    target = _prepared(repo)
    empty = sandbox(repo, "fix", "ok-svc", "--save", "nothing")
    assert empty.returncode == 2 and "no edits to save" in empty.stderr
    target.write_text(target.read_text().replace('"pong"', '"pong!"'))
    bad_name = sandbox(repo, "fix", "ok-svc", "--save", "Bad Name")
    assert bad_name.returncode == 2 and "lower-case letters" in bad_name.stderr
    saved = sandbox(repo, "fix", "ok-svc", "--save", "louder", "--reason", "TN-0: say it louder")
    assert saved.returncode == 0, saved.stderr
    patch = repo / "services/ok-svc/migration-fixes/0001-louder.patch"
    assert patch.read_text().startswith("# TN-0: say it louder\n")
    assert "diff --git a/services/ok-svc/app/server.py" in patch.read_text()
    # the saved edits became the copy's base: a second save stores only what follows
    assert sandbox(repo, "fix", "ok-svc", "--save", "again").returncode == 2
    listed = sandbox(repo, "fix", "ok-svc", "--list")
    assert listed.returncode == 0 and "0001-louder.patch  TN-0: say it louder" in listed.stdout
    dropped = sandbox(repo, "fix", "ok-svc", "--drop", "louder")
    assert dropped.returncode == 0 and not patch.exists()
    missing = sandbox(repo, "fix", "ok-svc", "--drop", "louder")
    assert missing.returncode == 2 and "no fix named 'louder'" in missing.stderr


def test_prepare_refuses_to_overwrite_unsaved_edits(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    target = _prepared(repo)
    target.write_text("# an edit not saved yet\n")
    refused = sandbox(repo, "fix", "ok-svc")
    assert (
        refused.returncode == 2 and "holds unsaved edits" in refused.stderr and "--discard" in refused.stderr
    )
    assert target.read_text() == "# an edit not saved yet\n"


def test_unknown_service_and_save_before_prepare(tmp_path: Path) -> None:
    repo = write_fleet(tmp_path, ["ok-svc"])
    unknown = sandbox(repo, "fix", "nope")
    assert unknown.returncode == 2 and "unknown service nope" in unknown.stderr
    early = sandbox(repo, "fix", "ok-svc", "--save", "x")
    assert early.returncode == 2 and "run `sandbox fix ok-svc` first" in early.stderr
