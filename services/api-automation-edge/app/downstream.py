"""The downstream automation API (Home Assistant's REST API), called with retries."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import before_sleep_log, retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from app.config import DOWNSTREAM_URL

log = logging.getLogger(__name__)


class DownstreamUnavailable(Exception):
    """5xx or no answer: worth retrying."""


class DownstreamRejected(Exception):
    """4xx: the request itself is wrong; never retried."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"downstream rejected the call: HTTP {status} {body[:200]}")
        self.status = status


class Downstream:
    def __init__(self, base_url: str = DOWNSTREAM_URL, transport: httpx.BaseTransport | None = None,
                 timeout: float = 3.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    @retry(
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        retry=retry_if_exception_type((DownstreamUnavailable, httpx.TransportError)),
        before_sleep=before_sleep_log(log, logging.WARNING),
    )
    def trigger(self, automation_id: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post("/api/services/automation/trigger",
                                json={"entity_id": f"automation.{automation_id}", "variables": variables})
        if answer.status_code >= 500:
            raise DownstreamUnavailable(f"HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise DownstreamRejected(answer.status_code, answer.text)
        return answer.json() if answer.content else {}

    def attempts_of_last_call(self) -> int:
        return int(self.trigger.retry.statistics.get("attempt_number", 0))

    def close(self) -> None:
        self.http.close()
