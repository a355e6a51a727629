"""pytest configuration reader/writer: every file kind, format preserved, pytest's own precedence."""

from __future__ import annotations

from migrators.core.tree import EditSet, ProjectTree
from migrators.files.pytest_config import find_config, set_ini_option, set_options
from tests.migrators.helpers import write_tree


def _set(tmp_path, files, options):
    write_tree(tmp_path, files)
    tree = ProjectTree(tmp_path)
    edits = EditSet(tree)
    set_options(tree, edits, options, "PA-2", "pytest-asyncio")
    return edits


def test_pytest_ini_wins_over_pyproject(tmp_path):
    edits = _set(
        tmp_path,
        {"pytest.ini": "[pytest]\n", "pyproject.toml": "[tool.pytest.ini_options]\nx = 1\n"},
        {"asyncio_default_fixture_loop_scope": "function"},
    )
    assert edits.texts == {"pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = function\n"}


def test_ini_replace_existing_key_keeps_comments_and_continuations():
    text = "[pytest]\n; c\nasyncio_default_fixture_loop_scope = module\naddopts =\n    -ra\n    -q\n\n[other]\nk = v\n"
    assert (
        set_ini_option(text, "pytest", "asyncio_default_fixture_loop_scope", "session")
        == "[pytest]\n; c\nasyncio_default_fixture_loop_scope = session\naddopts =\n    -ra\n    -q\n\n[other]\nk = v\n"
    )
    assert (
        set_ini_option(text, "pytest", "asyncio_default_test_loop_scope", "session")
        == "[pytest]\n; c\nasyncio_default_fixture_loop_scope = module\naddopts =\n    -ra\n    -q\n"
        "asyncio_default_test_loop_scope = session\n\n[other]\nk = v\n"
    )


def test_setup_cfg_and_tox_ini_sections(tmp_path):
    edits = _set(
        tmp_path / "a",
        {"setup.cfg": "[metadata]\nname = a\n[tool:pytest]\naddopts = -q\n[flake8]\nx = 1\n"},
        {"asyncio_default_fixture_loop_scope": "function"},
    )
    assert (
        edits.texts["setup.cfg"] == "[metadata]\nname = a\n[tool:pytest]\naddopts = -q\n"
        "asyncio_default_fixture_loop_scope = function\n[flake8]\nx = 1\n"
    )
    edits = _set(tmp_path / "b", {"tox.ini": "[tox]\nenvlist = py311\n[pytest]\n"}, {"k": "v"})
    assert edits.texts["tox.ini"] == "[tox]\nenvlist = py311\n[pytest]\nk = v\n"


def test_pyproject_ini_options_and_creation(tmp_path):
    edits = _set(tmp_path / "a", {"pyproject.toml": "[project]\nname = 'a'\n"}, {"k": "v"})
    assert edits.texts["pyproject.toml"] == "[project]\nname = 'a'\n\n[tool.pytest.ini_options]\nk = \"v\"\n"
    edits = _set(
        tmp_path / "b",
        {"pyproject.toml": '[tool.pytest.ini_options]\n# note\nasyncio_mode = "auto"\n'},
        {"k": "v"},
    )
    assert (
        edits.texts["pyproject.toml"] == '[tool.pytest.ini_options]\n# note\nasyncio_mode = "auto"\nk = "v"\n'
    )


def test_mode_and_plugins_read_from_addopts(tmp_path):
    write_tree(tmp_path, {"pytest.ini": "[pytest]\naddopts = --asyncio-mode=auto -p no:cacheprovider\n"})
    config = find_config(ProjectTree(tmp_path))
    assert config.asyncio_mode == "auto" and config.plugins_disabled == {"cacheprovider"}
