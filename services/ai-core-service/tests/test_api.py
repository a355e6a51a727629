from fastapi.testclient import TestClient

from app.backends import FlakyBackend, LocalBackend
from app.main import create_app


def make(backend_factory=LocalBackend):
    return TestClient(create_app(backend_factory, backoff=0.001))


def test_health_ok():
    with make() as client:
        assert client.get("/health").json()["status"] == "ok"


def test_health_503_when_backend_down():
    with make(lambda: FlakyBackend(LocalBackend(), failures=100)) as client:
        answer = client.get("/health")
    assert answer.status_code == 503 and answer.json()["status"] == "unavailable"


def test_complete_and_stats():
    with make(lambda: FlakyBackend(LocalBackend(), failures=1)) as client:
        answer = client.post("/v1/complete", json={"prompt": "open the garage door", "max_tokens": 2})
        assert answer.status_code == 200 and answer.json()["attempts"] == 2
        assert client.get("/v1/stats").json()["completion"]["attempt_number"] == 2


def test_complete_503_after_retries():
    with make(lambda: FlakyBackend(LocalBackend(), failures=100)) as client:
        answer = client.post("/v1/complete", json={"prompt": "x"})
    assert answer.status_code == 503
    assert answer.json()["detail"]["attempts"] == 3


def test_embed_validation_and_shape():
    with make() as client:
        assert client.post("/v1/embed", json={"texts": []}).status_code == 422
        body = client.post("/v1/embed", json={"texts": ["a b", "c"]}).json()
    assert body["dimensions"] == 64 and len(body["vectors"]) == 2
