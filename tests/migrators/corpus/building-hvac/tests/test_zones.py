from unittest.mock import MagicMock, patch

from app.templates import CO2_OVER, zone_temps
from app.zones import ZoneService


def make_record(values):
    record = MagicMock()
    record.values = values
    record.__getitem__.side_effect = values.__getitem__
    return record


def test_temperatures_reads_pivoted_rows():
    query_api = MagicMock()
    table = MagicMock(records=[make_record({"zone": "z1", "temp_c": 21.5, "setpoint_c": 21.0})])  # site: hvac-m01
    query_api.query.return_value = [table]  # site: hvac-m02
    svc = ZoneService(query_api, org="o", bucket="b")
    assert svc.temperatures("hq") == [{"zone": "z1", "temp": 21.5, "setpoint": 21.0}]
    flux = query_api.query.call_args.args[0]
    assert 'r.building == "hq"' in flux  # site: hvac-a01
    assert query_api.query.call_args.kwargs["org"] == "o"  # site: hvac-m03


def test_template_window():
    assert "range(start: -6h)" in zone_temps("b", "hq")  # site: hvac-a02
    assert "|> max()" in CO2_OVER  # site: hvac-a03


@patch("app.deps.InfluxDBClient")  # site: hvac-m04
def test_get_client_uses_env(client_cls, monkeypatch):
    from app import deps

    monkeypatch.setenv("INFLUXDB_URL", "http://x")
    monkeypatch.setenv("INFLUXDB_TOKEN", "t")
    deps.get_client.cache_clear()
    deps.get_client()
    client_cls.assert_called_once()
