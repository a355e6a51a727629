"""websocket-ingestion: Home Assistant state changes in, InfluxDB points and MQTT events out."""
