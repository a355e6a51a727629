import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from fleet_common.config import Settings
from tests.conftest import FakeStore

SETTINGS = Settings.from_env({"INFLUXDB_URL": "http://influx.invalid:8181"})


def client_for(store):
    return TestClient(create_app(SETTINGS, store_factory=lambda _s: store, collect_every=None))


def test_health_ok_with_storage():
    with client_for(FakeStore()) as client:
        answer = client.get("/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_health_degraded_when_influx_unreachable():
    with client_for(FakeStore(reachable=False)) as client:
        answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    assert answer.json()["checks"]["influxdb"]["ok"] is False


def test_health_degraded_without_storage():
    with client_for(None) as client:
        body = client.get("/health").json()
    assert body["status"] == "degraded" and body["checks"]["influxdb"]["detail"] == "storage disabled"


def test_current_is_live():
    with client_for(None) as client:
        answer = client.get("/weather/madrid/current")
    assert answer.status_code == 200 and answer.json()["city"] == "madrid"


def test_current_unknown_city_is_404():
    with client_for(None) as client:
        assert client.get("/weather/atlantis/current").status_code == 404


def test_collect_stores_every_city():
    store = FakeStore()
    with client_for(store) as client:
        answer = client.post("/collect")
    assert answer.json()["stored"] == 4
    assert sorted(r.city for r in store.readings) == ["berlin", "lisbon", "madrid", "oslo"]


def test_latest_after_collect():
    with client_for(FakeStore()) as client:
        assert client.get("/weather/oslo/latest").status_code == 404
        client.post("/collect")
        assert client.get("/weather/Oslo/latest").json()["city"] == "oslo"


@pytest.mark.parametrize("path", ["/weather/oslo/latest", "/weather/oslo/daily"])
def test_stored_endpoints_need_storage(path):
    with client_for(None) as client:
        assert client.get(path).status_code == 503


def test_background_collection_runs_at_start():
    store = FakeStore()
    with TestClient(create_app(SETTINGS, store_factory=lambda _s: store, collect_every=3600)) as client:
        for _ in range(50):
            if store.readings:
                break
            client.get("/health")
    assert len(store.readings) == 4
