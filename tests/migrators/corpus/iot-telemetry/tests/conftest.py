import pytest
from unittest.mock import MagicMock


@pytest.fixture
def client():
    fake = MagicMock(name="InfluxDBClient")
    fake.write_api.return_value.write.return_value = None  # site: iot-m04
    return fake


@pytest.fixture
async def session():
    yield {"device_id": "d1"}
