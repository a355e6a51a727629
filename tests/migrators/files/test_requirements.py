"""Requirements rewriter: Dockerfile-installed files, includes, comments/markers/extras, pyproject."""

from __future__ import annotations

from migrators.core.tree import ProjectTree
from migrators.files.requirements import (
    RequirementRule,
    declared_lines,
    declared_packages,
    requirement_files,
    rewrite_requirements_text,
)
from tests.migrators.helpers import dedent, migrate_twice, read, write_tree


def test_dockerfile_installed_files_and_includes(tmp_path):
    write_tree(
        tmp_path,
        {
            "Dockerfile": """
            FROM python:3.11-slim
            WORKDIR /app
            COPY deps/ /app/deps/
            RUN pip install --no-cache-dir \\
                -r /app/deps/prod.txt
            """,
            "deps/prod.txt": "-r base.in\n# production\ntenacity==8.2.3\n",
            "deps/base.in": "asyncio-mqtt[extra]==0.16.1 ; sys_platform != 'win32'  # mqtt\n",
            "requirements.txt": "tenacity>=8,<9\n",
        },
    )
    tree = ProjectTree(tmp_path)
    assert sorted(requirement_files(tree)) == ["deps/base.in", "deps/prod.txt", "requirements.txt"]
    migrate_twice(tmp_path, only=["tenacity", "aiomqtt"])
    assert read(tmp_path, "deps/prod.txt") == "-r base.in\n# production\ntenacity==9.2.1\n"
    assert read(tmp_path, "deps/base.in") == "aiomqtt==2.5.1 ; sys_platform != 'win32'  # mqtt\n"
    assert read(tmp_path, "requirements.txt") == "tenacity>=9.2.1,<10\n"


def test_dockerfile_inline_pip_install(tmp_path):
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM python:3.11-slim\nRUN pip install tenacity==8.2.3 'requests>=2'\n",
            "app.py": "import tenacity\n",
        },
    )
    migrate_twice(tmp_path, only=["tenacity"])
    assert (
        read(tmp_path, "Dockerfile")
        == "FROM python:3.11-slim\nRUN pip install tenacity==9.2.1 'requests>=2'\n"
    )


def test_pyproject_dependencies_format_preserved(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": """
        [project]
        name = "svc"
        dependencies = [
            "tenacity~=8.2",  # retries
            "httpx",
        ]

        [project.optional-dependencies]
        test = ["pytest==7.4.0", "pytest-asyncio==0.23.8"]
        """
        },
    )
    migrate_twice(tmp_path, only=["tenacity", "pytest-asyncio"])
    text = read(tmp_path, "pyproject.toml")
    assert '"tenacity>=9.2.1,<10",  # retries' in text
    assert 'test = ["pytest>=8.4", "pytest-asyncio==1.5.0"]' in text
    assert declared_packages(ProjectTree(tmp_path)) >= {"tenacity", "httpx", "pytest", "pytest-asyncio"}


def test_forced_pins_only_raise_what_is_too_low():
    rules = [RequirementRule("PA-1", "pytest", spec=">=8.4", forced=True)]
    for line, expected in [
        ("pytest\n", "pytest\n"),
        ("pytest==8.4.2\n", "pytest==8.4.2\n"),
        ("pytest>=8.2\n", "pytest>=8.4\n"),
        ("pytest<8\n", "pytest>=8.4\n"),
        ("pytest==7.4.4  # pinned\n", "pytest>=8.4  # pinned\n"),
    ]:
        assert rewrite_requirements_text(line, rules)[0] == expected, line


def test_table_driven_extension_rename_with_extras():
    """What the influxdb3 upgrade adds: one row renames the package and sets the pandas extra."""
    rules = [
        RequirementRule(
            "IX-1",
            "influxdb-client",
            rename_to="influxdb3-python",
            version="0.21.0",
            extras=frozenset({"pandas"}),
        )
    ]
    text = dedent("""
        # db
        influxdb_client[ciso,extra]==1.40.0 ; python_version >= "3.8"  # v2
        -e ./lib
        --index-url https://example.invalid/simple
        """)
    new, changes = rewrite_requirements_text(text, rules)
    assert new == dedent("""
        # db
        influxdb3-python[pandas]==0.21.0 ; python_version >= "3.8"  # v2
        -e ./lib
        --index-url https://example.invalid/simple
        """)
    assert changes == [
        (
            "IX-1",
            2,
            'influxdb_client[ciso,extra]==1.40.0 ; python_version >= "3.8" -> '
            'influxdb3-python[pandas]==0.21.0 ; python_version >= "3.8"',
        )
    ]
    assert rewrite_requirements_text(new, rules)[0] == new


def test_crlf_and_unrelated_lines_untouched():
    rules = [RequirementRule("TN-1", "tenacity", version="9.2.1")]
    text = "tenacity-extra==1.0\r\nTenacity==8.2.3\r\nnot a requirement line !!\r\n"
    assert (
        rewrite_requirements_text(text, rules)[0]
        == "tenacity-extra==1.0\r\nTenacity==9.2.1\r\nnot a requirement line !!\r\n"
    )


def test_python_floor_marks_old_dockerfile_and_raises_requires_python(tmp_path):
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM python:3.9-slim AS build\nRUN pip install -r requirements.txt\n",
            "pyproject.toml": '[project]\nname = "s"\nrequires-python = ">=3.9"\n',
            "requirements.txt": "pytest-asyncio==0.21.1\n",
            "tests/test_x.py": "import pytest_asyncio\n",
        },
    )
    result = migrate_twice(tmp_path, only=["pytest-asyncio"])
    assert read(tmp_path, "Dockerfile") == (
        "# MIGRATION-BLOCKER(PA-1): pytest-asyncio 1.5.0 needs Python >= 3.10; this image uses python:3.9: "
        "move the service to python:3.10 or newer\nFROM python:3.9-slim AS build\nRUN pip install -r requirements.txt\n"
    )
    assert 'requires-python = ">=3.10"' in read(tmp_path, "pyproject.toml")
    assert [(p, m.rule) for p, m in result.markers] == [("Dockerfile", "PA-1")]


def test_python_311_image_untouched(tmp_path):
    write_tree(tmp_path, {"Dockerfile": "FROM python:3.11-slim\n", "app.py": "import tenacity\n"})
    result = migrate_twice(tmp_path, only=["tenacity"])
    assert not result.changed


def test_companion_line_follows_the_rewritten_line_even_at_end_of_file():
    rules = [
        RequirementRule(
            "IX-1", "influxdb-client", rename_to="influxdb3-python", version="0.21.0", companion="pyarrow<26"
        )
    ]
    for text, expected in [
        ("numpy==1.26.4\ninfluxdb-client==1.40.0", "numpy==1.26.4\ninfluxdb3-python==0.21.0\npyarrow<26"),
        (
            "influxdb-client==1.40.0\r\nnumpy==1.26.4\r\n",
            "influxdb3-python==0.21.0\r\npyarrow<26\r\nnumpy==1.26.4\r\n",
        ),
        ("influxdb-client==1.40.0\npyarrow==25.0.0\n", "influxdb3-python==0.21.0\npyarrow==25.0.0\n"),
    ]:
        assert rewrite_requirements_text(text, rules)[0] == expected


def _marker_above(text: str, needle: str) -> str:
    lines = text.splitlines()
    return next(lines[i - 1].strip() for i, line in enumerate(lines) if needle in line)


def test_declarations_the_rewriter_does_not_rewrite_are_marked(tmp_path):
    # the code was migrated while Poetry, a Pipfile, setup.cfg or setup.py kept the old pins: an
    # ImportError at run time with no marker (a probe: aiomqtt code beside asyncio-mqtt = "^0.16.1")
    write_tree(
        tmp_path,
        {
            "poetry/pyproject.toml": """
        [tool.poetry.dependencies]
        python = "^3.11"
        asyncio-mqtt = {version = "^0.16.1", optional = true}

        [tool.poetry.group.dev.dependencies]
        pytest = "^7.4"

        [tool.poetry.dependencies.tenacity]
        version = "^8.2"
        """,
            "poetry/app/bus.py": "import asyncio_mqtt\nfrom tenacity import retry\n",
            "pip/Pipfile": '[packages]\ntenacity = {version = "==8.2.3", markers = "os_name != \'nt\'"}\nrequests = "*"\n',
            "pip/app/r.py": "from tenacity import retry\n",
            "cfg/setup.cfg": """
        [options]
        install_requires =
            tenacity>=8,<9
            requests
        """,
            "cfg/setup.py": 'from setuptools import setup\n\nsetup(name="cfg", install_requires=["tenacity>=8.0,<9"])\n',
            "cfg/app/r.py": "from tenacity import retry\n",
        },
    )
    result = migrate_twice(tmp_path)
    poetry = read(tmp_path, "poetry/pyproject.toml")
    assert _marker_above(poetry, "asyncio-mqtt =").startswith(
        "# MIGRATION-BLOCKER(MQ-1): asyncio-mqtt is declared"
    )
    assert "declare aiomqtt>=" in _marker_above(poetry, "asyncio-mqtt =")
    assert _marker_above(poetry, "[tool.poetry.dependencies.tenacity]").startswith("# MIGRATION-BLOCKER(TN-")
    assert _marker_above(poetry, "pytest =") == "[tool.poetry.group.dev.dependencies]"  # no rule changes it
    assert _marker_above(read(tmp_path, "pip/Pipfile"), "tenacity =").startswith("# MIGRATION-BLOCKER(TN-")
    assert _marker_above(read(tmp_path, "cfg/setup.cfg"), "tenacity>=8").startswith("# MIGRATION-BLOCKER(TN-")
    assert _marker_above(read(tmp_path, "cfg/setup.py"), "setup(name=").startswith("# MIGRATION-BLOCKER(TN-")
    declared = [(path, c) for path, c in result.markers if "is declared here" in c.message]
    assert {path for path, _ in declared} == {
        "poetry/pyproject.toml",
        "pip/Pipfile",
        "cfg/setup.cfg",
        "cfg/setup.py",
    }
    assert all("MIGRATION-BLOCKER" not in c.message for _, c in declared)


def test_declarations_in_poetry_and_setup_cfg_count_for_detection(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry.group.dev.dependencies]\n"pytest-asyncio" = "^0.21"\n',
            "setup.cfg": "[options.extras_require]\nmqtt =\n    asyncio-mqtt==0.16.1\n",
        },
    )
    assert {"pytest-asyncio", "asyncio-mqtt"} <= declared_packages(ProjectTree(tmp_path))


def test_a_poetry_dotted_key_declares_the_package_before_its_dot():
    # `tenacity.version = "^8.2"` is TOML for tenacity's table: read as a package named
    # "tenacity-version" it was neither detected nor marked; a quoted key keeps its dots
    text = (
        '[tool.poetry.dependencies]\ntenacity.version = "^8.2"\n"zope.interface" = "*"\n# tenacity = "^8"\n'
    )
    assert declared_lines("pyproject.toml", text) == [(1, "tenacity"), (2, "zope-interface")]


def test_a_plain_string_declaration_in_poetry_or_a_pipfile_is_rewritten(tmp_path):
    # `name = "<spec>"` keeps its format rewritten (a name and a PEP 440 string, which Poetry and Pipenv
    # both read); a marker there only asked a person to do what the rewrite can
    write_tree(
        tmp_path,
        {
            "poetry/pyproject.toml": """
        [tool.poetry.dependencies]
        python = "^3.11"
        asyncio-mqtt = "^0.16.1"  # the broker
        tenacity = "^8.2"
        influxdb-client = "^1.40"

        [tool.poetry.group.dev.dependencies]
        pytest = "^7.4"
        pytest-asyncio = "0.21.1"
        """,
            "poetry/app/bus.py": "import asyncio_mqtt\nfrom tenacity import retry\nimport influxdb_client\n",
            "poetry/tests/test_bus.py": "import pytest\n\n\n@pytest.mark.asyncio\nasync def test_x():\n    pass\n",
            "pip/Pipfile": "[packages]\ntenacity = '==8.2.3'\nasyncio-mqtt = \"*\"\n",
            "pip/app/r.py": "from tenacity import retry\nimport asyncio_mqtt\n",
        },
    )
    result = migrate_twice(tmp_path)
    poetry = read(tmp_path, "poetry/pyproject.toml")
    assert 'aiomqtt = ">=2.5.1,<3"  # the broker\n' in poetry and "asyncio-mqtt" not in poetry
    assert 'tenacity = ">=9.2.1,<10"\n' in poetry
    assert 'pytest = ">=8.4"\n' in poetry and 'pytest-asyncio = "==1.5.0"\n' in poetry
    assert 'influxdb3-python = ">=0.21.0,<1"\n' in poetry  # no extras, no companion: a plain string too
    assert read(tmp_path, "pip/Pipfile") == "[packages]\ntenacity = '==9.2.1'\naiomqtt = \">=2.5.1,<3\"\n"
    assert not [c for _, c in result.markers if "is declared here" in c.message]
