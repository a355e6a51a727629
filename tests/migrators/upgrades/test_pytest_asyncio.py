"""pytest-asyncio 0.21-0.26 -> 1.x: before/after per rule (PA-1..PA-16), negative cases, idempotence."""

from __future__ import annotations

from migrators.upgrades import default_registry
from migrators.upgrades.pytest_asyncio import PAState
from tests.migrators.helpers import assert_codemod, dedent, migrate_twice, read, write_tree

P = "pytest-asyncio"
V13 = default_registry().versions().with_targets(**{"pytest-asyncio": "1.3.0"})


# --- PA-1 / PA-2 / PA-3 / PA-4 / PA-5: tree level --------------------------------------------------

ROOT_OVERRIDE = {
    "requirements-dev.txt": "pytest==7.4.4\npytest-asyncio==0.21.1  # async tests\n",
    "pytest.ini": "[pytest]\n# keep me\ntestpaths = tests\n",
    "tests/conftest.py": """
        import asyncio

        import pytest


        @pytest.fixture(scope="session")
        def event_loop():
            loop = asyncio.get_event_loop_policy().new_event_loop()
            yield loop
            loop.close()
        """,
    "tests/test_a.py": """
        import pytest


        @pytest.mark.asyncio
        async def test_a():
            pass
        """,
}


def test_pa1_pa3_root_conftest_override_moves_to_config(tmp_path):
    write_tree(tmp_path, ROOT_OVERRIDE)
    result = migrate_twice(tmp_path, only=[P])
    assert read(tmp_path, "tests/conftest.py") == "import pytest\n"
    assert read(tmp_path, "pytest.ini") == dedent("""
        [pytest]
        # keep me
        testpaths = tests
        asyncio_default_fixture_loop_scope = session
        asyncio_default_test_loop_scope = session
        """)
    assert read(tmp_path, "requirements-dev.txt") == "pytest>=8.4\npytest-asyncio==1.5.0  # async tests\n"
    assert {c.rule for f in result.files for c in f.changes} >= {"PA-1", "PA-2", "PA-3"}
    assert not result.markers


def test_pa3_custom_override_is_impossible(tmp_path):
    files = dict(ROOT_OVERRIDE)
    files["tests/conftest.py"] = """
        import asyncio

        import pytest


        @pytest.fixture(scope="session")
        def event_loop():
            loop = asyncio.new_event_loop()
            loop.set_debug(True)
            yield loop
            loop.close()
        """
    write_tree(tmp_path, files)
    result = migrate_twice(tmp_path, only=[P])
    text = read(tmp_path, "tests/conftest.py")
    assert "# MIGRATION-BLOCKER(PA-3): event_loop override sets debug" in text
    assert "def event_loop" in text
    assert [m.rule for _, m in result.markers] == ["PA-3"]


def test_pa3_subdirectory_override_gets_pytestmark_and_fixture_loop_scope(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "strict"\n',
            "tests/integration/conftest.py": """
            import asyncio

            import pytest
            import pytest_asyncio


            @pytest.fixture(scope="module")
            def event_loop():
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()


            @pytest_asyncio.fixture(scope="module")
            async def db():
                yield 1
            """,
            "tests/integration/test_db.py": """
            import pytest


            @pytest.mark.asyncio
            async def test_db(db):
                assert db == 1
            """,
            "tests/unit/test_u.py": """
            import pytest


            @pytest.mark.asyncio
            async def test_u():
                pass
            """,
        },
    )
    migrate_twice(tmp_path, only=[P])
    conftest = read(tmp_path, "tests/integration/conftest.py")
    assert "def event_loop" not in conftest
    assert '@pytest_asyncio.fixture(scope="module", loop_scope="module")' in conftest
    assert 'pytestmark = pytest.mark.asyncio(loop_scope="module")' in read(
        tmp_path, "tests/integration/test_db.py"
    )
    assert "pytestmark" not in read(tmp_path, "tests/unit/test_u.py")
    assert 'asyncio_default_fixture_loop_scope = "function"' in read(tmp_path, "pyproject.toml")
    assert 'asyncio_mode = "strict"' in read(tmp_path, "pyproject.toml")


def test_pa3_override_inside_a_class(tmp_path):
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "tests/test_cls.py": """
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
                    return 1

                @pytest.mark.asyncio
                async def test_it(self, thing):
                    assert thing == 1
            """,
        },
    )
    migrate_twice(tmp_path, only=[P])
    assert read(tmp_path, "tests/test_cls.py") == dedent("""
        import pytest
        import pytest_asyncio


        @pytest.mark.asyncio(loop_scope="class")
        class TestThing:

            @pytest_asyncio.fixture(loop_scope="class")
            async def thing(self):
                return 1

            @pytest.mark.asyncio(loop_scope="class")
            async def test_it(self, thing):
                assert thing == 1
        """)


def test_pa4_no_override_sets_function_default(tmp_path):
    write_tree(
        tmp_path,
        {
            "setup.cfg": "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -ra\n",
            "tests/test_x.py": "import pytest\n\n@pytest.mark.asyncio\nasync def test_x():\n    pass\n",
            "requirements.txt": "pytest-asyncio==0.21.1\n",
        },
    )
    migrate_twice(tmp_path, only=[P])
    assert read(tmp_path, "setup.cfg") == (
        "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -ra\nasyncio_default_fixture_loop_scope = function\n"
    )


def test_pa5_wide_fixtures_use_fixture_scope_on_15(tmp_path):
    files = {
        "tox.ini": "[tox]\nenvlist = py311\n\n[pytest]\nasyncio_mode = auto\n",
        "tests/conftest.py": """
            import pytest


            @pytest.fixture(scope="module")
            async def pool():
                yield 1
            """,
    }
    write_tree(tmp_path, files)
    migrate_twice(tmp_path, only=[P])
    assert read(tmp_path, "tox.ini").endswith(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = fixture-scope\n"
    )
    assert read(tmp_path, "tests/conftest.py") == dedent(
        files["tests/conftest.py"]
    )  # auto mode: no code edit


def test_pa5_wide_fixtures_on_13_get_loop_scope(tmp_path):
    write_tree(
        tmp_path,
        {
            "tox.ini": "[pytest]\nasyncio_mode = auto\n",
            "tests/conftest.py": """
            import pytest
            import pytest_asyncio

            SCOPE = "module"


            @pytest.fixture(scope="module")
            async def pool():
                yield 1


            @pytest_asyncio.fixture(scope="session")
            async def broker():
                yield 2


            @pytest_asyncio.fixture(scope=SCOPE)
            async def dynamic():
                yield 3
            """,
        },
    )
    migrate_twice(tmp_path, only=[P], versions=V13)
    text = read(tmp_path, "tests/conftest.py")
    assert '@pytest_asyncio.fixture(scope="module", loop_scope="module")\nasync def pool' in text
    assert '@pytest_asyncio.fixture(scope="session", loop_scope="session")\nasync def broker' in text
    assert "# MIGRATION-BLOCKER(PA-5): fixture scope is not a literal" in text
    assert "asyncio_default_fixture_loop_scope = function" in read(tmp_path, "tox.ini")


def test_pa10_consumer_in_narrower_loop_is_marked(tmp_path):
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "tests/conftest.py": """
            import pytest_asyncio


            @pytest_asyncio.fixture(scope="session")
            async def pool():
                yield object()
            """,
            "tests/test_p.py": """
            import pytest


            @pytest.mark.asyncio
            async def test_uses(pool):
                await pool.fetch()


            @pytest.mark.asyncio(loop_scope="session")
            async def test_ok(pool):
                await pool.fetch()
            """,
        },
    )
    result = migrate_twice(tmp_path, only=[P])
    text = read(tmp_path, "tests/test_p.py")
    assert text.count("MIGRATION-BLOCKER(PA-10)") == 1
    assert (
        '# MIGRATION-BLOCKER(PA-10): fixture pool runs in the session loop; mark this test asyncio(loop_scope="session")\n@pytest.mark.asyncio\nasync def test_uses'
        in text
    )
    assert [m.rule for _, m in result.markers] == ["PA-10"]


def test_pa13_native_toml_table_gets_string_and_no_second_table(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest]\nasyncio_mode = "auto"  # keep\n',
            "tests/test_x.py": "async def test_x():\n    pass\n",
        },
    )
    migrate_twice(tmp_path, only=[P])
    text = read(tmp_path, "pyproject.toml")
    assert (
        text
        == '[tool.pytest]\nasyncio_mode = "auto"  # keep\nasyncio_default_fixture_loop_scope = "function"\n'
    )
    assert "ini_options" not in text


def test_pa2_creates_pytest_ini_when_no_config(tmp_path):
    write_tree(tmp_path, {"tests/test_x.py": "import pytest_asyncio\n"})
    migrate_twice(tmp_path, only=[P])
    assert read(tmp_path, "pytest.ini") == "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def test_pa2_existing_setting_kept(tmp_path):
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = module\n",
            "tests/test_x.py": "import pytest_asyncio\n",
        },
    )
    result = migrate_twice(tmp_path, only=[P])
    assert not result.changed


# --- single-file rules -------------------------------------------------------------------------


def test_pa6_async_test_with_event_loop_param():
    assert_codemod(
        P,
        '''
        import pytest


        @pytest.mark.asyncio
        async def test_x(event_loop, other):
            """doc"""
            await event_loop.run_in_executor(None, print)


        @pytest.mark.asyncio
        async def test_unused(event_loop):
            pass
        ''',
        '''
        import pytest
        import asyncio


        @pytest.mark.asyncio
        async def test_x(other):
            """doc"""
            event_loop = asyncio.get_running_loop()
            await event_loop.run_in_executor(None, print)


        @pytest.mark.asyncio
        async def test_unused():
            pass
        ''',
        rules={"PA-6"},
    )


def test_pa6_usefixtures_getfixturevalue_indirect():
    assert_codemod(
        P,
        """
        import pytest


        @pytest.mark.usefixtures("event_loop", "db")
        @pytest.mark.parametrize("x", [1], indirect=["x", "event_loop"])
        @pytest.mark.asyncio
        async def test_x(request, x):
            loop = request.getfixturevalue("event_loop")
        """,
        """
        import pytest
        import asyncio


        @pytest.mark.usefixtures("db")
        @pytest.mark.parametrize("x", [1], indirect=["x"])
        @pytest.mark.asyncio
        async def test_x(request, x):
            loop = asyncio.get_running_loop()
        """,
        rules={"PA-6"},
    )


def test_pa7_sync_run_until_complete_becomes_async():
    assert_codemod(
        P,
        """
        import pytest


        @pytest.fixture(scope="module")
        def seeded(event_loop):
            event_loop.run_until_complete(seed())
            yield 1
            event_loop.run_until_complete(unseed())


        def test_sync(event_loop):
            assert event_loop.run_until_complete(compute()) == 3
        """,
        """
        import pytest
        import pytest_asyncio


        @pytest_asyncio.fixture(scope="module", loop_scope="module")
        async def seeded():
            await seed()
            yield 1
            await unseed()


        @pytest.mark.asyncio
        async def test_sync():
            assert await compute() == 3
        """,
        rules={"PA-7"},
    )


def test_pa7_other_uses_are_impossible():
    assert_codemod(
        P,
        """
        def test_sync(event_loop):
            client = Client(loop=event_loop)
        """,
        """
        # MIGRATION-BLOCKER(PA-7): sync code uses event_loop beyond run_until_complete(); make it async (await instead of run_until_complete, asyncio.get_running_loop()) or use asyncio.run()
        def test_sync(event_loop):
            client = Client(loop=event_loop)
        """,
        rules={"PA-7"},
    )


def test_pa8_strict_mode_async_fixture_with_alias_import():
    assert_codemod(
        P,
        """
        import pytest
        from pytest import fixture as fx


        @pytest.fixture(scope="function", params=[1, 2])
        async def a(request):
            return request.param


        @fx
        async def b():
            yield 2


        @pytest.fixture
        def sync_one():
            return 3
        """,
        """
        import pytest
        from pytest import fixture as fx
        import pytest_asyncio


        @pytest_asyncio.fixture(scope="function", params=[1, 2])
        async def a(request):
            return request.param


        @pytest_asyncio.fixture
        async def b():
            yield 2


        @pytest.fixture
        def sync_one():
            return 3
        """,
        rules={"PA-8"},
    )


def test_pa8_left_alone_in_auto_mode_and_with_anyio():
    code = """
        import pytest


        @pytest.fixture
        async def a():
            return 1
        """
    assert_codemod(P, code, code, rules=set(), state=PAState(mode="auto"))
    assert_codemod(P, code, code, rules={"PA-8"}, state=PAState(foreign_plugin=True))  # info only
    assert_codemod(
        P, code, code, rules=set(), state=PAState(foreign_plugin=True), rel="tests/x.py"
    ) if False else None


def test_pa8_shadowed_pytest_name_untouched():
    code = """
        class pytest:
            @staticmethod
            def fixture(f):
                return f


        @pytest.fixture
        async def a():
            return 1
        """
    assert_codemod(P, code, code, rules=set())


def test_pa9_marker_scope_argument():
    assert_codemod(
        P,
        """
        import pytest

        pytestmark = [pytest.mark.asyncio(scope="module"), pytest.mark.slow]


        @pytest.mark.asyncio(scope="class")
        class TestX:
            pass


        @pytest.mark.asyncio("module")
        async def test_p():
            pass


        @pytest.mark.asyncio(scope="module", loop_scope="module")
        async def test_both():
            pass
        """,
        """
        import pytest

        pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


        @pytest.mark.asyncio(loop_scope="class")
        class TestX:
            pass


        @pytest.mark.asyncio(loop_scope="module")
        async def test_p():
            pass


        @pytest.mark.asyncio(loop_scope="module")
        async def test_both():
            pass
        """,
        rules={"PA-9"},
    )


def test_pa11_event_loop_policy_to_loop_factories_hook():
    before = """
        import pytest
        import uvloop


        @pytest.fixture(scope="session")
        def event_loop_policy():
            return uvloop.EventLoopPolicy()
        """
    assert_codemod(
        P,
        before,
        """
        import pytest
        import uvloop


        def pytest_asyncio_loop_factories(config, item):
            return {"uvloop": uvloop.new_event_loop}
        """,
        rules={"PA-11"},
        rel="conftest.py",
    )
    assert_codemod(P, before, before, rules=set(), rel="conftest.py", versions=V13)


def test_pa11_unknown_policy_is_impossible():
    assert_codemod(
        P,
        """
        import pytest


        @pytest.fixture(scope="session")
        def event_loop_policy():
            return MyPolicy()
        """,
        """
        import pytest


        # MIGRATION-BLOCKER(PA-11): custom event_loop_policy: on pytest-asyncio>=1.4 write a pytest_asyncio_loop_factories(config, item) hook returning {name: loop_factory}
        @pytest.fixture(scope="session")
        def event_loop_policy():
            return MyPolicy()
        """,
        rules={"PA-11"},
        rel="conftest.py",
    )


def test_pa12_removed_internals():
    assert_codemod(
        P,
        """
        from pytest_asyncio.plugin import unused_tcp_port
        from pytest_asyncio.plugin import wrap_in_sync, _wrap_async
        """,
        """
        from pytest_asyncio.plugin import unused_tcp_port
        # MIGRATION-BLOCKER(PA-12): pytest_asyncio.plugin._wrap_async, wrap_in_sync is gone in 1.x: delete the import and use asyncio.get_running_loop() or pytest_asyncio.is_async_test
        from pytest_asyncio.plugin import wrap_in_sync, _wrap_async
        """,
        rules={"PA-12"},
    )


def test_pa14_marker_on_sync_test():
    assert_codemod(
        P,
        """
        import asyncio
        import pytest


        @pytest.mark.asyncio
        def test_plain():
            assert True


        @pytest.mark.asyncio
        def test_loop():
            asyncio.get_event_loop().run_until_complete(f())
        """,
        """
        import asyncio
        import pytest


        def test_plain():
            assert True


        # MIGRATION-BLOCKER(PA-14): sync test relies on a current loop (1.x gives sync tests none): make it async, or use asyncio.run() / asyncio.Runner
        @pytest.mark.asyncio
        def test_loop():
            asyncio.get_event_loop().run_until_complete(f())
        """,
        rules={"PA-14"},
    )


def test_pa15_closing_the_loop():
    assert_codemod(
        P,
        """
        import asyncio
        import pytest


        @pytest.mark.asyncio
        async def test_close():
            loop = asyncio.get_running_loop()
            loop.close()


        @pytest.mark.asyncio
        async def test_own_loop_is_fine():
            loop = asyncio.new_event_loop()
            loop.close()
        """,
        """
        import asyncio
        import pytest


        # MIGRATION-BLOCKER(PA-15): pytest-asyncio>=1.1 owns the loop; remove close()
        @pytest.mark.asyncio
        async def test_close():
            loop = asyncio.get_running_loop()
            loop.close()


        @pytest.mark.asyncio
        async def test_own_loop_is_fine():
            loop = asyncio.new_event_loop()
            loop.close()
        """,
        rules={"PA-15"},
    )


def test_code_in_strings_untouched_and_non_test_files_skipped(tmp_path):
    code = """
        DOC = "def test_x(event_loop): event_loop.run_until_complete(x)"
        """
    assert_codemod(P, code, code, rules=set())
    write_tree(
        tmp_path,
        {
            "app/main.py": "def handler(event_loop):\n    return event_loop\n",
            "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = function\n",
        },
    )
    result = migrate_twice(tmp_path, only=[P])
    assert result.file("app/main.py").status == "skipped"


def test_pa16_leftover_event_loop_parameter_in_a_helper():
    assert_codemod(
        P,
        """
        def start_server(event_loop, port):
            return event_loop.create_server(port)
        """,
        """
        # MIGRATION-BLOCKER(PA-16): the event_loop fixture is gone in 1.x and `grep -w event_loop` must come back empty: pass the loop from asyncio.get_running_loop() and rename this parameter
        def start_server(event_loop, port):
            return event_loop.create_server(port)
        """,
        rules={"PA-16"},
    )


def test_pa3_own_bare_marker_in_an_overridden_module_gets_the_loop_scope(tmp_path):
    # 1.x reads the closest asyncio marker only: a bare marker on the test hides the module's
    # pytestmark and would run it in the function loop, not the module loop of its fixture
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "tests/test_mod.py": """
            import asyncio

            import pytest
            from pytest import mark


            @pytest.fixture(scope="module")
            def event_loop():
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()


            @mark.asyncio
            async def test_bare():
                pass


            @pytest.mark.asyncio()
            async def test_called():
                pass


            @pytest.mark.asyncio(loop_scope="function")
            async def test_own_scope():
                pass
            """,
        },
    )
    migrate_twice(tmp_path, only=[P])
    assert read(tmp_path, "tests/test_mod.py") == dedent("""
        import pytest
        from pytest import mark

        pytestmark = pytest.mark.asyncio(loop_scope="module")


        @mark.asyncio(loop_scope="module")
        async def test_bare():
            pass


        @pytest.mark.asyncio(loop_scope="module")
        async def test_called():
            pass


        @pytest.mark.asyncio(loop_scope="function")
        async def test_own_scope():
            pass
        """)


def test_pa3_function_scoped_subtree_override_leaves_bare_markers(tmp_path):
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "tests/sub/conftest.py": """
            import asyncio

            import pytest


            @pytest.fixture
            def event_loop():
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()
            """,
            "tests/sub/test_s.py": """
            import pytest


            @pytest.mark.asyncio
            async def test_s():
                pass
            """,
        },
    )
    migrate_twice(tmp_path, only=[P])
    assert "@pytest.mark.asyncio\nasync def test_s" in read(tmp_path, "tests/sub/test_s.py")


def test_pa14_sync_test_or_fixture_needing_a_current_loop_is_marked(tmp_path):
    # 0.2x's event_loop teardown set a new current loop; 1.x leaves none after an async test
    write_tree(
        tmp_path,
        {
            "requirements.txt": "pytest-asyncio==0.21.1\n",
            "pytest.ini": "[pytest]\nasyncio_mode = auto\n",
            "tests/test_a.py": """
            import asyncio

            import pytest


            async def test_async():
                pass


            def test_sync_after():
                assert asyncio.get_event_loop().run_until_complete(asyncio.sleep(0, 5)) == 5


            @pytest.fixture
            def loop_fixture():
                return asyncio.get_event_loop_policy().get_event_loop()


            def test_nested_async_is_fine():
                async def inner():
                    return asyncio.get_event_loop()

                assert asyncio.run(inner())


            def helper():
                return asyncio.get_event_loop()
            """,
        },
    )
    result = migrate_twice(tmp_path, only=[P])
    assert [change.rule for _, change in result.markers] == ["PA-14", "PA-14"], result.markers
    text = read(tmp_path, "tests/test_a.py")
    assert "get_event_loop(): pytest-asyncio 1.x leaves no current loop" in text
    assert text.index("sync test calls") < text.index("def test_sync_after")
    assert text.index("sync fixture calls") < text.index("def loop_fixture") < text.index("def test_nested")


def test_pa14_session_loop_keeps_sync_current_loop_users(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "pytest-asyncio==0.21.1\n",
            "pytest.ini": "[pytest]\n",
            "tests/conftest.py": """
            import asyncio

            import pytest


            @pytest.fixture(scope="session")
            def event_loop():
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()
            """,
            "tests/test_a.py": """
            import asyncio


            def test_sync():
                assert asyncio.get_event_loop()
            """,
        },
    )
    result = migrate_twice(tmp_path, only=[P])
    assert not result.markers, result.markers


def test_pytest_plugins_modules_outside_the_test_folders_are_migrated(tmp_path):
    # fixtures.db is loaded with pytest_plugins: its async fixture under plain @pytest.fixture (never
    # run by 1.x in strict mode) and its session event_loop override were left as they were
    write_tree(
        tmp_path,
        {
            "requirements.txt": "pytest-asyncio==0.21.1\n",
            "pytest.ini": "[pytest]\n",
            "conftest.py": 'pytest_plugins = [\n    "fixtures.db",\n    "fixtures.other",\n]\n',
            "fixtures/__init__.py": "",
            "fixtures/db.py": """
            import asyncio

            import pytest


            @pytest.fixture(scope="session")
            def event_loop():
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()


            @pytest.fixture
            async def db():
                yield 1
            """,
            "fixtures/other.py": "import pytest\n\n\n@pytest.fixture\nasync def other():\n    return 2\n",
            "app/worker.py": "import pytest\n\n\nasync def test_connection():\n    return 3\n",
            "tests/test_db.py": """
            import pytest


            @pytest.mark.asyncio
            async def test_db(db, other):
                assert db == 1
            """,
        },
    )
    result = migrate_twice(tmp_path, only=[P])
    assert not result.markers, result.markers
    assert read(tmp_path, "fixtures/db.py") == dedent("""
        import pytest
        import pytest_asyncio


        @pytest_asyncio.fixture
        async def db():
            yield 1
        """)
    assert "@pytest_asyncio.fixture\nasync def other" in read(tmp_path, "fixtures/other.py")
    assert "asyncio_default_test_loop_scope = session" in read(tmp_path, "pytest.ini")
    # a module no pytest_plugins names is service code, never a test file
    assert (
        read(tmp_path, "app/worker.py") == "import pytest\n\n\nasync def test_connection():\n    return 3\n"
    )


def test_pa3_asyncio_marker_inside_a_pytestmark_list_gets_the_loop_scope(tmp_path):
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "tests/integ/conftest.py": """
            import asyncio

            import pytest


            @pytest.fixture(scope="module")
            def event_loop():
                loop = asyncio.new_event_loop()
                yield loop
                loop.close()
            """,
            "tests/integ/test_i.py": """
            import pytest

            pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


            async def test_i():
                pass
            """,
            "tests/integ/test_j.py": """
            import pytest

            pytestmark = (pytest.mark.slow, pytest.mark.asyncio())


            async def test_j():
                pass
            """,
            "tests/integ/test_k.py": """
            import pytest

            pytestmark = [pytest.mark.asyncio(loop_scope="function")]


            async def test_k():
                pass
            """,
        },
    )
    migrate_twice(tmp_path, only=[P])
    assert 'pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]' in read(
        tmp_path, "tests/integ/test_i.py"
    )
    assert 'pytestmark = (pytest.mark.slow, pytest.mark.asyncio(loop_scope="module"))' in read(
        tmp_path, "tests/integ/test_j.py"
    )
    assert 'pytestmark = [pytest.mark.asyncio(loop_scope="function")]' in read(
        tmp_path, "tests/integ/test_k.py"
    )


def test_plugin_module_loaded_with_p_in_addopts_is_migrated(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "pytest-asyncio==0.21.1\n",
            "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider -p support.db -psupport.extra\n",
            "support/__init__.py": "",
            "support/db.py": "import pytest\n\n\n@pytest.fixture\nasync def db():\n    return 1\n",
            "support/extra.py": "import pytest\n\n\n@pytest.fixture\nasync def extra():\n    return 2\n",
            "tests/test_db.py": "import pytest\n\n\n@pytest.mark.asyncio\nasync def test_db(db, extra):\n    assert db == 1\n",
        },
    )
    migrate_twice(tmp_path, only=[P])
    assert "@pytest_asyncio.fixture\nasync def db" in read(tmp_path, "support/db.py")
    assert "@pytest_asyncio.fixture\nasync def extra" in read(tmp_path, "support/extra.py")


def test_a_service_class_built_by_a_sync_fixture_needing_a_current_loop_is_marked(tmp_path):
    # PA-14 in service code, through a constructor: the sync fixture calls `Worker()`, whose
    # `__init__` calls asyncio.get_event_loop(); the unit is the service folder, so the tests import
    # `svc.worker` while the module is `worker` there
    write_tree(
        tmp_path,
        {
            "svc/requirements.txt": "pytest==7.4.4\npytest-asyncio==0.23.8\n",
            "svc/__init__.py": "",
            "svc/worker.py": """
                import asyncio


                class Worker:
                    def __init__(self):
                        self.loop = asyncio.get_event_loop()

                    def submit(self, coro):
                        return self.loop.run_until_complete(coro)


                def untested():
                    return asyncio.get_event_loop()
                """,
            "svc/tests/__init__.py": "",
            "svc/tests/conftest.py": """
                import pytest

                from svc.worker import Worker


                @pytest.fixture
                def worker():
                    return Worker()
                """,
            "svc/tests/test_w.py": """
                import pytest


                @pytest.mark.asyncio
                async def test_async():
                    assert True


                def test_submit(worker):
                    assert worker.loop is not None
                """,
        },
    )
    result = migrate_twice(tmp_path / "svc")
    assert [(path, c.rule) for path, c in result.markers] == [("worker.py", "PA-14")]
    worker = read(tmp_path / "svc", "worker.py")
    lines = worker.splitlines()
    above = lines[lines.index("        self.loop = asyncio.get_event_loop()") - 1]
    assert above.startswith("        # MIGRATION-BLOCKER(PA-14): Worker() calls asyncio.get_event_loop()")
    assert "tests/conftest.py::worker" in above
