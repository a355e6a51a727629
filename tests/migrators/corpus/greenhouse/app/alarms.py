"""Alarm log, written by a module-level client built at import."""

from influxdb_client import InfluxDBClient

alarm_client = InfluxDBClient(url="http://influxdb:8086", token="alarms-token", org="farm")  # site: gh-c04
ALARM_BUCKET = "greenhouse_alarms"


def raise_alarm(bay: str, level: int) -> None:
    line = f"alarm,bay={bay} level={level}i"
    alarm_client.write_api().write(bucket=ALARM_BUCKET, record=line)  # site: gh-w02
