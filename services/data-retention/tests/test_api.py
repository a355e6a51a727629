from fastapi.testclient import TestClient

from app.main import create_app
from fleet_common.config import Settings
from tests.conftest import FakeInflux

SETTINGS = Settings.from_env({"INFLUXDB_URL": "http://influx.invalid:8181", "INFLUXDB_BUCKET": "t",
                              "MQTT_HOST": "mqtt.invalid"})


def make_client(influx: FakeInflux) -> TestClient:
    return TestClient(create_app(SETTINGS, influx_factory=lambda _s: influx, start_listener=False))


def test_health_is_503_until_dependencies_are_up():
    influx = FakeInflux(reachable=False)
    with make_client(influx) as client:
        answer = client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
    assert answer.json()["checks"]["influxdb"]["ok"] is False


def test_health_needs_mqtt_too():
    with make_client(FakeInflux()) as client:
        answer = client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["checks"]["mqtt"]["ok"] is False


def test_health_ok_when_both_up():
    with make_client(FakeInflux()) as client:
        client.app.state.listener.connected = True
        answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_readings_are_written_as_raw_points():
    influx = FakeInflux()
    with make_client(influx) as client:
        answer = client.post("/readings", json=[{"sensor": "a", "value": 1}, {"sensor": "b", "value": 2.5}])
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 2}
    assert [p.to_line_protocol() for p in influx.written] == ["sensor_readings,sensor=a value=1",
                                                             "sensor_readings,sensor=b value=2.5"]


def test_empty_import_is_rejected():
    with make_client(FakeInflux()) as client:
        assert client.post("/readings", json=[]).status_code == 422


def test_run_rejects_out_of_range_hours():
    with make_client(FakeInflux()) as client:
        assert client.post("/run?hours=0").status_code == 422


def test_influx_client_closed_on_shutdown():
    influx = FakeInflux()
    with make_client(influx):
        pass
    assert influx.closed
