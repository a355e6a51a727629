"""Translator table: Flux in the shapes services use -> the exact SQL (golden; semantics are checked
by execution in test_flux_execution.py). Plus parser tests and the queries outside the subset."""

import pytest

from migrators.core.tree import ProjectTree
from migrators.upgrades.influxdb3.flux import Lit, Unsupported, parse, tokenize
from migrators.upgrades.influxdb3.flux_sql import translate
from migrators.upgrades.influxdb3.flux_writes import measurement_keys, writer_keys
from tests.migrators.upgrades.influxdb3.flux_cases import CASES, UNSUPPORTED

TAGS = {"cpu": ["host", "region"], "temp": ["sensor"]}
FIELDS = {"cpu": ["usage", "idle"], "temp": ["value"]}

EXPECTED_SQL = {
    "count_all": "SELECT count(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL HAVING count(*) > 0",
    "count_all_empty": "SELECT count(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'nobody' AND usage IS NOT NULL HAVING count(*) > 0",
    "count_by_region": "SELECT region, count(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY region ORDER BY region",
    "count_per_series": "SELECT host, region, count(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY host, region ORDER BY host, region",
    "difference": "SELECT time, sensor, value FROM (SELECT time, sensor, value - lag(value) OVER (PARTITION BY sensor ORDER BY time) AS value, row_number() OVER (PARTITION BY sensor ORDER BY time) AS _rn FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL) WHERE _rn > 1 ORDER BY sensor, time",
    "first_per_series": "SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1 ORDER BY host, region, time",
    "first_pivot": "SELECT time, host, region, usage, idle FROM (SELECT time, host, region, CASE WHEN row_number() OVER (PARTITION BY host, region ORDER BY usage IS NULL, time ASC) = 1 AND usage IS NOT NULL THEN usage END AS usage, CASE WHEN row_number() OVER (PARTITION BY host, region ORDER BY idle IS NULL, time ASC) = 1 AND idle IS NOT NULL THEN idle END AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL)) WHERE usage IS NOT NULL OR idle IS NOT NULL ORDER BY host, region, time",
    "hourly_count": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, count(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_count_filled": "WITH _w AS (SELECT date_bin(INTERVAL '1 hours', time) AS _bin, sensor, count(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), sensor), _s AS (SELECT DISTINCT sensor FROM _w), _g AS (SELECT unnest(generate_series(date_bin(INTERVAL '1 hours', TIMESTAMP '2024-01-01T00:00:00Z'), TIMESTAMP '2024-01-01T06:00:00Z' - INTERVAL '1 nanosecond', INTERVAL '1 hours')) AS _bin) SELECT least(_g._bin + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, _s.sensor AS sensor, coalesce(_w.value, 0) AS value FROM _g CROSS JOIN _s LEFT JOIN _w ON _w._bin = _g._bin AND (_w.sensor IS NOT DISTINCT FROM _s.sensor) ORDER BY sensor, time",
    "hourly_first": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, first_value(usage ORDER BY time) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_last": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, last_value(usage ORDER BY time) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_max": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, max(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_mean": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_mean_filled": "WITH _w AS (SELECT date_bin(INTERVAL '1 hours', time) AS _bin, host, region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region), _s AS (SELECT DISTINCT host, region FROM _w), _g AS (SELECT unnest(generate_series(date_bin(INTERVAL '1 hours', TIMESTAMP '2024-01-01T00:00:00Z'), TIMESTAMP '2024-01-01T06:00:00Z' - INTERVAL '1 nanosecond', INTERVAL '1 hours')) AS _bin) SELECT least(_g._bin + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, _s.host AS host, _s.region AS region, _w.usage AS usage FROM _g CROSS JOIN _s LEFT JOIN _w ON _w._bin = _g._bin AND (_w.host IS NOT DISTINCT FROM _s.host) AND (_w.region IS NOT DISTINCT FROM _s.region) ORDER BY host, region, time",
    "hourly_min": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, min(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_sum": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, sum(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "hourly_sum_filled": "WITH _w AS (SELECT date_bin(INTERVAL '1 hours', time) AS _bin, sensor, sum(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), sensor), _s AS (SELECT DISTINCT sensor FROM _w), _g AS (SELECT unnest(generate_series(date_bin(INTERVAL '1 hours', TIMESTAMP '2024-01-01T00:00:00Z'), TIMESTAMP '2024-01-01T06:00:00Z' - INTERVAL '1 nanosecond', INTERVAL '1 hours')) AS _bin) SELECT least(_g._bin + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, _s.sensor AS sensor, _w.value AS value FROM _g CROSS JOIN _s LEFT JOIN _w ON _w._bin = _g._bin AND (_w.sensor IS NOT DISTINCT FROM _s.sensor) ORDER BY sensor, time",
    "keep_columns": "SELECT time, host, usage FROM (SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, sum(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), host, region) ORDER BY host, time",
    "last_one_sensor": "SELECT time, sensor, value FROM (SELECT time, sensor, value, row_number() OVER (PARTITION BY sensor ORDER BY time DESC) AS _rn FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND sensor = 'a' AND value IS NOT NULL) WHERE _rn = 1 ORDER BY sensor, time",
    "last_per_series": "SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1 ORDER BY host, region, time",
    "last_pivot": "SELECT time, host, region, usage, idle FROM (SELECT time, host, region, CASE WHEN row_number() OVER (PARTITION BY host, region ORDER BY usage IS NULL, time DESC) = 1 AND usage IS NOT NULL THEN usage END AS usage, CASE WHEN row_number() OVER (PARTITION BY host, region ORDER BY idle IS NULL, time DESC) = 1 AND idle IS NOT NULL THEN idle END AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL)) WHERE usage IS NOT NULL OR idle IS NOT NULL ORDER BY host, region, time",
    "limit_offset": "SELECT * EXCLUDE (_rn) FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn > 1 AND _rn <= 3 ORDER BY host, region, time",
    "limit_per_series": "SELECT * EXCLUDE (_rn) FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn <= 2 ORDER BY host, region, time",
    "map_scale": "SELECT time, host, region, (usage * 100.0) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL ORDER BY host, region, time",
    "mean_by_region": "SELECT region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY region ORDER BY region",
    "mean_per_series": "SELECT sensor, avg(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY sensor ORDER BY sensor",
    "raw_one_field": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL ORDER BY host, region, time",
    "raw_two_fields_pivot": "SELECT time, host, region, usage, idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL) ORDER BY host, region, time",
    "sort_desc_limit": "SELECT * EXCLUDE (_rn) FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn <= 3 ORDER BY host, region, time DESC",
    "exists_tag": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND region IS NOT NULL AND usage IS NOT NULL ORDER BY host, region, time",
    "not_exists_tag": "SELECT time, sensor, value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (NOT (sensor IS NOT NULL) OR sensor = 'a') AND value IS NOT NULL ORDER BY sensor, time",
    "time_v_range": "SELECT time, sensor, value FROM temp WHERE time >= TIMESTAMP '2024-01-01T01:00:00Z' AND time < TIMESTAMP '2024-01-01T03:00:00Z' AND value IS NOT NULL ORDER BY sensor, time",
    "max_per_series": "SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY usage DESC, time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1 ORDER BY host, region, time",
    "min_by_region": "SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY region ORDER BY usage ASC, time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1 ORDER BY region, time",
    "max_by_host_sorted": "SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER (PARTITION BY host ORDER BY usage DESC, time ASC) AS _rn FROM (SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host ORDER BY usage DESC, time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1)) WHERE _rn <= 2 ORDER BY host, usage DESC, time",
    "sort_value_desc": "SELECT time, sensor, value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL ORDER BY sensor, value DESC, time",
    "sum_by_host": "SELECT host, sum(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY host ORDER BY host",
    "tag_and_or": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (host = 'web1' OR host = 'db1') AND region = 'eu' AND usage IS NOT NULL ORDER BY host, region, time",
    "tag_eq": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'web1' AND usage IS NOT NULL ORDER BY host, region, time",
    "tag_ne": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host <> 'web1' AND usage IS NOT NULL ORDER BY host, region, time",
    "tag_not_regex": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host !~ '^web' AND usage IS NOT NULL ORDER BY host, region, time",
    "tag_or": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (host = 'web1' OR region = 'us') AND usage IS NOT NULL ORDER BY host, region, time",
    "tag_regex": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host ~ '^web' AND usage IS NOT NULL ORDER BY host, region, time",
    "top_n_per_host": "SELECT * EXCLUDE (_rn) FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host ORDER BY usage DESC, time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn <= 2 ORDER BY host, usage DESC, time",
    "value_gt": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage > 50.0 AND usage IS NOT NULL ORDER BY host, region, time",
    "value_range": "SELECT time, host, region, usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage >= 20.0 AND usage < 70.0 AND usage IS NOT NULL ORDER BY host, region, time",
    "window_2h_regex": "SELECT least(date_bin(INTERVAL '2 hours', time) + INTERVAL '2 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host ~ '^web' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '2 hours', time), host, region ORDER BY host, region, time",
    "window_5m": "SELECT least(date_bin(INTERVAL '5 minutes', time) + INTERVAL '5 minutes', TIMESTAMP '2024-01-01T06:00:00Z') AS time, sensor, avg(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY date_bin(INTERVAL '5 minutes', time), sensor ORDER BY sensor, time",
    "window_90m": "SELECT least(date_bin(INTERVAL '90 minutes', time) + INTERVAL '90 minutes', TIMESTAMP '2024-01-01T06:00:00Z') AS time, sensor, avg(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY date_bin(INTERVAL '90 minutes', time), sensor ORDER BY sensor, time",
    "window_pivot": "SELECT least(date_bin(INTERVAL '1 hours', time) + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, avg(usage) FILTER (WHERE usage IS NOT NULL) AS usage, avg(idle) FILTER (WHERE idle IS NOT NULL) AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL) GROUP BY date_bin(INTERVAL '1 hours', time), host, region ORDER BY host, region, time",
    "window_pivot_sort": "SELECT least(date_bin(INTERVAL '2 hours', time) + INTERVAL '2 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, max(usage) FILTER (WHERE usage IS NOT NULL) AS usage, max(idle) FILTER (WHERE idle IS NOT NULL) AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL) GROUP BY date_bin(INTERVAL '2 hours', time), host, region ORDER BY host, region, time",
    "two_fields_no_pivot_last": "SELECT * FROM (SELECT time, host, region, 'usage' AS _field, usage AS _value FROM (SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1) UNION ALL SELECT time, host, region, 'idle' AS _field, idle AS _value FROM (SELECT time, host, region, idle FROM (SELECT time, host, region, idle, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND idle IS NOT NULL) WHERE _rn = 1)) ORDER BY host, region, _field, time",
    "two_fields_no_pivot_first": "SELECT * FROM (SELECT time, host, region, 'usage' AS _field, usage AS _value FROM (SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1) UNION ALL SELECT time, host, region, 'idle' AS _field, idle AS _value FROM (SELECT time, host, region, idle FROM (SELECT time, host, region, idle, row_number() OVER (PARTITION BY host, region ORDER BY time ASC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND idle IS NOT NULL) WHERE _rn = 1)) ORDER BY host, region, _field, time",
    "two_fields_mean": "SELECT * FROM (SELECT host, region, 'usage' AS _field, usage AS _value FROM (SELECT host, region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY host, region) UNION ALL SELECT host, region, 'idle' AS _field, idle AS _value FROM (SELECT host, region, avg(idle) AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND idle IS NOT NULL GROUP BY host, region)) ORDER BY host, region, _field",
    "group_host_field_sum": "SELECT * FROM (SELECT host, 'usage' AS _field, usage AS _value FROM (SELECT host, sum(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY host) UNION ALL SELECT host, 'idle' AS _field, idle AS _value FROM (SELECT host, sum(idle) AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND idle IS NOT NULL GROUP BY host)) ORDER BY host, _field",
    "two_fields_window": "SELECT * FROM (SELECT time, host, region, 'usage' AS _field, usage AS _value FROM (SELECT least(date_bin(INTERVAL '2 hours', time) + INTERVAL '2 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, max(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '2 hours', time), host, region) UNION ALL SELECT time, host, region, 'idle' AS _field, idle AS _value FROM (SELECT least(date_bin(INTERVAL '2 hours', time) + INTERVAL '2 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, host, region, max(idle) AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND idle IS NOT NULL GROUP BY date_bin(INTERVAL '2 hours', time), host, region)) ORDER BY host, region, _field, time",
    "all_fields_last": "SELECT * FROM (SELECT time, host, region, 'usage' AS _field, usage AS _value FROM (SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'web2' AND usage IS NOT NULL) WHERE _rn = 1) UNION ALL SELECT time, host, region, 'idle' AS _field, idle AS _value FROM (SELECT time, host, region, idle FROM (SELECT time, host, region, idle, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'web2' AND idle IS NOT NULL) WHERE _rn = 1)) ORDER BY host, region, _field, time",
    "all_fields_count": "SELECT sensor, count(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY sensor ORDER BY sensor",
    "last_then_filter": "SELECT * FROM (SELECT * FROM (SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1)) WHERE usage > 40.0 ORDER BY host, region, time",
    "sum_then_filter_keep": "SELECT region, usage FROM (SELECT * FROM (SELECT * FROM (SELECT region, sum(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY region)) WHERE usage > 1000.0) ORDER BY region",
    "pivot_then_filter": "SELECT * FROM (SELECT * FROM (SELECT time, host, region, usage, idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL))) WHERE (usage > 50.0 AND idle < 45.0) ORDER BY host, region, time",
    "pivot_map_new_column": "SELECT *, (100.0 - (usage * 2.0)) AS spare FROM (SELECT *, (usage + idle) AS total FROM (SELECT * FROM (SELECT time, host, region, usage, idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL)))) ORDER BY host, region, time",
    "bracket_pivot_keep": "SELECT time, host, usage, idle FROM (SELECT time, host, region, usage, idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'web1' AND (usage IS NOT NULL OR idle IS NOT NULL)) ORDER BY host, time",
    "group_series_last": "SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1 ORDER BY host, region, time",
    "group_series_field_last": "SELECT * FROM (SELECT time, host, region, 'usage' AS _field, usage AS _value FROM (SELECT time, host, region, usage FROM (SELECT time, host, region, usage, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL) WHERE _rn = 1) UNION ALL SELECT time, host, region, 'idle' AS _field, idle AS _value FROM (SELECT time, host, region, idle FROM (SELECT time, host, region, idle, row_number() OVER (PARTITION BY host, region ORDER BY time DESC) AS _rn FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND idle IS NOT NULL) WHERE _rn = 1)) ORDER BY host, region, _field, time",
    "tag_values": "SELECT DISTINCT _value FROM (SELECT host AS _value FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host IS NOT NULL) ORDER BY _value",
    "tag_values_predicate": "SELECT DISTINCT _value FROM (SELECT host AS _value FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host IS NOT NULL AND region = 'eu') ORDER BY _value",
    "tag_values_late": "SELECT DISTINCT _value FROM (SELECT sensor AS _value FROM temp WHERE time >= TIMESTAMP '2024-01-01T04:50:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND sensor IS NOT NULL) ORDER BY _value",
    "measurements": "SELECT table_name AS _value FROM information_schema.tables WHERE table_schema = 'iox' ORDER BY _value",
    "group_fields_count_by_region": "SELECT region, count(usage) + count(idle) AS _value FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL) GROUP BY region ORDER BY region",
    "all_fields_group_count": "SELECT * FROM (SELECT * FROM (SELECT count(usage) + count(idle) AS _value FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND (usage IS NOT NULL OR idle IS NOT NULL) HAVING count(*) > 0)) WHERE _value > 10",
    "top_hosts_by_sum": "SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER (ORDER BY usage DESC) AS _rn FROM (SELECT host, sum(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY host)) WHERE _rn <= 2 ORDER BY usage DESC",
    "top_region_offset": "SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER (PARTITION BY region ORDER BY usage ASC) AS _rn FROM (SELECT host, region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND usage IS NOT NULL GROUP BY host, region)) WHERE _rn > 1 AND _rn <= 2 ORDER BY region, usage",
    "count_sort_limit_per_series": "SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER (PARTITION BY sensor ORDER BY value ASC) AS _rn FROM (SELECT sensor, count(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY sensor)) WHERE _rn <= 1 ORDER BY sensor, value",
    "contains_hosts": "SELECT host, region, count(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host IN ('web1', 'db1', 'nobody') AND usage IS NOT NULL GROUP BY host, region ORDER BY host, region",
    "hourly_mean_filled_zero": "SELECT time, sensor, coalesce(value, -1.0) AS value FROM (SELECT * FROM (WITH _w AS (SELECT date_bin(INTERVAL '1 hours', time) AS _bin, sensor, avg(value) AS value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND value IS NOT NULL GROUP BY date_bin(INTERVAL '1 hours', time), sensor), _s AS (SELECT DISTINCT sensor FROM _w), _g AS (SELECT unnest(generate_series(date_bin(INTERVAL '1 hours', TIMESTAMP '2024-01-01T00:00:00Z'), TIMESTAMP '2024-01-01T06:00:00Z' - INTERVAL '1 nanosecond', INTERVAL '1 hours')) AS _bin) SELECT least(_g._bin + INTERVAL '1 hours', TIMESTAMP '2024-01-01T06:00:00Z') AS time, _s.sensor AS sensor, _w.value AS value FROM _g CROSS JOIN _s LEFT JOIN _w ON _w._bin = _g._bin AND (_w.sensor IS NOT DISTINCT FROM _s.sensor))) ORDER BY sensor, time",
    "two_fields_window_fill": "SELECT time, host, region, _field, coalesce(_value, 0.0) AS _value FROM (SELECT * FROM (SELECT time, host, region, 'usage' AS _field, usage AS _value FROM (WITH _w AS (SELECT date_bin(INTERVAL '5 minutes', time) AS _bin, host, region, avg(usage) AS usage FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'web1' AND usage IS NOT NULL GROUP BY date_bin(INTERVAL '5 minutes', time), host, region), _s AS (SELECT DISTINCT host, region FROM _w), _g AS (SELECT unnest(generate_series(date_bin(INTERVAL '5 minutes', TIMESTAMP '2024-01-01T00:00:00Z'), TIMESTAMP '2024-01-01T06:00:00Z' - INTERVAL '1 nanosecond', INTERVAL '5 minutes')) AS _bin) SELECT least(_g._bin + INTERVAL '5 minutes', TIMESTAMP '2024-01-01T06:00:00Z') AS time, _s.host AS host, _s.region AS region, _w.usage AS usage FROM _g CROSS JOIN _s LEFT JOIN _w ON _w._bin = _g._bin AND (_w.host IS NOT DISTINCT FROM _s.host) AND (_w.region IS NOT DISTINCT FROM _s.region)) UNION ALL SELECT time, host, region, 'idle' AS _field, idle AS _value FROM (WITH _w AS (SELECT date_bin(INTERVAL '5 minutes', time) AS _bin, host, region, avg(idle) AS idle FROM cpu WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND host = 'web1' AND idle IS NOT NULL GROUP BY date_bin(INTERVAL '5 minutes', time), host, region), _s AS (SELECT DISTINCT host, region FROM _w), _g AS (SELECT unnest(generate_series(date_bin(INTERVAL '5 minutes', TIMESTAMP '2024-01-01T00:00:00Z'), TIMESTAMP '2024-01-01T06:00:00Z' - INTERVAL '1 nanosecond', INTERVAL '5 minutes')) AS _bin) SELECT least(_g._bin + INTERVAL '5 minutes', TIMESTAMP '2024-01-01T06:00:00Z') AS time, _s.host AS host, _s.region AS region, _w.idle AS idle FROM _g CROSS JOIN _s LEFT JOIN _w ON _w._bin = _g._bin AND (_w.host IS NOT DISTINCT FROM _s.host) AND (_w.region IS NOT DISTINCT FROM _s.region)))) ORDER BY host, region, _field, time",
    "field_keys": "SELECT column_name AS _value FROM information_schema.columns WHERE table_schema = 'iox' AND table_name = 'cpu' AND column_name <> 'time' AND data_type NOT LIKE 'Dictionary%' ORDER BY _value",
    "field_keys_predicate": "SELECT column_name AS _value FROM information_schema.columns WHERE table_schema = 'iox' AND table_name = 'temp' AND column_name <> 'time' AND data_type NOT LIKE 'Dictionary%' ORDER BY _value",
    "yield_named": "SELECT time, sensor, value FROM temp WHERE time >= TIMESTAMP '2024-01-01T00:00:00Z' AND time < TIMESTAMP '2024-01-01T06:00:00Z' AND sensor = 'b' AND value IS NOT NULL ORDER BY sensor, time",
}


def test_table_has_at_least_40_queries():
    assert len(EXPECTED_SQL) >= 40 and set(EXPECTED_SQL) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_flux_translates_to_expected_sql(name):
    assert translate(CASES[name], schema=TAGS, fields=FIELDS).sql == EXPECTED_SQL[name]


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_outside_the_subset_is_refused(name):
    with pytest.raises(Unsupported):
        translate(UNSUPPORTED[name], schema=TAGS, fields=FIELDS)


def test_tokenizer_holes_durations_regex():
    tokens = tokenize(
        'range(start: -\x000\x00h) |> filter(fn: (r) => r.host =~ /^web\\d/ and r.x == "\x001\x00")'
    )
    kinds = [(t.kind, t.hole) for t in tokens if t.kind in ("duration", "regex", "string")]
    assert kinds == [("duration", 0), ("regex", None), ("string", 1)]


def test_parser_pipeline_and_predicates():
    stages = parse(
        'from(bucket: "b") |> range(start: -1h, stop: now()) |> filter(fn: (r) => not (r.a == "x" or r.b != "y"))'
    ).stages
    assert [s.name for s in stages] == ["from", "range", "filter"]
    assert stages[1].args["start"] == Lit("duration", "1h", negative=True)


def test_holes_become_parameters_and_identifiers():
    flux = (
        'from(bucket: "\x000\x00") |> range(start: -\x001\x00h) |> filter(fn: (r) => r._measurement == "\x002\x00"'
        ' and r._field == "\x003\x00" and r.city == "\x004\x00") |> last()'
    )
    t = translate(flux, {0: "bucket", 1: "hours", 2: "measurement", 3: "field", 4: "city"})
    assert t.params == {"hours": 1, "city": 4} and t.database.hole == 0
    assert "$hours" in t.sql and "city = $city" in t.sql and 'FROM "\x002\x00"' in t.sql
    assert t.notes, "series key assumed from the filters: a note, not silence"


def test_params_reference_becomes_placeholder():
    t = translate(CASES["tag_eq"].replace('"web1"', "params.h"), schema=TAGS)
    assert "host = $h" in t.sql and t.flux_params == ["h"]


def test_a_date_hole_completed_by_a_clock_is_a_time_parameter():
    flux = (
        'from(bucket: "b") |> range(start: \x000\x00T00:00:00Z, stop: \x001\x00T00:00:00Z)'
        ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage") |> sum()'
    )
    t = translate(flux, {0: "start", 1: "end"}, schema=TAGS)
    assert "time >= CAST(concat($start, 'T00:00:00Z') AS TIMESTAMP)" in t.sql
    assert "time < CAST(concat($end, 'T00:00:00Z') AS TIMESTAMP)" in t.sql
    assert t.params == {"start": 0, "end": 1}


def test_imports_are_parsed_and_only_known_packages_pass():
    assert parse('import "influxdata/influxdb/schema"\nschema.measurements(bucket: "b")').imports == (
        "influxdata/influxdb/schema",
    )
    with pytest.raises(Unsupported, match='import "experimental"'):
        translate('import "experimental"\n' + CASES["raw_one_field"], schema=TAGS)


def test_long_format_and_schema_results_name_their_value_column():
    long = translate(CASES["two_fields_no_pivot_last"], schema=TAGS)
    assert (long.value_column, long.field_column) == ("_value", "_field")
    wide = translate(CASES["last_pivot"], schema=TAGS)
    assert (wide.value_column, wide.field_column) == (None, None)
    values = translate(CASES["tag_values"], schema=TAGS)
    assert values.value_column == "_value" and values.field_column is None and not values.has_time


def test_assumptions_are_notes_not_silence():
    # tag values over the whole bucket: read from the measurements the service writes with the tag
    t = translate(
        'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "b", tag: "host")', schema=TAGS
    )
    assert "FROM cpu" in t.sql and "INTERVAL '30 days'" in t.sql and "cpu" in t.notes[0]
    # schema.measurements(): information_schema ignores the range
    assert "range" in translate(CASES["measurements"]).notes[0]
    # no _field filter: the fields of the writes, said in a note
    t = translate(CASES["all_fields_last"], schema=TAGS, fields=FIELDS)
    assert "usage, idle" in t.notes[0]
    with pytest.raises(Unsupported, match="do not name every field"):
        translate(CASES["all_fields_last"], schema=TAGS)


def test_drop_of_range_columns_changes_nothing_in_sql():
    flux = R_NO_FIELD + ' |> drop(columns: ["_start", "_stop"])'
    assert translate(flux, schema=TAGS).sql == translate(R_NO_FIELD, schema=TAGS).sql


R_NO_FIELD = (
    'from(bucket: "db") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "cpu" and r.host == "a")'
)


# --- what the service's writes tell (flux_writes) ---------------------------------------------------

WRITES = """
def record(v, lat, lon, ts):
    line = f"position,vehicle_id={v} lat={lat},lon={lon} {ts}"
    rows = [{"measurement": "sensor", "tags": {"device": d}, "fields": {"temperature": t}} for d, t in x]
    p = Point("zone").tag("building", b).field("temp_c", t).field("rh_pct", h)
    q = Point("meter").tag("id", i).field(name, value)
    client.write(record=df, data_frame_measurement_name="sensor", data_frame_tag_columns=["device"])
"""


def test_writes_give_tags_and_fields_unless_a_write_hides_them():
    seen = writer_keys([WRITES])
    assert (seen["position"].tags, seen["position"].fields) == ({"vehicle_id"}, {"lat", "lon"})
    assert (seen["zone"].tags, seen["zone"].fields) == ({"building"}, {"temp_c", "rh_pct"})
    assert seen["meter"].unknown_fields  # .field(name, value): the name is a run-time value
    assert seen["sensor"].unknown_fields and seen["sensor"].fields == {"temperature"}  # and a DataFrame


def test_measurement_keys_reach_the_translator_as_a_schema(tmp_path):
    (tmp_path / "app.py").write_text(WRITES)
    keys = measurement_keys(ProjectTree(tmp_path), {"zone": ["building"]})
    assert list(keys["zone"]) == ["building"] and keys["zone"].fields == ["rh_pct", "temp_c"]
    assert keys["sensor"].fields is None and keys["meter"].fields is None
    flux = (
        'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "position") |> last()'
    )
    t = translate(flux, schema=keys)
    assert t.value_column == "_value" and "PARTITION BY vehicle_id" in t.sql and "'lat' AS _field" in t.sql


def test_a_kept_column_that_is_no_field_is_a_tag_of_the_series():
    flux = (
        'from(bucket: "b") |> range(start: -6h) |> filter(fn: (r) => r["_measurement"] == "inverter" and '
        '(r["_field"] == "ac" or r["_field"] == "dc")) |> aggregateWindow(every: 15m, fn: mean, createEmpty: false)'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        " |> map(fn: (r) => ({r with ratio: r.ac / r.dc}))"
        ' |> keep(columns: ["_time", "inverter", "ac", "ratio"])'
    )
    t = translate(flux)
    assert "GROUP BY date_bin(INTERVAL '15 minutes', time), inverter" in t.sql
    assert t.sql.startswith("SELECT time, inverter, ac, ratio FROM (SELECT *, (ac / dc) AS ratio")
    assert t.assumed_tags and "inverter" in t.notes[0]


def test_a_negated_hole_is_a_duration_parameter_and_limit_takes_a_hole():
    flux = (
        'from(bucket: "b") |> range(start: -\x000\x00) |> filter(fn: (r) => r._measurement == "cpu" and '
        'r._field == "usage" and r._value > -\x002\x00) |> group(columns: ["host"]) |> sum() |> group()'
        ' |> sort(columns: ["_value"], desc: true) |> limit(n: \x001\x00)'
    )
    t = translate(flux, {0: "period", 1: "n", 2: "low"}, schema=TAGS)
    assert "time >= now() - CAST($period AS INTERVAL)" in t.sql and "usage > -$low" in t.sql
    assert "WHERE _rn <= $n" in t.sql and "row_number() OVER (ORDER BY usage DESC)" in t.sql
    assert "one-unit Flux duration" in t.notes[0]


def test_a_bare_range_hole_is_a_time_and_a_note_says_a_duration_fails():
    base = 'from(bucket: "b") |> range(start: \x000\x00{}) |> filter(fn: (r) => r._measurement == "m" and r._field == "f")'
    bare = translate(base.format(""), {0: "start"})
    assert "time >= CAST($start AS TIMESTAMP)" in bare.sql and '"-7d" fails' in bare.notes[0]
    zoned = translate(base.format("Z"), {0: "start"})
    assert "time >= CAST($start AS TIMESTAMP)" in zoned.sql and zoned.notes == []
