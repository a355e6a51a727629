from datetime import datetime, timezone

import pytest

from app.provider import CLIMATE, LocalWeatherProvider, UnknownCity
from app.storage import to_point

NOON = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.asyncio
async def test_readings_are_deterministic():
    provider = LocalWeatherProvider()
    assert await provider.current("berlin", NOON) == await provider.current("Berlin", NOON)
    assert provider.calls == 2


@pytest.mark.asyncio
async def test_readings_stay_near_the_climate():
    provider = LocalWeatherProvider()
    for city, (mean, swing, _humidity) in CLIMATE.items():
        reading = await provider.current(city, NOON)
        assert mean - swing - 1 <= reading.temperature <= mean + swing + 1
        assert reading.condition in {"clear", "cloudy", "rain"}


@pytest.mark.asyncio
async def test_unknown_city():
    with pytest.raises(UnknownCity):
        await LocalWeatherProvider().current("atlantis")


@pytest.mark.asyncio
async def test_concurrent_calls_respect_latency():
    import asyncio
    provider = LocalWeatherProvider(latency=0.05)
    readings = await asyncio.gather(*(provider.current(c, NOON) for c in provider.cities()))
    assert [r.city for r in readings] == provider.cities()


@pytest.mark.asyncio
async def test_point_has_city_tag_and_numeric_fields():
    reading = await LocalWeatherProvider().current("oslo", NOON)
    line = to_point(reading).to_line_protocol()
    assert line.startswith("weather,city=oslo ")
    assert f"temperature={reading.temperature}" in line or f"temperature={int(reading.temperature)}" in line
    assert f'condition="{reading.condition}"' in line
    assert line.endswith(str(int(NOON.timestamp())))
