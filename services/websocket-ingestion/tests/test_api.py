import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from fleet_common.config import Settings
from tests.conftest import FakePublisher, FakeWriter, state_event

SETTINGS = Settings.from_env({"INFLUXDB_URL": "http://influx.invalid:8181", "MQTT_HOST": "mqtt.invalid"})


@pytest.fixture
def parts():
    return FakeWriter(), FakePublisher()


@pytest.fixture
def client(parts):
    writer, publisher = parts
    app = create_app(SETTINGS, writer_factory=lambda _s: writer, publisher_factory=lambda _s: publisher)
    with TestClient(app) as test_client:
        yield test_client


def test_post_one_event(client, parts):
    answer = client.post("/events", json=state_event())
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1
    writer, publisher = parts
    assert [c.entity_id for c in writer.changes] == ["sensor.kitchen_temperature"]
    assert len(publisher.messages) == 1


def test_post_batch_with_a_bad_event(client):
    answer = client.post("/events", json=[state_event(), {"event_type": "other"}])
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1 and answer.json()["rejected"] == 1


def test_only_bad_events_is_422(client):
    assert client.post("/events", json=[{"event_type": "other"}]).status_code == 422


def test_websocket_ingests_and_acks(client, parts):
    with client.websocket_connect("/ws") as socket:
        socket.send_json(state_event("light.hall", state="on"))
        assert socket.receive_json()["accepted"] == 1
        socket.send_json([state_event("light.hall", state="off"), state_event("light.porch", state="on")])
        assert socket.receive_json()["accepted"] == 2
    assert len(parts[0].changes) == 3


def test_recent_and_stats(client):
    client.post("/events", json=state_event("light.hall", state="on"))
    assert client.get("/events/recent", params={"entity_id": "light.hall"}).json() == [
        {"entity_id": "light.hall", "state": "on"}]
    assert client.get("/stats").json()["published"] == 1


def test_health_ok(client):
    answer = client.get("/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_health_503_without_broker():
    app = create_app(SETTINGS, writer_factory=FakeWriter, publisher_factory=lambda _s: FakePublisher(up=False))
    with TestClient(app) as test_client:
        answer = test_client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["checks"]["mqtt"]["ok"] is False


def test_health_503_without_influx():
    app = create_app(SETTINGS, writer_factory=lambda _s: FakeWriter(reachable=False), publisher_factory=FakePublisher)
    with TestClient(app) as test_client:
        assert test_client.get("/health").status_code == 503
