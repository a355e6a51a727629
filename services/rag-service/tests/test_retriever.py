import pytest

from app.index import IndexBusy
from app.retriever import Retriever


class BusyFor:
    """An index that is busy for the first `n` searches."""

    def __init__(self, inner, n):
        self.inner, self.n, self.calls = inner, n, 0

    def search(self, query, k):
        self.calls += 1
        if self.calls <= self.n:
            raise IndexBusy("rebuilding")
        return self.inner.search(query, k)


def test_search_waits_out_a_rebuild(index):
    busy = BusyFor(index, 2)
    retriever = Retriever(busy)
    assert retriever.search("retention period")[0].doc_id == "rb-influx-disk"
    assert busy.calls == 3 and retriever.busy_retries == 2


def test_search_gives_up_with_the_original_error(index):
    retriever = Retriever(BusyFor(index, 10))
    with pytest.raises(IndexBusy):
        retriever.search("anything")
    assert retriever.busy_retries == 3


def test_context_respects_budget(index):
    context = Retriever(index).context_for("influxdb batches writes forecast", k=5, budget_chars=300)
    assert 0 < len(context) <= 300
    assert context.startswith("[")


def test_context_orders_best_first(index):
    context = Retriever(index).context_for("home assistant token 401")
    assert context.splitlines()[0].startswith("[rb-ha-token]")
