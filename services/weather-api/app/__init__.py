"""weather-api: stores provider readings in InfluxDB, serves latest values and daily aggregates."""
