import pytest
from tenacity import RetryError, stop_after_attempt

from app.downstream import Downstream, DownstreamRejected
from tests.conftest import ScriptedHA, downstream_for


def test_first_try():
    ha = ScriptedHA(200)
    downstream = downstream_for(ha)
    assert downstream.trigger("lights", {"x": 1}) == {"status": 200}
    assert downstream.attempts_of_last_call() == 1
    assert ha.requests[0].url.path == "/api/services/automation/trigger"


def test_server_errors_are_retried():
    ha = ScriptedHA(503, 502, 200)
    downstream = downstream_for(ha)
    assert downstream.trigger("lights", {}) == {"status": 200}
    assert len(ha.requests) == 3
    assert downstream.attempts_of_last_call() == 3


def test_connection_errors_are_retried():
    ha = ScriptedHA("connect-error", 200)
    assert downstream_for(ha).trigger("lights", {}) == {"status": 200}
    assert len(ha.requests) == 2


def test_gives_up_after_three_attempts():
    ha = ScriptedHA(503)
    with pytest.raises(RetryError) as info:
        downstream_for(ha).trigger("lights", {})
    assert info.value.last_attempt.attempt_number == 3
    assert "HTTP 503" in str(info.value.last_attempt.exception())


def test_client_errors_are_not_retried():
    ha = ScriptedHA(400)
    with pytest.raises(DownstreamRejected) as info:
        downstream_for(ha).trigger("lights", {})
    assert info.value.status == 400
    assert len(ha.requests) == 1


def test_retry_with_fewer_attempts():
    ha = ScriptedHA(503)
    downstream = downstream_for(ha)
    once = Downstream.trigger.retry_with(stop=stop_after_attempt(1))
    with pytest.raises(RetryError):
        once(downstream, "lights", {})
    assert len(ha.requests) == 1
