"""Bulk ingestion from the gateway: line protocol, dict records and DataFrames."""
import pandas as pd
from influxdb_client import WriteOptions

from app.db import client, BUCKET, ORG, write_api


def write_lines(lines: list[str]) -> int:
    write_api.write(bucket=BUCKET, org=ORG, record=lines)  # site: iot-w03
    return len(lines)


def write_dicts(rows: list[dict]) -> None:
    records = [
        {"measurement": "sensor", "tags": {"device_id": r["id"]}, "fields": {"temperature": r["t"]}, "time": r["ts"]}
        for r in rows
    ]
    write_api.write(BUCKET, ORG, records)  # site: iot-w04


def write_frame(df: pd.DataFrame) -> None:
    with client.write_api(write_options=WriteOptions(batch_size=5_000, flush_interval=10_000)) as batch:  # site: iot-w05
        batch.write(  # site: iot-w06
            bucket=BUCKET,
            record=df,
            data_frame_measurement_name="sensor",
            data_frame_tag_columns=["device_id", "room"],
        )
        batch.flush()


def export_csv(df: pd.DataFrame, path: str) -> None:
    with open(path, "w") as fh:
        fh.write(df.to_csv(index=False))  # site: iot-d01
