import json

import pytest

from app.constants import COMPLETED_TOPIC, STATS_EVENT_TOPIC
from app.job import RetentionJob
from app.listener import CommandListener
from fleet_common.config import Settings
from tests.conftest import FakeInflux


class RecordingClient:
    def __init__(self):
        self.published = []

    async def publish(self, topic, payload, qos=0, retain=False):
        self.published.append((topic, json.loads(payload)))


@pytest.fixture
def runs():
    return []


@pytest.fixture
def listener(runs):
    async def on_run(params):
        runs.append(params)
        return {"status": "ok", "hours": params["hours"]}

    async def on_stats():
        return {"raw_points": 3}

    return CommandListener(Settings.from_env({}), on_run, on_stats)


@pytest.mark.asyncio
async def test_run_command_publishes_completion(listener, runs):
    client = RecordingClient()
    await listener.run_command(client, b'{"hours": 3}')
    assert runs == [{"hours": 3, "expire": True}]
    assert client.published == [(COMPLETED_TOPIC, {"status": "ok", "hours": 3})]


@pytest.mark.asyncio
async def test_bad_command_is_rejected_on_the_event_topic(listener, runs):
    client = RecordingClient()
    await listener.run_command(client, b"nope")
    assert runs == []
    assert client.published[0][0] == COMPLETED_TOPIC
    assert client.published[0][1]["status"] == "rejected"


@pytest.mark.asyncio
async def test_stats_command(listener):
    client = RecordingClient()
    await listener.stats_command(client)
    assert client.published == [(STATS_EVENT_TOPIC, {"raw_points": 3})]


@pytest.mark.asyncio
async def test_empty_run_command_uses_defaults(listener, runs):
    client = RecordingClient()
    await listener.run_command(client, b"")
    assert runs == [{"hours": 24, "expire": True}]
    assert client.published[0][1]["status"] == "ok"


@pytest.mark.asyncio
async def test_job_runs_off_the_event_loop(event_loop):
    job = RetentionJob(FakeInflux())
    result = await event_loop.run_in_executor(None, job.run, 1, False)
    assert result["status"] == "failed"  # no query_api on the fake: the failure is reported
    assert result["hours"] == 1
