import os

INFLUX_URL = os.environ.get("INFLUX_URL", "http://localhost:8086")
INFLUX_TOKEN = os.environ.get("INFLUX_TOKEN", "dev-token")
INFLUX_ORG = os.environ.get("INFLUX_ORG", "iot")
INFLUX_BUCKET = os.environ.get("INFLUX_BUCKET", "telemetry")
