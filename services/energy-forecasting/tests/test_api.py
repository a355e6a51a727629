from fastapi.testclient import TestClient

from app.main import create_app
from fleet_common.config import Settings
from tests.conftest import FakeStore

SETTINGS = Settings.from_env({"INFLUXDB_URL": "http://influx.invalid:8181"})


def client_for(store):
    return TestClient(create_app(SETTINGS, store_factory=lambda _s: store))


def test_health_503_until_influx_answers():
    with client_for(FakeStore(reachable=False)) as client:
        answer = client.get("/health")
    assert answer.status_code == 503 and answer.json()["status"] == "unavailable"


def test_health_ok():
    with client_for(FakeStore()) as client:
        assert client.get("/health").json()["status"] == "ok"


def test_readings_accepted_with_utc_default():
    store = FakeStore()
    with client_for(store) as client:
        answer = client.post("/readings", json=[{"circuit": "oven", "energy_wh": 12, "time": "2024-01-01T10:00:00"}])
    assert answer.status_code == 202 and answer.json() == {"accepted": 1}
    assert store.readings[0]["time"].tzinfo is not None


def test_forecast_is_written_back():
    store = FakeStore()
    with client_for(store) as client:
        body = client.post("/forecast?days=3").json()
    assert body["forecast_points"] == 48
    assert set(body["daily_totals_wh"]) == {"kitchen", "heat_pump"}
    assert len(store.forecasts) == 1


def test_forecast_failure_is_502():
    store = FakeStore()
    store.hourly_consumption = lambda days: (_ for _ in ()).throw(RuntimeError("flux"))
    with client_for(store) as client:
        assert client.post("/forecast").status_code == 502


def test_store_closed_on_shutdown():
    store = FakeStore()
    with client_for(store):
        pass
    assert store.closed
