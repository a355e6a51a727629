from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import build_corpus


def as_json(events):
    return [{"time": e.time.isoformat(), "entity_id": e.entity_id, "state": e.state} for e in events]


def test_health():
    with TestClient(create_app()) as client:
        assert client.get("/health").json()["status"] == "ok"


def test_mine_and_fetch():
    with TestClient(create_app()) as client:
        answer = client.post("/mine", json={"source": "house", "events": as_json(build_corpus())})
        assert answer.status_code == 200
        assert any(p["action"] == "switch.coffee_maker=on" for p in answer.json()["patterns"])
        stored = client.get("/patterns/house").json()
        assert stored["events"] == answer.json()["events"]


def test_unknown_source_is_404():
    with TestClient(create_app()) as client:
        assert client.get("/patterns/nowhere").status_code == 404


def test_bad_events_are_422():
    with TestClient(create_app()) as client:
        assert client.post("/mine", json={"events": [{"entity_id": "x"}]}).status_code == 422
        assert client.post("/mine", json={"events": []}).status_code == 422
