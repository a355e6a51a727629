"""A naive seasonal forecast: each hour of tomorrow is the mean of the same hour on past days."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

HORIZON_HOURS = 24


def next_hours(now: datetime, hours: int = HORIZON_HOURS) -> pd.DatetimeIndex:
    start = pd.Timestamp(now).tz_convert("UTC").floor("h") + pd.Timedelta(hours=1)
    return pd.date_range(start, periods=hours, freq="h", tz="UTC")


def naive_forecast(hourly: pd.DataFrame, now: datetime | None = None,
                   hours: int = HORIZON_HOURS) -> pd.DataFrame:
    """`hourly` has columns time (UTC), circuit, energy_wh. Returns time, circuit, forecast_wh.

    Per circuit: mean of the same hour of day over the history; hours never seen use the
    circuit's overall hourly mean.
    """
    now = now or datetime.now(timezone.utc)
    if hourly.empty:
        return pd.DataFrame(columns=["time", "circuit", "forecast_wh"])
    frame = hourly.copy()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["hour"] = frame["time"].dt.hour
    targets = next_hours(now, hours)
    parts = []
    for circuit, group in frame.groupby("circuit"):
        by_hour = group.groupby("hour")["energy_wh"].mean()
        overall = group["energy_wh"].mean()
        values = [float(by_hour.get(ts.hour, overall)) for ts in targets]
        parts.append(pd.DataFrame({"time": targets, "circuit": str(circuit), "forecast_wh": values}))
    return pd.concat(parts, ignore_index=True)


def daily_totals(forecast: pd.DataFrame) -> dict[str, float]:
    if forecast.empty:
        return {}
    return {str(k): round(float(v), 3) for k, v in forecast.groupby("circuit")["forecast_wh"].sum().items()}


def horizon_end(now: datetime, hours: int = HORIZON_HOURS) -> datetime:
    return now + timedelta(hours=hours)
