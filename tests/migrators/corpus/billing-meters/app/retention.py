"""GDPR erasure and meter backfill, run from the admin CLI with the client injected."""
from datetime import datetime, timezone

import pandas as pd


def erase_customer(client, customer_id: str, bucket: str, org: str) -> None:
    delete_api = client.delete_api()  # site: bil-x01
    delete_api.delete(  # site: bil-x02
        start="1970-01-01T00:00:00Z",
        stop=datetime.now(timezone.utc),
        predicate=f'_measurement="meter_reading" AND customer="{customer_id}"',
        bucket=bucket,
        org=org,
    )


def backfill(gateway, frame: pd.DataFrame) -> None:
    frame = frame.set_index("time")
    gateway._write_api.write(  # site: bil-w04
        bucket=gateway.bucket,
        org=gateway.org,
        record=frame,
        data_frame_measurement_name="meter_reading",
        data_frame_tag_columns=["meter_id", "region"],
    )


class AuditLog:
    """Append-only audit trail in SQLite (not InfluxDB)."""

    def __init__(self, conn):
        self.conn = conn

    def query(self, sql: str, *params):
        return self.conn.execute(sql, params).fetchall()  # site: bil-d01

    def erasures(self, customer_id: str):
        return self.query("SELECT * FROM audit WHERE customer = ?", customer_id)  # site: bil-d02
