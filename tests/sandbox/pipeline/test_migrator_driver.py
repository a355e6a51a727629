"""The migrate stage runs every path of a service in one migrator interpreter (migrate.DRIVER): per
path, the same exit code, stdout and stderr as a `python -m migrators` run of its own. The driver runs
here on the host's interpreter (the migrator image's entry point is the same module); the real
container runs it in the verify integration tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from sandbox.pipeline.migrate import DRIVER

ROOT = Path(__file__).resolve().parents[3]


def _tree(tmp_path: Path, name: str) -> Path:
    """The repo's data-retention and common services, copied: one exits 1 (blockers), one 0."""
    work = tmp_path / name
    for service in ("data-retention", "common"):
        shutil.copytree(
            ROOT / "services" / service,
            work / service,
            ignore=shutil.ignore_patterns("__pycache__", "migration-fixes"),
        )
    return work


def _alone(work: Path, argv: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "migrators", *argv], capture_output=True, text=True, cwd=work
    )
    return {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def _driven(work: Path, argvs: list[list[str]]) -> list[dict]:
    results = work.parent / f"{work.name}-results.json"
    subprocess.run([sys.executable, "-c", DRIVER, json.dumps(argvs), str(results)], check=True, cwd=work)
    assert not Path(f"{results}.tmp").exists()  # written aside, then renamed: never read half-written
    return json.loads(results.read_text())


def _same_paths(text: str, work: Path) -> str:
    return text.replace(str(work), "<work>")


def test_each_path_gets_what_a_run_of_its_own_gives(tmp_path) -> None:
    alone_work, driven_work = _tree(tmp_path, "alone"), _tree(tmp_path, "driven")
    names = ["data-retention", "common", "no-such-folder"]
    alone = [_alone(alone_work, [str(alone_work / name), "--json", "-j", "1"]) for name in names]
    driven = _driven(driven_work, [[str(driven_work / name), "--json", "-j", "1"] for name in names])
    assert [entry["code"] for entry in driven] == [entry["code"] for entry in alone] == [1, 0, 2]
    for mine, theirs in zip(driven, alone, strict=True):
        assert _same_paths(mine["stdout"], driven_work) == _same_paths(theirs["stdout"], alone_work)
        assert _same_paths(mine["stderr"], driven_work) == _same_paths(theirs["stderr"], alone_work)
    for name in names[:2]:  # and the codemods wrote the same files
        for path in sorted((alone_work / name).rglob("*")):
            if path.is_file():
                assert (driven_work / path.relative_to(alone_work)).read_bytes() == path.read_bytes(), path


def test_a_usage_error_is_that_paths_exit_code_and_the_next_path_still_runs(tmp_path) -> None:
    work = _tree(tmp_path, "work")
    driven = _driven(work, [[str(work / "common"), "--no-such-option"], [str(work / "common"), "--json"]])
    assert driven[0]["code"] == 2 and "--no-such-option" in driven[0]["stderr"]
    assert driven[1]["code"] == 0 and json.loads(driven[1]["stdout"])["root"] == str(work / "common")
