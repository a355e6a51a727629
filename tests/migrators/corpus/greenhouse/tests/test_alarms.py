from unittest.mock import patch

from app import alarms


def test_raise_alarm_writes_one_line():
    with patch.object(alarms, "alarm_client") as client:
        alarms.raise_alarm("b1", 2)
    sent = client.write_api.return_value.write.call_args.kwargs  # site: gh-m01
    assert sent["record"] == "alarm,bay=b1 level=2i"
