"""Hand fixes as patches on the codemod output: save, list, drop, apply exactly, 3-way, reject."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sandbox.fixes import FixError, apply_fixes, drop_fix, edited_diff, init_history, list_fixes, save_fix

CODEMOD_OUTPUT = """\
def delete_expired(influx):
    # MIGRATION-BLOCKER(IX-9): no predicate delete
    influx.client.delete_api().delete()
    return 1


def other():
    return 2
"""


def _tree(root: Path, text: str = CODEMOD_OUTPUT) -> Path:
    (root / "services/svc/app").mkdir(parents=True, exist_ok=True)
    (root / "services/svc/app/expiry.py").write_text(text)
    (root / "services/common").mkdir(parents=True, exist_ok=True)
    (root / "services/common/shared.py").write_text("VALUE = 1\n")
    return root / "services/svc"


def _save_edit(tmp_path: Path) -> Path:
    """A person edits a prepared copy (codemod output) and saves the edit as a fix."""
    edit = tmp_path / "edit"
    _tree(edit)
    init_history(edit, "codemods")
    (edit / "services/svc/app/expiry.py").write_text(
        CODEMOD_OUTPUT.replace(
            "    # MIGRATION-BLOCKER(IX-9): no predicate delete\n    influx.client.delete_api().delete()\n",
            "    influx.set_retention_period()\n",
        )
    )
    (edit / "services/common/shared.py").write_text("VALUE = 2\n")
    (edit / "services/svc/app/new_module.py").write_text("NEW = True\n")
    repo_service = _tree(tmp_path / "repo")
    return save_fix(repo_service, "retention-period", "IX-9: expiry by retention period", edited_diff(edit))


def test_saved_fix_applies_exactly_to_the_same_codemod_output(tmp_path):
    path = _save_edit(tmp_path)
    assert path.name == "0001-retention-period.patch"
    assert path.read_text().startswith("# IX-9: expiry by retention period\n")
    work = tmp_path / "work"
    _tree(work)

    outcome = apply_fixes(work, list_fixes(path.parent.parent), tmp_path / "rejects")

    assert outcome.ok and outcome.applied == ["retention-period"] and outcome.merged == []
    text = (work / "services/svc/app/expiry.py").read_text()
    assert "MIGRATION-BLOCKER" not in text and "set_retention_period" in text
    assert (work / "services/common/shared.py").read_text() == "VALUE = 2\n"
    assert (work / "services/svc/app/new_module.py").read_text() == "NEW = True\n"
    assert not (work / ".git").exists()


def test_fix_merges_3way_when_the_codemod_output_moved_elsewhere_in_the_file(tmp_path):
    path = _save_edit(tmp_path)
    work = tmp_path / "work"
    # A later codemod changes another function: the whole-file context no longer matches exactly,
    # the 3-way merge on the rebuilt preimage takes both changes.
    _tree(work, CODEMOD_OUTPUT.replace("    return 2\n", "    return 20\n"))

    outcome = apply_fixes(work, list_fixes(path.parent.parent), tmp_path / "rejects")

    assert outcome.ok and outcome.merged == ["retention-period"], outcome.log
    text = (work / "services/svc/app/expiry.py").read_text()
    assert "set_retention_period" in text and "return 20" in text and "MIGRATION-BLOCKER" not in text


def test_conflicting_codemod_change_fails_with_rejected_hunks_saved(tmp_path):
    path = _save_edit(tmp_path)
    work = tmp_path / "work"
    conflicting = CODEMOD_OUTPUT.replace("delete_api().delete()", "delete_api().delete(predicate=True)")
    _tree(work, conflicting)
    rejects = tmp_path / "rejects"

    outcome = apply_fixes(work, list_fixes(path.parent.parent), rejects)

    assert not outcome.ok and outcome.failed == "retention-period"
    assert any(name.endswith("expiry.py.rej") for name in outcome.rejects)
    assert (rejects / path.name).exists()
    # The tree is left as the codemods made it: no conflict markers, no half-applied fix.
    assert (work / "services/svc/app/expiry.py").read_text() == conflicting
    assert not list(work.rglob("*.rej")) and not list(work.rglob("*.orig"))


def test_list_drop_and_names(tmp_path):
    path = _save_edit(tmp_path)
    service = path.parent.parent
    with pytest.raises(FixError, match="exists"):
        save_fix(service, "retention-period", "", "diff --git a/x b/x\n")
    with pytest.raises(FixError, match="lower-case"):
        save_fix(service, "Bad Name", "", "diff --git a/x b/x\n")
    with pytest.raises(FixError, match="no edits"):
        save_fix(service, "empty", "", "  \n")
    second = save_fix(service, "second", "why", "diff --git a/x b/x\n")
    assert [f.name for f in list_fixes(service)] == ["retention-period", "second"]
    assert second.name.startswith("0002-")
    assert list_fixes(service)[0].reason == "IX-9: expiry by retention period"
    drop_fix(service, "retention-period")
    drop_fix(service, "second")
    assert list_fixes(service) == [] and not (service / "migration-fixes").exists()
    with pytest.raises(FixError, match="no fix named"):
        drop_fix(service, "second")


def test_a_stray_file_in_the_fixes_folder_is_an_error(tmp_path):
    service = _tree(tmp_path)
    (service / "migration-fixes").mkdir()
    (service / "migration-fixes/notes.txt").write_text("x")
    with pytest.raises(FixError, match="not a fix"):
        list_fixes(service)
    shutil.rmtree(service / "migration-fixes")
