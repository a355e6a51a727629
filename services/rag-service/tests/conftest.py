import pytest
from tenacity import wait_none

from app.corpus import RUNBOOKS
from app.index import Document, TfidfIndex
from app.retriever import Retriever


@pytest.fixture(autouse=True)
def fast_retries():
    """Retry without sleeping; tenacity reads the patched wait on every call."""
    original = Retriever.search.retry.wait
    Retriever.search.retry.wait = wait_none()
    yield
    Retriever.search.retry.wait = original


@pytest.fixture
def index():
    idx = TfidfIndex()
    idx.add([Document(doc_id, text) for doc_id, text in RUNBOOKS])
    return idx
