"""The `system` schema every database shows (`SHOW TABLES`, `SELECT * FROM system.queries`).

Real source (influxdata/influxdb): `influxdb3_server/src/system_tables/` (`queries.rs`,
`last_caches.rs`, `distinct_caches.rs`, `parquet_files.rs`). The stand-in persists nothing, so
`system.parquet_files` is always empty, as on a real server before its first snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from influxdb3_lite.query import Executor
    from influxdb3_lite.store import Database

TS = pa.timestamp("ns")


def system_tables(executor: Executor, db: Database) -> dict[str, pa.Table]:
    return {
        "queries": _queries(executor),
        "last_caches": _last_caches(executor, db.name),
        "distinct_caches": _distinct_caches(executor, db.name),
        "parquet_files": pa.table(
            {
                "table_name": pa.array([], pa.string()),
                "path": pa.array([], pa.string()),
                "size_bytes": pa.array([], pa.uint64()),
                "row_count": pa.array([], pa.uint64()),
                "min_time": pa.array([], pa.int64()),
                "max_time": pa.array([], pa.int64()),
            }
        ),
    }


def _queries(executor: Executor) -> pa.Table:
    log = list(executor.query_log)
    return pa.table(
        {
            "id": pa.array([e.id for e in log], pa.string()),
            "phase": pa.array([e.phase for e in log], pa.string()),
            "issue_time": pa.array([e.issue_time for e in log], TS),
            "query_type": pa.array([e.query_type for e in log], pa.string()),
            "query_text": pa.array([e.query_text for e in log], pa.string()),
            "partitions": pa.array([0 for _ in log], pa.int64()),
            "parquet_files": pa.array([0 for _ in log], pa.int64()),
            "plan_duration": pa.array([e.plan_duration for e in log], pa.duration("ns")),
            "permit_duration": pa.array([None for _ in log], pa.duration("ns")),
            "execute_duration": pa.array([e.execute_duration for e in log], pa.duration("ns")),
            "end2end_duration": pa.array([e.execute_duration for e in log], pa.duration("ns")),
            "compute_duration": pa.array([None for _ in log], pa.duration("ns")),
            "max_memory": pa.array([0 for _ in log], pa.int64()),
            "success": pa.array([e.success for e in log], pa.bool_()),
            "running": pa.array([e.running for e in log], pa.bool_()),
            "cancelled": pa.array([e.cancelled for e in log], pa.bool_()),
            "trace_id": pa.array([None for _ in log], pa.string()),
        }
    )


def _last_caches(executor: Executor, db: str) -> pa.Table:
    caches = [c for (d, _, _), c in sorted(executor.caches.last.items()) if d == db]
    return pa.table(
        {
            "table": pa.array([c.table for c in caches], pa.string()),
            "name": pa.array([c.name for c in caches], pa.string()),
            "key_column_names": pa.array([c.key_columns for c in caches], pa.list_(pa.string())),
            "value_column_names": pa.array([c.value_columns for c in caches], pa.list_(pa.string())),
            "count": pa.array([c.count for c in caches], pa.uint64()),
            "ttl": pa.array([c.ttl for c in caches], pa.uint64()),
        }
    )


def _distinct_caches(executor: Executor, db: str) -> pa.Table:
    caches = [c for (d, _, _), c in sorted(executor.caches.distinct.items()) if d == db]
    return pa.table(
        {
            "table": pa.array([c.table for c in caches], pa.string()),
            "name": pa.array([c.name for c in caches], pa.string()),
            "column_names": pa.array([c.columns for c in caches], pa.list_(pa.string())),
            "max_cardinality": pa.array([c.max_cardinality for c in caches], pa.uint64()),
            "max_age_seconds": pa.array([c.max_age for c in caches], pa.uint64()),
        }
    )
