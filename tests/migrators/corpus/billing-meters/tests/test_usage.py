from datetime import date
from unittest import mock

from app import usage
from app.queries import DAILY_USAGE


class Rec:
    def __init__(self, values):
        self.values = values


class Table:
    def __init__(self, rows):
        self.records = [Rec(v) for v in rows]  # site: bil-m01


@mock.patch("app.influx.InfluxDBClient")  # site: bil-m02
def test_daily_usage(client_cls):
    qapi = client_cls.return_value.query_api.return_value  # site: bil-m03
    qapi.query.return_value = [Table([{"_time": mock.MagicMock(), "_value": 3.5}])]
    import app.influx as influx

    influx._gateway = None
    rows = usage.daily_usage("m-1", date(2024, 1, 1), date(2024, 1, 2))
    assert rows[0]["kwh"] == 3.5
    sent = qapi.query.call_args.args[0]
    assert 'r.meter_id == "m-1"' in sent  # site: bil-a01
    assert "aggregateWindow(every: 1d, fn: sum" in DAILY_USAGE  # site: bil-a02


def test_gateway_writes_batches():
    with mock.patch("app.influx.InfluxDBClient") as client_cls:  # site: bil-m04
        from app.influx import InfluxGateway

        gw = InfluxGateway(url="http://x", token="t", org="o", bucket="b")
        gw.write_line("m,a=b v=1")
        client_cls.return_value.write_api.return_value.write.assert_called_once_with("b", "o", "m,a=b v=1")  # site: bil-m05
