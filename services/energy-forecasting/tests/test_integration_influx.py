"""Against the InfluxDB named by INFLUXDB_URL. `flux` tests read through Flux (query_data_frame) and
fail against InfluxDB 3 until the service is migrated."""

from datetime import datetime, timedelta, timezone

import pytest

from app.forecast import naive_forecast
from app.main import run_forecast
from app.store import EnergyStore
from tests.conftest import history

pytestmark = pytest.mark.influx


@pytest.fixture
def store(live_settings):
    s = EnergyStore(live_settings)
    yield s
    s.close()


def readings(circuit, hours_back, per_hour=4, wh=25.0):
    top = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    rows = []
    for h in range(1, hours_back + 1):
        for q in range(per_hour):
            rows.append({"circuit": circuit, "energy_wh": wh, "time": top - timedelta(hours=h) + timedelta(minutes=15 * q)})
    return rows


def test_ping(store):
    assert store.ping()


def test_readings_are_written(store, circuit):
    assert store.add_readings(readings(circuit, 2)) == 8


def test_forecast_dataframe_is_written(store, circuit):
    frame = history(circuits=(circuit,), days=1, end=datetime.now(timezone.utc))
    assert store.write_forecast(naive_forecast(frame)) == 24


@pytest.mark.flux
def test_hourly_sums_per_circuit(store, circuit):
    store.add_readings(readings(circuit, 3, per_hour=4, wh=25.0))

    frame = store.hourly_consumption(days=1)
    mine = frame[frame["circuit"].astype(str) == circuit]

    assert len(mine) == 3
    assert list(mine["energy_wh"]) == pytest.approx([100.0, 100.0, 100.0])


@pytest.mark.flux
def test_forecast_end_to_end(store, circuit):
    store.add_readings(readings(circuit, 6, per_hour=2, wh=50.0))

    result = run_forecast(store, days=1)

    assert result["daily_totals_wh"][circuit] == pytest.approx(24 * 100.0)
