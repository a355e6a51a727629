import pytest
from unittest.mock import MagicMock


@pytest.fixture
def client():
    """Named like the fixtures of other services on purpose: monorepos reuse fixture names."""
    fake = MagicMock()
    fake.query_api.return_value.query.return_value = []  # site: sol-m01
    return fake


@pytest.fixture
async def session():
    yield {"inverter": "inv-1"}
