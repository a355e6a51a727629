import pytest

from app import alerts


@pytest.mark.asyncio
async def test_write_alert_uses_the_singleton(client, session, monkeypatch):
    monkeypatch.setattr(alerts, "client", client)
    alerts.write_alert(session["device_id"], "overheat", 2)
    kwargs = client.write_api.return_value.write.call_args.kwargs  # site: iot-m05
    assert kwargs["bucket"] and kwargs["org"]  # site: iot-m06
