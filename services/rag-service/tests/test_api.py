from fastapi.testclient import TestClient

from app.main import create_app


def test_health_ok_with_seeded_index():
    with TestClient(create_app()) as client:
        assert client.get("/health").json()["status"] == "ok"


def test_health_503_with_empty_index():
    with TestClient(create_app(seed=False)) as client:
        assert client.get("/health").status_code == 503


def test_search():
    with TestClient(create_app()) as client:
        body = client.post("/search", json={"query": "weather provider stale", "k": 1}).json()
    assert [h["doc_id"] for h in body["hits"]] == ["rb-weather-stale"]


def test_add_document_then_search():
    with TestClient(create_app()) as client:
        assert client.post("/documents", json={"doc_id": "rb-new", "text": "solar inverter offline"}).status_code == 202
        hits = client.post("/search", json={"query": "solar inverter"}).json()["hits"]
    assert hits[0]["doc_id"] == "rb-new"


def test_validation():
    with TestClient(create_app()) as client:
        assert client.post("/search", json={"query": ""}).status_code == 422
