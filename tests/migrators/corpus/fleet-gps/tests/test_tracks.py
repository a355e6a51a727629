from unittest.mock import MagicMock, patch

from app import tracks


def _record(values):
    rec = MagicMock()
    rec.values = values
    rec.__getitem__.side_effect = values.__getitem__
    rec.get_value.return_value = values.get("_value")
    return rec


def test_speeding_queries_the_speed_field():
    table = MagicMock()
    table.records = [_record({"vehicle_id": "v1", "_value": 130.0})]  # site: gps-m01
    with patch.object(tracks._store, "query", return_value=[table]) as q:
        assert tracks.speeding(120) == ["v1"]
    assert 'r._field == "speed"' in q.call_args.args[0]  # site: gps-a01


@patch("app.store.idbc")  # site: gps-m02
def test_store_query_passes_org(idbc):
    from app.store import PositionStore

    store = PositionStore()
    store.query("from(bucket: \"gps\") |> range(start: -1h)")  # site: gps-a02
    idbc.return_value.query_api.return_value.query.assert_called_once()  # site: gps-m03
