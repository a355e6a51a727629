"""Retrieval with retries: a search that hits a rebuild waits with jittered backoff and tries again."""

from __future__ import annotations

import logging

from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from app.index import Hit, IndexBusy, TfidfIndex

log = logging.getLogger(__name__)


class Retriever:
    def __init__(self, index: TfidfIndex) -> None:
        self.index = index
        self.busy_retries = 0

    def _count_retry(self, state: RetryCallState) -> None:
        self.busy_retries += 1
        log.info("index busy, attempt %s, sleeping %.2fs", state.attempt_number, state.next_action.sleep)

    @retry(
        wait=wait_random_exponential(multiplier=0.5, min=1, max=10),
        stop=stop_after_attempt(4),
        retry=retry_if_exception_type(IndexBusy),
        before_sleep=lambda state: state.args[0]._count_retry(state),
        reraise=True,
    )
    def search(self, query: str, k: int = 3) -> list[Hit]:
        return self.index.search(query, k)

    def context_for(self, question: str, k: int = 3, budget_chars: int = 1200) -> str:
        """The passages a prompt would carry, best first, within a character budget."""
        parts, used = [], 0
        for hit in self.search(question, k):
            passage = f"[{hit.doc_id}] {hit.text}"
            if used + len(passage) > budget_chars:
                break
            parts.append(passage)
            used += len(passage)
        return "\n".join(parts)
