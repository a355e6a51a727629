"""Flux queries in the shapes real services use, over the execution tests' dataset (absolute ranges)."""

R = 'from(bucket: "db") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)'
CPU = R + ' |> filter(fn: (r) => r._measurement == "cpu")'
TEMP = R + ' |> filter(fn: (r) => r._measurement == "temp")'

CASES: dict[str, str] = {
    "raw_one_field": CPU + ' |> filter(fn: (r) => r._field == "usage")',
    "raw_two_fields_pivot": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
    "tag_eq": CPU + ' |> filter(fn: (r) => r._field == "usage" and r.host == "web1")',
    "tag_ne": CPU + ' |> filter(fn: (r) => r._field == "usage" and r.host != "web1")',
    "tag_regex": CPU + ' |> filter(fn: (r) => r._field == "usage" and r.host =~ /^web/)',
    "tag_not_regex": CPU + ' |> filter(fn: (r) => r._field == "usage" and r.host !~ /^web/)',
    "tag_or": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> filter(fn: (r) => r.host == "web1" or r.region == "us")',
    "tag_and_or": CPU
    + ' |> filter(fn: (r) => r._field == "usage" and (r.host == "web1" or r.host == "db1") and r.region == "eu")',
    "value_gt": CPU + ' |> filter(fn: (r) => r._field == "usage" and r._value > 50.0)',
    "value_range": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> filter(fn: (r) => r._value >= 20.0 and r._value < 70.0)',
    "map_scale": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> map(fn: (r) => ({r with _value: r._value * 100.0}))',
    "last_per_series": CPU + ' |> filter(fn: (r) => r._field == "usage") |> last()',
    "first_per_series": CPU + ' |> filter(fn: (r) => r._field == "usage") |> first()',
    "last_one_sensor": TEMP + ' |> filter(fn: (r) => r._field == "value" and r.sensor == "a") |> last()',
    "last_pivot": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> last()'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
    "first_pivot": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> first()'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
    "hourly_mean": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)',
    "hourly_mean_filled": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: mean)',
    "hourly_sum": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)',
    "hourly_sum_filled": TEMP
    + ' |> filter(fn: (r) => r._field == "value") |> aggregateWindow(every: 1h, fn: sum)',
    "hourly_count_filled": TEMP
    + ' |> filter(fn: (r) => r._field == "value") |> aggregateWindow(every: 1h, fn: count)',
    "hourly_count": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: count, createEmpty: false)',
    "hourly_max": CPU + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: max)',
    "hourly_min": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: min, createEmpty: false)',
    "hourly_last": CPU + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: last)',
    "hourly_first": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: first, createEmpty: false)',
    "window_5m": TEMP
    + ' |> filter(fn: (r) => r._field == "value") |> aggregateWindow(every: 5m, fn: mean, createEmpty: false)',
    "window_90m": TEMP
    + ' |> filter(fn: (r) => r._field == "value") |> aggregateWindow(every: 90m, fn: mean, createEmpty: false)',
    "window_2h_regex": CPU
    + ' |> filter(fn: (r) => r._field == "usage" and r.host =~ /^web/) |> aggregateWindow(every: 2h, fn: mean, createEmpty: false)',
    "window_pivot": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    " |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)"
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
    "window_pivot_sort": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    " |> aggregateWindow(every: 2h, fn: max, createEmpty: false)"
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    ' |> sort(columns: ["_time"])',
    "sort_desc_limit": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> sort(columns: ["_time"], desc: true) |> limit(n: 3)',
    "limit_per_series": CPU + ' |> filter(fn: (r) => r._field == "usage") |> limit(n: 2)',
    "limit_offset": CPU + ' |> filter(fn: (r) => r._field == "usage") |> limit(n: 2, offset: 1)',
    "top_n_per_host": CPU + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"])'
    ' |> sort(columns: ["_value"], desc: true) |> limit(n: 2)',
    "count_per_series": CPU + ' |> filter(fn: (r) => r._field == "usage") |> count()',
    "count_by_region": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["region"]) |> count()',
    "sum_by_host": CPU + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"]) |> sum()',
    "mean_by_region": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["region"]) |> mean()',
    "count_all": CPU + ' |> filter(fn: (r) => r._field == "usage") |> group() |> count()',
    "count_all_empty": CPU
    + ' |> filter(fn: (r) => r._field == "usage" and r.host == "nobody") |> group() |> count()',
    "mean_per_series": TEMP + ' |> filter(fn: (r) => r._field == "value") |> mean()',
    "difference": TEMP + ' |> filter(fn: (r) => r._field == "value") |> difference()',
    "keep_columns": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: sum, createEmpty: false)'
    ' |> keep(columns: ["_time", "_value", "host"])',
    "yield_named": TEMP
    + ' |> filter(fn: (r) => r._field == "value" and r.sensor == "b") |> yield(name: "b")',
    "exists_tag": CPU + ' |> filter(fn: (r) => r._field == "usage") |> filter(fn: (r) => exists r.region)',
    "not_exists_tag": TEMP
    + ' |> filter(fn: (r) => r._field == "value" and (not exists r.sensor or r.sensor == "a"))',
    "time_v_range": 'from(bucket: "db") |> range(start: time(v: "2024-01-01T01:00:00Z"), '
    'stop: 2024-01-01T03:00:00Z) |> filter(fn: (r) => r._measurement == "temp" and r._field == "value")',
    "max_per_series": CPU + ' |> filter(fn: (r) => r._field == "usage") |> max()',
    "min_by_region": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["region"]) |> min()',
    "max_by_host_sorted": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"]) |> max()'
    ' |> sort(columns: ["_value"], desc: true) |> limit(n: 2)',
    "sort_value_desc": TEMP
    + ' |> filter(fn: (r) => r._field == "value") |> sort(columns: ["_value"], desc: true)',
    # several fields without pivot(): one table per field, rows in long format (_field, _value)
    "two_fields_no_pivot_last": CPU
    + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> last()',
    "two_fields_no_pivot_first": CPU
    + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> first()',
    "two_fields_mean": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> mean()',
    "group_host_field_sum": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> group(columns: ["host", "_field"]) |> sum()',
    "two_fields_window": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    " |> aggregateWindow(every: 2h, fn: max, createEmpty: false)",
    # no _field filter: the fields come from the service's writes (FIELDS in the tests)
    "all_fields_last": CPU + ' |> filter(fn: (r) => r.host == "web2") |> last()',
    "all_fields_count": TEMP + " |> count()",
    # filters and new columns on the rows a selector, aggregate or pivot gave
    "last_then_filter": CPU + ' |> filter(fn: (r) => r._field == "usage") |> last()'
    " |> filter(fn: (r) => r._value > 40.0)",
    "sum_then_filter_keep": CPU + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["region"])'
    ' |> sum() |> filter(fn: (r) => r._value > 1000.0) |> keep(columns: ["region", "_value"])',
    "pivot_then_filter": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    " |> filter(fn: (r) => r.usage > 50.0 and r.idle < 45.0)",
    "pivot_map_new_column": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    " |> map(fn: (r) => ({r with total: r.usage + r.idle, spare: 100.0 - r.usage * 2.0}))",
    "bracket_pivot_keep": R + ' |> filter(fn: (r) => r["_measurement"] == "cpu" and (r["_field"] == "usage"'
    ' or r["_field"] == "idle")) |> filter(fn: (r) => r["host"] == "web1")'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    ' |> keep(columns: ["_time", "host", "usage", "idle"])',
    # group() by every tag keeps each series whole: last() is defined
    "group_series_last": CPU + ' |> filter(fn: (r) => r._field == "usage")'
    ' |> group(columns: ["host", "region"]) |> last()',
    "group_series_field_last": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> group(columns: ["host", "region", "_field"]) |> last()',
    # group() without _field then count(): one table holding every field's points
    "group_fields_count_by_region": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> group(columns: ["region"]) |> count()',
    "all_fields_group_count": CPU + " |> group() |> count() |> filter(fn: (r) => r._value > 10)",
    # group() after an aggregate: its rows regrouped, then sorted and cut (top N)
    "top_hosts_by_sum": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"]) |> sum()'
    ' |> group() |> sort(columns: ["_value"], desc: true) |> limit(n: 2)',
    "top_region_offset": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host", "region"])'
    ' |> mean() |> group(columns: ["region"]) |> sort(columns: ["_value"]) |> limit(n: 1, offset: 1)',
    "count_sort_limit_per_series": TEMP + ' |> filter(fn: (r) => r._field == "value") |> count()'
    ' |> sort(columns: ["_value"]) |> limit(n: 1)',
    "contains_hosts": CPU + ' |> filter(fn: (r) => r._field == "usage")'
    ' |> filter(fn: (r) => contains(value: r.host, set: ["web1", "db1", "nobody"])) |> count()',
    "hourly_mean_filled_zero": TEMP + ' |> filter(fn: (r) => r._field == "value")'
    " |> aggregateWindow(every: 1h, fn: mean) |> fill(value: -1.0)",
    "two_fields_window_fill": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> filter(fn: (r) => r.host == "web1") |> aggregateWindow(every: 5m, fn: mean) |> fill(value: 0.0)',
    # the schema package
    "tag_values": 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", tag: "host",'
    " start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)",
    "tag_values_predicate": 'import "influxdata/influxdb/schema"\n\nschema.tagValues(bucket: "db",'
    ' tag: "host", predicate: (r) => r._measurement == "cpu" and r.region == "eu",'
    " start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)",
    "tag_values_late": 'import "influxdata/influxdb/schema"\nschema.measurementTagValues(bucket: "db",'
    ' measurement: "temp", tag: "sensor", start: 2024-01-01T04:50:00Z, stop: 2024-01-01T06:00:00Z)',
    "measurements": 'import "influxdata/influxdb/schema"\nschema.measurements(bucket: "db",'
    " start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)",
    "field_keys": 'import "influxdata/influxdb/schema"\nschema.measurementFieldKeys(bucket: "db",'
    ' measurement: "cpu", start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)',
    "field_keys_predicate": 'import "influxdata/influxdb/schema"\nschema.fieldKeys(bucket: "db",'
    ' predicate: (r) => r._measurement == "temp", start: 2024-01-01T00:00:00Z, stop: 2024-01-01T06:00:00Z)',
}

# outside the subset: each must raise Unsupported (a marker in code)
UNSUPPORTED: dict[str, str] = {
    "join": 'import "join"\nfrom(bucket: "db") |> range(start: -1h)',
    "union": "union(tables: [a, b])",
    "reduce": CPU
    + " |> reduce(fn: (r, accumulator) => ({sum: r._value + accumulator.sum}), identity: {sum: 0.0})",
    "map_new_record": CPU + " |> map(fn: (r) => ({_time: r._time, v: r._value}))",
    "two_measurements": R + ' |> filter(fn: (r) => r._measurement == "cpu" or r._measurement == "mem")',
    "no_measurement": R + ' |> filter(fn: (r) => r._field == "usage") |> last()',
    "window_offset": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, offset: 5m, fn: mean)',
    "window_month": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1mo, fn: mean)',
    "interpolation": CPU + ' |> filter(fn: (r) => r._field == "x${y}")',
    "two_fields_group_merged": CPU
    + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle") |> group(columns: ["host"]) |> sum()',
    "no_field_unknown_fields": R + ' |> filter(fn: (r) => r._measurement == "disk") |> last()',
    "group_partial_series_last": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"]) |> last()',
    "tag_values_unknown_tag": 'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "db", tag: "rack")',
    "import_other": 'import "strings"\n' + CPU + ' |> filter(fn: (r) => r._field == "usage")',
    "filter_after_keep": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> last() |> keep(columns: ["_value"])'
    ' |> filter(fn: (r) => r.host == "web1")',
    "map_replace_after_pivot": CPU + ' |> filter(fn: (r) => r._field == "usage" or r._field == "idle")'
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    " |> map(fn: (r) => ({r with usage: r.usage * 2.0}))",
    "regroup_by_other_column": CPU + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"])'
    ' |> sum() |> group(columns: ["region"])',
    "contains_python_set": CPU + ' |> filter(fn: (r) => r._field == "usage" and contains(value: r.host,'
    " set: \x000\x00))",
    "dashboard_range": 'from(bucket: "db") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'
    ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")',
    "field_keys_whole_bucket": 'import "influxdata/influxdb/schema"\nschema.fieldKeys(bucket: "db")',
    "group_limit_unsorted": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> group(columns: ["host"]) |> limit(n: 1)',
    "schema_fn": 'schema.measurements(bucket: "db")',
    "exists_field": CPU + ' |> filter(fn: (r) => r._field == "usage" and exists r.idle)',
    "fill": CPU + ' |> filter(fn: (r) => r._field == "usage") |> fill(value: 0.0)',
    "fill_previous": CPU
    + ' |> filter(fn: (r) => r._field == "usage") |> aggregateWindow(every: 1h, fn: mean)'
    " |> fill(usePrevious: true)",
}
