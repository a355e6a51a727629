from fastapi.testclient import TestClient

from app.config import Config
from app.main import create_app
from app.metrics import call_point
from app.service import EdgeService
from tests.conftest import FakeMetrics, ScriptedHA, downstream_for

CONFIG = Config.from_env({"INFLUXDB_URL": "http://influx.invalid:8181"})


def test_ok_call_is_recorded():
    metrics = FakeMetrics()
    result = EdgeService(downstream_for(ScriptedHA(200)), metrics).trigger("lights", {})
    assert (result.outcome, result.attempts, result.recorded) == ("ok", 1, True)
    assert metrics.points[0].to_line_protocol().startswith("edge_calls,automation=lights,outcome=ok attempts=1i,")


def test_exhausted_retries_are_caught_and_recorded():
    metrics = FakeMetrics()
    result = EdgeService(downstream_for(ScriptedHA(500)), metrics).trigger("lights", {})
    assert (result.outcome, result.attempts) == ("unavailable", 3)
    assert "outcome=unavailable attempts=3i" in metrics.points[0].to_line_protocol()


def test_rejected_call():
    result = EdgeService(downstream_for(ScriptedHA(404)), FakeMetrics()).trigger("nope", {})
    assert (result.outcome, result.attempts) == ("rejected", 1)


def test_call_point_precision_is_ms():
    from datetime import datetime, timezone
    point = call_point("a", "ok", 2, 12.5, when=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert point.to_line_protocol() == "edge_calls,automation=a,outcome=ok attempts=2i,duration_ms=12.5 1704067200000"


def make_client(ha, metrics):
    return TestClient(create_app(CONFIG, metrics_factory=lambda _c: metrics,
                                 downstream_factory=lambda: downstream_for(ha)))


def test_api_status_codes():
    with make_client(ScriptedHA(200), FakeMetrics()) as client:
        assert client.post("/automations/lights/trigger", json={"brightness": 50}).status_code == 200
    with make_client(ScriptedHA(503), FakeMetrics()) as client:
        answer = client.post("/automations/lights/trigger")
        assert answer.status_code == 502 and answer.json()["attempts"] == 3
    with make_client(ScriptedHA(422), FakeMetrics()) as client:
        assert client.post("/automations/lights/trigger").status_code == 409


def test_health():
    with make_client(ScriptedHA(200), FakeMetrics(reachable=False)) as client:
        assert client.get("/health").status_code == 503
    with make_client(ScriptedHA(200), FakeMetrics()) as client:
        assert client.get("/health").json()["status"] == "ok"
