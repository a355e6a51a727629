"""Last-value and distinct-value cache definitions, and the SQL their table functions read.

Real source (influxdata/influxdb): `influxdb3_server/src/http.rs` (`configure_last_cache_create`,
`configure_distinct_cache_create` and their deletes: 201 + JSON on create, 200 on delete, delete
parameters from the query string or a JSON body), `influxdb3_cache/src/last_cache` and
`distinct_cache` (the `last_cache(table[, name])` and `distinct_cache(table[, name])` table
functions). The stand-in keeps no separate cache: the functions answer from the table itself (the
last `count` rows per key, or the distinct values of the columns), which is what a warm cache holds.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field


class CacheError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LastCache:
    table: str
    name: str
    key_columns: list[str]
    value_columns: list[str] | None
    count: int = 1
    ttl: int = 4 * 3600


@dataclass
class DistinctCache:
    table: str
    name: str
    columns: list[str]
    max_cardinality: int = 100_000
    max_age: int = 86_400


@dataclass
class CacheRegistry:
    last: dict[tuple[str, str, str], LastCache] = field(default_factory=dict)
    distinct: dict[tuple[str, str, str], DistinctCache] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create_last(self, db: str, columns: dict[str, str], request: dict) -> dict | None:
        """The new cache's definition; None if the same cache already exists (the real 204)."""
        table = str(request.get("table", ""))
        tags = sorted(c for c, k in columns.items() if k == "tag")
        keys = list(request.get("key_columns") or tags)
        values = request.get("value_columns")
        for column in keys + list(values or []):
            if column not in columns:
                raise CacheError(f"key column does not exist: {column}", 400)
        name = request.get("name") or f"{table}_{'_'.join(keys)}_last_cache"
        cache = LastCache(
            table, name, keys, values, int(request.get("count") or 1), int(request.get("ttl") or 14400)
        )
        return self._add(self.last, (db, table, name), cache)

    def create_distinct(self, db: str, columns: dict[str, str], request: dict) -> dict | None:
        table = str(request.get("table", ""))
        wanted = list(request.get("columns") or [])
        if not wanted:
            raise CacheError("distinct cache must have at least one column", 400)
        for column in wanted:
            if columns.get(column) not in ("tag", "string"):
                raise CacheError(f"distinct cache column '{column}' must be a tag or string field", 400)
        name = request.get("name") or f"{table}_{'_'.join(wanted)}_distinct_cache"
        cache = DistinctCache(
            table,
            name,
            wanted,
            int(request.get("max_cardinality") or 100_000),
            int(request.get("max_age") or 86_400),
        )
        return self._add(self.distinct, (db, table, name), cache)

    def _add(self, registry: dict, key: tuple[str, str, str], cache) -> dict | None:
        with self.lock:
            existing = registry.get(key)
            if existing == cache:
                return None
            if existing is not None:
                raise CacheError("attempted to create a resource that already exists", 409)
            registry[key] = cache
        return asdict(cache)

    def delete(self, kind: str, db: str, table: str, name: str) -> None:
        registry = self.last if kind == "last" else self.distinct
        with self.lock:
            if registry.pop((db, table, name), None) is None:
                raise CacheError("the requested resource could not be found", 404)

    def drop_database(self, db: str) -> None:
        with self.lock:
            for registry in (self.last, self.distinct):
                for key in [k for k in registry if k[0] == db]:
                    del registry[key]

    def find(self, kind: str, db: str, table: str, name: str | None):
        registry = self.last if kind == "last" else self.distinct
        matches = [
            c for (d, t, n), c in registry.items() if d == db and t == table and (name is None or n == name)
        ]
        return matches[0] if len(matches) == 1 else None


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def last_cache_sql(cache: LastCache, columns: dict[str, str]) -> str:
    keys = cache.key_columns
    values = cache.value_columns or sorted(c for c in columns if c not in keys and c != "time")
    values = [v for v in values if v != "time"]
    wanted = ", ".join(q(c) for c in [*keys, *values, "time"])
    partition = f"PARTITION BY {', '.join(q(k) for k in keys)} " if keys else ""
    inner = (
        f"SELECT {wanted}, row_number() OVER ({partition}ORDER BY time DESC) AS __rank FROM {q(cache.table)}"
    )
    return f"(SELECT {wanted} FROM ({inner}) WHERE __rank <= {cache.count})"


def distinct_cache_sql(cache: DistinctCache) -> str:
    wanted = ", ".join(q(c) for c in cache.columns)
    not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in cache.columns[:1])
    return f"(SELECT DISTINCT {wanted} FROM {q(cache.table)} WHERE {not_null} ORDER BY {wanted})"
