from datetime import datetime, timezone

import pandas as pd
import pytest

from app.forecast import daily_totals, naive_forecast, next_hours
from app.store import reading_points
from tests.conftest import history

NOW = datetime(2024, 1, 10, 6, 30, tzinfo=timezone.utc)


def test_next_hours_start_at_the_next_full_hour():
    hours = next_hours(NOW, 3)
    assert [ts.hour for ts in hours] == [7, 8, 9]
    assert str(hours.tz) == "UTC"


def test_forecast_has_24_hours_per_circuit():
    forecast = naive_forecast(history(), now=NOW)
    assert len(forecast) == 48
    assert set(forecast["circuit"]) == {"kitchen", "heat_pump"}


def test_forecast_is_the_mean_of_the_same_hour():
    forecast = naive_forecast(history(days=3), now=NOW)
    kitchen_7 = forecast[(forecast["circuit"] == "kitchen") & (forecast["time"].dt.hour == 7)]
    # history: 100 + hour + day for days 0, 1, 2
    assert kitchen_7["forecast_wh"].iloc[0] == pytest.approx(100 + 7 + 1)


def test_unseen_hours_use_the_overall_mean():
    frame = pd.DataFrame({"time": [pd.Timestamp("2024-01-09T03:00Z"), pd.Timestamp("2024-01-09T04:00Z")],
                          "circuit": ["a", "a"], "energy_wh": [10.0, 30.0]})
    forecast = naive_forecast(frame, now=NOW)
    assert forecast.loc[forecast["time"].dt.hour == 12, "forecast_wh"].iloc[0] == pytest.approx(20.0)


def test_empty_history_gives_empty_forecast():
    empty = pd.DataFrame(columns=["time", "circuit", "energy_wh"])
    assert naive_forecast(empty, now=NOW).empty
    assert daily_totals(naive_forecast(empty, now=NOW)) == {}


def test_daily_totals():
    forecast = naive_forecast(history(circuits=("a",), days=1), now=NOW)
    assert daily_totals(forecast) == {"a": pytest.approx(sum(100.0 + h for h in range(24)))}


def test_reading_points():
    points = reading_points([{"circuit": "oven", "energy_wh": 250, "time": "2024-01-01T10:00:00Z"}])
    assert points[0].to_line_protocol() == "power,circuit=oven energy_wh=250 1704103200"
