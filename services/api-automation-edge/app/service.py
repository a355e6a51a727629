"""Trigger an automation downstream and record how it went."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tenacity import RetryError

from app.downstream import Downstream, DownstreamRejected
from app.metrics import call_point


@dataclass
class CallResult:
    automation_id: str
    outcome: str          # ok | rejected | unavailable
    attempts: int
    duration_ms: float
    detail: Any = None
    recorded: bool = False


class EdgeService:
    def __init__(self, downstream: Downstream, metrics: Any) -> None:
        self.downstream = downstream
        self.metrics = metrics

    def trigger(self, automation_id: str, variables: dict[str, Any]) -> CallResult:
        started = time.monotonic()
        try:
            detail = self.downstream.trigger(automation_id, variables)
            outcome, attempts = "ok", self.downstream.attempts_of_last_call()
        except RetryError as exc:
            outcome, attempts = "unavailable", exc.last_attempt.attempt_number
            detail = str(exc.last_attempt.exception())
        except DownstreamRejected as exc:
            outcome, attempts, detail = "rejected", self.downstream.attempts_of_last_call(), str(exc)
        result = CallResult(automation_id, outcome, attempts, round((time.monotonic() - started) * 1000, 2), detail)
        result.recorded = self.metrics.record(call_point(automation_id, outcome, attempts, result.duration_ms))
        return result
