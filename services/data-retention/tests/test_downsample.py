from datetime import datetime, timedelta, timezone

import pytest

from app.constants import HOURLY_MEASUREMENT, RAW_MEASUREMENT
from app.downsample import HourlyMean, build_hourly_points, raw_points
from app.expiry import EPOCH, expiry_window
from app.job import CommandError, RetentionJob, parse_command


def test_hourly_points_carry_sensor_mean_and_window_end():
    end = datetime(2024, 3, 1, 13, 0, tzinfo=timezone.utc)
    points = build_hourly_points([HourlyMean("kitchen", end, 21.5)])
    assert len(points) == 1
    line = points[0].to_line_protocol()
    assert line.startswith(f"{HOURLY_MEASUREMENT},sensor=kitchen mean=21.5 ")
    assert line.endswith(str(int(end.timestamp())))


def test_hourly_points_skip_empty_windows():
    end = datetime(2024, 3, 1, 13, 0, tzinfo=timezone.utc)
    assert build_hourly_points([HourlyMean("a", end, None), HourlyMean("b", end, 1.0)])[0].to_line_protocol() \
        .startswith(f"{HOURLY_MEASUREMENT},sensor=b ")


def test_naive_times_are_taken_as_utc():
    naive = datetime(2024, 3, 1, 13, 0)
    line = build_hourly_points([HourlyMean("a", naive, 2.0)])[0].to_line_protocol()
    assert line.endswith(str(int(naive.replace(tzinfo=timezone.utc).timestamp())))


def test_raw_points_parse_iso_times():
    points = raw_points([{"sensor": "hall", "value": 3, "time": "2024-03-01T12:30:00Z"}])
    assert points[0].to_line_protocol() == f"{RAW_MEASUREMENT},sensor=hall value=3 1709296200"


def test_raw_points_without_time_leave_it_to_the_server():
    assert raw_points([{"sensor": "hall", "value": 1.5}])[0].to_line_protocol() == \
        f"{RAW_MEASUREMENT},sensor=hall value=1.5"


@pytest.mark.parametrize("payload, hours", [(b"", 24), (None, 24), (b'{"hours": 6}', 6)])
def test_parse_command(payload, hours):
    assert parse_command(payload)["hours"] == hours


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'{"hours": 0}', b'{"hours": "6"}', b'{"hours": 10000}'])
def test_parse_command_rejects(payload):
    with pytest.raises(CommandError):
        parse_command(payload)


def test_expiry_window_ends_retention_days_ago():
    now = datetime(2024, 3, 31, tzinfo=timezone.utc)
    window = expiry_window(now, retention_days=30)
    assert window.start == EPOCH
    assert window.stop == now - timedelta(days=30)
    assert window.predicate == f'_measurement="{RAW_MEASUREMENT}"'


def test_failed_run_is_reported_not_raised(fake_influx):
    job = RetentionJob(fake_influx)  # the fake has no query_api: the downsampler fails

    result = job.run(hours=2)

    assert result["status"] == "failed"
    assert "AttributeError" in result["error"]
    assert job.last_result is result
