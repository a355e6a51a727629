"""Weather providers. The fleet runs the deterministic local provider; a real one plugs in here."""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol


class UnknownCity(LookupError):
    pass


@dataclass(frozen=True)
class Reading:
    city: str
    time: datetime
    temperature: float
    humidity: float
    wind_speed: float
    condition: str


class WeatherProvider(Protocol):
    async def current(self, city: str, at: datetime | None = None) -> Reading: ...


CLIMATE = {  # city: (mean temperature °C, daily swing, mean humidity %)
    "berlin": (10.0, 6.0, 72.0),
    "oslo": (6.0, 5.0, 78.0),
    "madrid": (16.0, 9.0, 55.0),
    "lisbon": (18.0, 5.0, 70.0),
}


class LocalWeatherProvider:
    """Deterministic readings from a per-city climate model (no network, same input → same output)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls = 0

    @staticmethod
    def cities() -> list[str]:
        return sorted(CLIMATE)

    async def current(self, city: str, at: datetime | None = None) -> Reading:
        city = city.lower()
        if city not in CLIMATE:
            raise UnknownCity(city)
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        at = (at or datetime.now(timezone.utc)).replace(microsecond=0)
        mean, swing, humidity = CLIMATE[city]
        hour = at.hour + at.minute / 60
        daily = math.sin((hour - 9) / 24 * 2 * math.pi)
        noise = int(hashlib.sha256(f"{city}{at:%Y%m%d%H}".encode()).hexdigest()[:4], 16) / 0xFFFF - 0.5
        temperature = round(mean + swing * daily + noise, 2)
        wind = round(3 + 4 * abs(noise) * 2, 2)
        condition = "rain" if noise > 0.3 else "cloudy" if noise > 0 else "clear"
        return Reading(city, at, temperature, round(humidity - 10 * daily, 1), wind, condition)
