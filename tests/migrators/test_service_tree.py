"""A whole service tree with all three upgrades, detected (not forced), as the pipeline runs it."""

from __future__ import annotations

import json

from migrators.cli import main
from tests.migrators.helpers import dedent, migrate_twice, read, write_tree

SERVICE = {
    "Dockerfile": """
        FROM python:3.11-slim
        WORKDIR /app
        COPY requirements-prod.txt requirements-test.txt ./
        RUN pip install --no-cache-dir -r requirements-prod.txt -r requirements-test.txt
        COPY . .
        CMD ["python", "-m", "app.main"]
        """,
    "requirements-prod.txt": "asyncio-mqtt==0.16.1\ntenacity==8.2.3\nfastapi==0.110.0\n",
    "requirements-test.txt": "-r requirements-prod.txt\npytest==7.4.4\npytest-asyncio==0.21.1\n",
    "requirements.txt": "# unused by the image, still kept in step\ntenacity==8.2.3\n",
    "pytest.ini": "[pytest]\nasyncio_mode = auto\n",
    "app/__init__.py": "",
    "app/main.py": """
        import asyncio

        from asyncio_mqtt import Client, MqttError
        from tenacity import RetryError, retry, stop_after_attempt


        @retry(stop=stop_after_attempt(3))
        async def publish(client, payload):
            await client.publish("events", payload)


        async def main():
            async with Client("mosquitto", client_id="svc") as client:
                try:
                    await publish(client, b"up")
                except RetryError:
                    pass
        """,
    "tests/test_main.py": """
        import pytest


        @pytest.fixture
        async def client():
            yield object()


        async def test_main(client, event_loop):
            assert client is not None
        """,
}


def test_detected_upgrades_applied_to_every_installed_file(tmp_path):
    write_tree(tmp_path, SERVICE)
    result = migrate_twice(tmp_path)
    assert result.upgrades == ["pytest-asyncio", "tenacity", "aiomqtt"]
    assert read(tmp_path, "requirements-prod.txt") == "aiomqtt==2.5.1\ntenacity==9.2.1\nfastapi==0.110.0\n"
    assert (
        read(tmp_path, "requirements-test.txt")
        == "-r requirements-prod.txt\npytest>=8.4\npytest-asyncio==1.5.0\n"
    )
    assert (
        read(tmp_path, "requirements.txt") == "# unused by the image, still kept in step\ntenacity==9.2.1\n"
    )
    assert (
        read(tmp_path, "pytest.ini")
        == "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    assert 'Client("mosquitto", identifier="svc")' in read(tmp_path, "app/main.py")
    assert "reraise" not in read(tmp_path, "app/main.py")
    assert read(tmp_path, "tests/test_main.py") == dedent("""
        import pytest


        @pytest.fixture
        async def client():
            yield object()


        async def test_main(client):
            assert client is not None
        """)  # auto mode: the plain async fixture is pytest-asyncio's already
    assert not result.markers


def test_cli_json_report_per_file_and_rule(tmp_path, capsys):
    write_tree(tmp_path, SERVICE)
    assert main([str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["errors"] == 0 and report["summary"]["markers"] == 0
    assert set(report["rules"]) >= {"PA-1", "PA-2", "PA-6", "TN-1", "MQ-1", "MQ-2", "MQ-3"}
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path["app/main.py"]["upgrades"] == ["aiomqtt"]
    assert {c["rule"] for c in by_path["app/main.py"]["changes"]} == {"MQ-2", "MQ-3"}
    assert "+++ b/app/main.py" in report["diff"]


def test_anyio_project_leaves_async_fixtures_to_anyio(tmp_path):
    write_tree(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "requirements.txt": "pytest-asyncio==0.21.1\nanyio\n",
            "tests/test_a.py": """
            import pytest


            @pytest.fixture
            async def resource():
                yield 1


            @pytest.mark.anyio
            async def test_a(resource):
                assert resource == 1
            """,
        },
    )
    result = migrate_twice(tmp_path)
    assert "@pytest.fixture\nasync def resource" in read(tmp_path, "tests/test_a.py")
    assert [c.kind for c in result.file("tests/test_a.py").changes] == ["info"]
