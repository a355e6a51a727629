"""sandbox.upgrade_facts answers from its facts cache without importing the codemods (libcst), and computes
afresh whenever what an answer depends on changed. Real migrators, real files; no Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import upgrade_facts as facts
from sandbox import upgrades
from sandbox.config import ServiceConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def facts_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "facts"
    monkeypatch.setenv("SANDBOX_CACHE_DIR", str(folder))
    facts.registry_facts.cache_clear()  # per process; each test starts from its own file
    yield folder
    facts.registry_facts.cache_clear()


def _service(tmp_path: Path, requirements: str) -> ServiceConfig:
    folder = tmp_path / "services" / "svc"
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text(requirements)
    return ServiceConfig(name="svc", path=folder)


def test_the_facts_are_the_registrys(facts_dir) -> None:
    from migrators import target_versions, upgrade_for_rule, upgrade_names

    assert facts.upgrade_names() == upgrade_names()
    assert facts.target_versions() == target_versions()
    for rule in ("IX-9", "TN-1", "MQ-2", "PA-1", "ZZ-1", "nodash"):
        assert facts.upgrade_for_rule(rule) == upgrade_for_rule(rule)
    stored = json.loads((facts_dir / facts.FACTS_FILE).read_text())
    assert stored["key"] == facts.facts_key() and stored["registry"]["targets"] == target_versions()


def test_a_detection_is_remembered_by_content_and_recomputed_after_a_change(
    facts_dir, tmp_path, monkeypatch
) -> None:
    config = _service(tmp_path, "tenacity==8.2.3\n")
    assert upgrades.detect_migrations(config) == ["tenacity"]
    calls: list[Path] = []
    import migrators

    real = migrators.detect_upgrades
    monkeypatch.setattr(migrators, "detect_upgrades", lambda path: calls.append(path) or real(path))
    assert upgrades.detect_migrations(config) == ["tenacity"] and calls == []  # from the cache
    (config.path / "requirements.txt").write_text("tenacity==8.2.3\naiomqtt==1.2.1\n")
    assert upgrades.detect_migrations(config) == ["aiomqtt", "tenacity"] and calls == [config.path]


def test_a_file_of_other_codemods_is_not_read(facts_dir, tmp_path) -> None:
    config = _service(tmp_path, "tenacity==8.2.3\n")
    facts_dir.mkdir()
    key = facts.content_key(config.path)
    stale = {"key": "other-source", "registry": {"names": ["x"], "targets": {}, "owners": {}}}
    stale["detections"] = {key: ["influxdb3"]}
    (facts_dir / facts.FACTS_FILE).write_text(json.dumps(stale))
    assert upgrades.detect_migrations(config) == ["tenacity"]
    assert "tenacity" in facts.upgrade_names()


@pytest.mark.parametrize("text", ["{not json", "[]", ""])
def test_an_unreadable_file_only_costs_a_recomputation(facts_dir, tmp_path, text) -> None:
    facts_dir.mkdir()
    (facts_dir / facts.FACTS_FILE).write_text(text)
    assert upgrades.detect_migrations(_service(tmp_path, "tenacity==8.2.3\n")) == ["tenacity"]
    assert json.loads((facts_dir / facts.FACTS_FILE).read_text())["key"] == facts.facts_key()


def test_a_cache_folder_that_cannot_be_written_still_answers(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SANDBOX_CACHE_DIR", str(blocker / "facts"))  # under a file: mkdir fails
    facts.registry_facts.cache_clear()
    try:
        assert upgrades.detect_migrations(_service(tmp_path, "tenacity==8.2.3\n")) == ["tenacity"]
        assert "tenacity" in facts.upgrade_names()
    finally:
        facts.registry_facts.cache_clear()


def test_a_missing_shared_folder_detects_nothing(facts_dir, tmp_path) -> None:
    assert facts.detect_upgrades(tmp_path / "nowhere") == []


def test_a_command_with_a_warm_cache_never_imports_libcst(tmp_path) -> None:
    """`sandbox plan` twice: the first fills the cache (and imports the codemods), the second answers
    from it with the same output and without libcst in the process."""
    script = (
        "import sys\n"
        "from sandbox.cli import app\n"
        "try:\n    app(['plan', 'data-retention'])\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "print('LIBCST', 'libcst' in sys.modules, 'CODE', code)\n"
    )
    env = {**os.environ, "SANDBOX_CACHE_DIR": str(tmp_path / "facts"), "SANDBOX_REPO": str(ROOT)}
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
        for _ in range(2)
    ]
    assert runs[0].stdout.splitlines()[-1] == "LIBCST True CODE 0", runs[0].stderr
    assert runs[1].stdout.splitlines()[-1] == "LIBCST False CODE 0", runs[1].stderr
    assert runs[0].stdout == runs[1].stdout.replace("LIBCST False", "LIBCST True")


def test_a_change_behind_a_link_is_a_change(facts_dir, tmp_path) -> None:
    """Detection reads through a linked file (and a linked service folder): the cached answer must
    follow what the link points at, not only the link's own text, or an upgrade goes undetected."""
    shared = tmp_path / "shared-requirements.txt"
    shared.write_text("tenacity==8.2.3\n")
    folder = tmp_path / "services" / "svc"
    folder.mkdir(parents=True)
    (folder / "requirements.txt").symlink_to(shared)
    linked_root = tmp_path / "svc-link"
    linked_root.symlink_to(folder)
    assert facts.detect_upgrades(folder) == ["tenacity"]
    assert facts.detect_upgrades(linked_root) == ["tenacity"]
    shared.write_text("tenacity==8.2.3\naiomqtt==1.2.1\n")
    assert sorted(facts.detect_upgrades(folder)) == ["aiomqtt", "tenacity"]
    assert sorted(facts.detect_upgrades(linked_root)) == ["aiomqtt", "tenacity"]
