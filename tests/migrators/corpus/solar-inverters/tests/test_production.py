from unittest.mock import patch

import pytest

from app import production


async def test_power_series_uses_the_executor(client, session):
    with patch("app.production.InfluxDBClient") as cls:  # site: sol-m02
        cls.return_value.__enter__.return_value = client
        rows = await production.power_series(session["inverter"], production.datetime(2024, 1, 1), production.datetime(2024, 1, 2))
    assert rows == []
    sent = client.query_api.return_value.query.call_args.args[0]  # site: sol-m03
    assert 'r["_field"] == "ac_power_w"' in sent  # site: sol-a01


@pytest.mark.asyncio
async def test_fault_counts(session):
    with patch.object(production.helper, "query", return_value=[{"inverter": "inv-1", "_value": 2}]):
        assert production.fault_counts() == {"inv-1": 2}
