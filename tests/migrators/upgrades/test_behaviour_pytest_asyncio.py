"""Behaviour: a 0.21-style suite (session-scoped event_loop override, async fixtures, a test that
requests event_loop, a sync test that drives the loop) is migrated by the tool; the migrated suite
passes under pytest-asyncio 1.5.0 with `-W error` in a fresh venv, and the original fails there.

The venv lives in ~/.cache/sandbox-tests/ keyed by the versions, so later runs reuse it; it is
built under a file lock (xdist-safe)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.migrators.helpers import migrate_twice, read, write_tree

PYTEST_ASYNCIO = "1.5.0"
PYTEST = "9.2.0"
CACHE = Path(os.environ.get("SANDBOX_TEST_CACHE", Path.home() / ".cache" / "sandbox-tests"))

SUITE = {
    "requirements-dev.txt": "pytest==7.4.4\npytest-asyncio==0.21.1\n",
    "pytest.ini": "[pytest]\ntestpaths = tests\nfilterwarnings =\n    error\n",
    "tests/conftest.py": """
        import asyncio

        import pytest
        import pytest_asyncio


        @pytest.fixture(scope="session")
        def event_loop():
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()


        @pytest_asyncio.fixture(scope="session")
        async def session_loop():
            return asyncio.get_running_loop()


        @pytest.fixture
        async def function_loop():
            yield asyncio.get_running_loop()
        """,
    "tests/test_loops.py": """
        import asyncio

        import pytest


        @pytest.mark.asyncio
        async def test_one_loop(event_loop, session_loop, function_loop):
            assert event_loop is asyncio.get_running_loop()
            assert session_loop is function_loop is asyncio.get_running_loop()


        @pytest.mark.asyncio(scope="session")
        async def test_marker_scope(session_loop):
            assert session_loop is asyncio.get_running_loop()


        def test_sync_drives_loop(event_loop):
            assert event_loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
        """,
}


def _venv() -> Path:
    folder = (
        CACHE
        / f"py{sys.version_info[0]}{sys.version_info[1]}-pytest-asyncio-{PYTEST_ASYNCIO}-pytest-{PYTEST}"
    )
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(folder)
            proc = subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    f"pytest=={PYTEST}",
                    f"pytest-asyncio=={PYTEST_ASYNCIO}",
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0:
                pytest.fail(f"could not build the test venv from PyPI:\n{proc.stderr[-3000:]}", pytrace=False)
            ready.write_text("ok\n")
    return python


def _pytest(python: Path, root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_migrated_suite_passes_on_150_with_W_error_and_old_suite_fails(tmp_path):
    python = _venv()
    old = write_tree(tmp_path / "old", SUITE)
    new = write_tree(tmp_path / "new", SUITE)
    result = migrate_twice(new, only=["pytest-asyncio"])
    assert not result.markers, result.markers
    assert "def event_loop" not in read(new, "tests/conftest.py")
    assert "asyncio_default_test_loop_scope = session" in read(new, "pytest.ini")

    before = _pytest(python, old)
    assert before.returncode != 0, before.stdout
    # the config keys alone are not enough (ignored event_loop override, deprecated marker scope=)
    config_only = write_tree(tmp_path / "config_only", SUITE)
    with open(config_only / "pytest.ini", "a") as ini:
        ini.write("asyncio_default_fixture_loop_scope = session\nasyncio_default_test_loop_scope = session\n")
    half = _pytest(python, config_only)
    assert half.returncode != 0, half.stdout
    after = _pytest(python, new)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "3 passed" in after.stdout


SCOPED_SUITE = {
    "requirements-dev.txt": "pytest==7.4.4\npytest-asyncio==0.23.8\n",
    "pytest.ini": "[pytest]\ntestpaths = tests\nfilterwarnings =\n    error\n",
    "tests/test_module_loop.py": """
        import asyncio

        import pytest
        import pytest_asyncio


        @pytest.fixture(scope="module")
        def event_loop():
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()


        @pytest_asyncio.fixture(scope="module")
        async def shared():
            return asyncio.get_running_loop()


        @pytest.mark.asyncio
        async def test_runs_in_the_fixture_loop(shared):
            assert shared is asyncio.get_running_loop()
        """,
    "tests/test_listed_mark.py": """
        import asyncio

        import pytest
        import pytest_asyncio

        pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("shared")]


        @pytest.fixture(scope="module")
        def event_loop():
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()


        @pytest_asyncio.fixture(scope="module")
        async def shared():
            return asyncio.get_running_loop()


        async def test_listed_marker_runs_in_the_fixture_loop(shared):
            assert shared is asyncio.get_running_loop()
        """,
    "tests/test_class_loop.py": """
        import asyncio

        import pytest
        import pytest_asyncio


        class TestThing:
            @pytest.fixture(scope="class")
            def event_loop(self):
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()

            @pytest_asyncio.fixture
            async def thing(self):
                return asyncio.get_running_loop()

            @pytest.mark.asyncio
            async def test_it(self, thing):
                assert thing is asyncio.get_running_loop()
        """,
}


def test_own_bare_markers_run_in_the_overridden_loop_on_150(tmp_path):
    # 1.x takes the loop scope of the closest asyncio marker: the tests' own bare markers must carry
    # the scope the module's and the class's event_loop overrides gave them (docs/rules.md#pa-3)
    python = _venv()
    new = write_tree(tmp_path / "new", SCOPED_SUITE)
    result = migrate_twice(new, only=["pytest-asyncio"])
    assert not result.markers, result.markers
    after = _pytest(python, new)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "3 passed" in after.stdout


LOOP_HELPER_SUITE = {
    "requirements-dev.txt": "pytest==7.4.4\npytest-asyncio==0.21.1\n",
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "app/__init__.py": "",
    "app/runner.py": """
        import asyncio


        async def fetch(n: int) -> int:
            await asyncio.sleep(0)
            return n * 2


        def fetch_sync(n: int) -> int:
            loop = asyncio.get_event_loop()
            return loop.run_until_complete(fetch(n))


        def cli_only() -> None:
            asyncio.get_event_loop().run_forever()
        """,
    "tests/__init__.py": "",
    "tests/test_runner.py": """
        import pytest

        from app.runner import fetch, fetch_sync


        @pytest.mark.asyncio
        async def test_fetch():
            assert await fetch(2) == 4


        def test_fetch_sync():
            assert fetch_sync(3) == 6
        """,
}


def test_service_helper_needing_a_current_loop_is_marked_and_does_fail_on_150(tmp_path):
    # PA-14 in service code: the codemod sees test files only, so fetch_sync() (app/) calling
    # asyncio.get_event_loop() from a sync test after an async test was left silent; under 1.5.0 it
    # raises RuntimeError (0.21 set a new current loop after each async test, 1.x leaves none)
    python = _venv()
    new = write_tree(tmp_path / "new", LOOP_HELPER_SUITE)
    result = migrate_twice(new, only=["pytest-asyncio"])
    runner = read(new, "app/runner.py")
    assert [(path, m.rule) for path, m in result.markers] == [("app/runner.py", "PA-14")], result.markers
    lines = runner.splitlines()
    marked = lines[lines.index("    loop = asyncio.get_event_loop()") - 1]
    assert marked.startswith("    # MIGRATION-BLOCKER(PA-14): fetch_sync() calls asyncio.get_event_loop()")
    assert "tests/test_runner.py::test_fetch_sync" in marked
    assert "def cli_only() -> None:\n    asyncio.get_event_loop()" in runner  # no sync test calls it
    after = _pytest(python, new)
    assert after.returncode != 0 and "no current event loop" in after.stdout, after.stdout
    # what the marker asks for passes
    (new / "app/runner.py").write_text(
        runner.replace(
            "    loop = asyncio.get_event_loop()\n    return loop.run_until_complete(",
            "    return asyncio.run(",
        )
    )
    fixed = _pytest(python, new)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
