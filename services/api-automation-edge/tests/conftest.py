import os
import uuid

import httpx
import pytest
from tenacity import wait_none

from app.config import Config
from app.downstream import Downstream


class FakeMetrics:
    def __init__(self, config=None, reachable=True):
        self.reachable = reachable
        self.points = []
        self.closed = False

    def ping(self):
        return self.reachable

    def record(self, point):
        self.points.append(point)
        return True

    def summary(self, hours):
        return {}

    def close(self):
        self.closed = True


class ScriptedHA:
    """A downstream that answers with the given statuses in order (the last one repeats)."""

    def __init__(self, *statuses):
        self.statuses = list(statuses)
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == "connect-error":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json={"status": status} if status < 400 else {"message": "nope"})


@pytest.fixture(autouse=True)
def no_retry_waits():
    """Retries without sleeping (tenacity honours a patched wait)."""
    original = Downstream.trigger.retry.wait
    Downstream.trigger.retry.wait = wait_none()
    yield
    Downstream.trigger.retry.wait = original


def downstream_for(ha: ScriptedHA) -> Downstream:
    return Downstream(base_url="http://ha.test", transport=httpx.MockTransport(ha))


@pytest.fixture
def live_config() -> Config:
    if not os.environ.get("INFLUXDB_URL"):
        pytest.fail("INFLUXDB_URL is not set: integration tests need the sandbox dependencies "
                    "(or deselect them with -m 'not influx')", pytrace=False)
    return Config.from_env()


@pytest.fixture
def automation_id() -> str:
    return f"auto_{uuid.uuid4().hex[:8]}"
