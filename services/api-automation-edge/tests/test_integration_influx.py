"""Metrics against the InfluxDB named by INFLUXDB_URL. `flux` tests fail against InfluxDB 3 until
the service is migrated."""

import pytest

from app.metrics import MetricsRecorder, call_point
from app.service import EdgeService
from tests.conftest import ScriptedHA, downstream_for

pytestmark = pytest.mark.influx


@pytest.fixture
def metrics(live_config):
    recorder = MetricsRecorder(live_config)
    yield recorder
    recorder.close()


def test_ping(metrics):
    assert metrics.ping()


def test_call_metrics_are_written(metrics, automation_id):
    assert metrics.record(call_point(automation_id, "ok", 1, 3.5))
    assert metrics.dropped == 0


def test_failed_call_is_recorded_end_to_end(metrics, automation_id):
    result = EdgeService(downstream_for(ScriptedHA(503)), metrics).trigger(automation_id, {})
    assert result.outcome == "unavailable" and result.recorded


@pytest.mark.flux
def test_summary_counts_outcomes(metrics, automation_id):
    before = metrics.summary(hours=1)
    for outcome in ("ok", "ok", "rejected"):
        metrics.record(call_point(automation_id, outcome, 1, 1.0))
    after = metrics.summary(hours=1)
    assert after.get("ok", 0) - before.get("ok", 0) == 2
    assert after.get("rejected", 0) - before.get("rejected", 0) == 1
