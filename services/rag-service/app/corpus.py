"""The documents the index starts with: short runbook entries of the home platform."""

RUNBOOKS = [
    ("rb-influx-disk", "InfluxDB disk almost full: check the retention period of the database, "
     "downsample raw sensor data into hourly means and drop old raw points."),
    ("rb-mqtt-down", "MQTT broker unreachable: restart mosquitto, check the listener on port 1883 "
     "and that anonymous access is allowed on the internal network."),
    ("rb-ha-token", "Home Assistant rejects calls with 401: rotate the long-lived access token and "
     "update the automation edge secret."),
    ("rb-forecast-gap", "Energy forecast has gaps: make sure the smart meter readings arrive every "
     "fifteen minutes and rerun the forecast for the last seven days."),
    ("rb-weather-stale", "Weather data stale: the provider answers slowly, collection runs every ten "
     "minutes; trigger a manual collect and check the provider latency."),
    ("rb-ws-backlog", "Websocket ingestion backlog: batches are written every second; a growing "
     "number of failed batches means InfluxDB rejects writes, read the error callback log."),
]
