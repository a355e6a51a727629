"""energy-forecasting: hourly consumption per circuit from InfluxDB, a naive forecast written back."""
