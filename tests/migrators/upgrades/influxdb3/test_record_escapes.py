"""IX-13: a record loop flattened to `for record in _influxdb3_rows(result)` hands dicts of SQL columns to
its body. Every read of the record is rewritten from the query's translation, or marked; a record passed on
(`to_reading(record)`, `rows.append(record)`) reaches code written for a FluxRecord (`get_time()`,
`.values`, `_value`) and is marked where it leaves, as are the Flux-only keys no SQL row has."""

from __future__ import annotations

from tests.migrators.helpers import dedent, marked_above, run_file

STATE = {"dataframes": False, "schema": {"m": ["sensor"]}}
QUERY = 'client.query_api().query(\'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "m" and r._field == "temp")\')'
MARK = "# MIGRATION-BLOCKER(IX-13): "


def _migrate(body: str) -> str:
    source = dedent(
        f"""
        from influxdb_client import InfluxDBClient

        client = InfluxDBClient(url="http://h:8181", token="t", org="o")


        def read():
            tables = {QUERY}
        """
    )
    new, _ = run_file("influxdb3", source + body, state=STATE, rel="app/q.py")
    return new


def test_a_record_passed_to_a_function_is_marked_where_it_leaves():
    new = _migrate("    return [to_reading(r) for t in tables for r in t.records]\n")
    assert "for r in _influxdb3_rows(tables)" in new
    assert marked_above(new, "return [to_reading(r) for r in _influxdb3_rows(tables)]", "IX-13")
    assert "was a FluxRecord and is now a dict of SQL columns" in new


def test_a_record_appended_to_a_list_is_marked():
    body = "    out = []\n    for t in tables:\n        for r in t.records:\n            out.append(r)\n    return out\n"
    new = _migrate(body)
    assert marked_above(new, "out.append(r)", "IX-13")


def test_field_and_measurement_keys_become_the_translated_names():
    body = (
        "    out = []\n    for t in tables:\n        for r in t.records:\n"
        '            out.append((r["_field"], r["_measurement"], r.values["_field"], r["sensor"]))\n'
        "    return out\n"
    )
    new = _migrate(body)
    assert 'out.append(("temp", "m", "temp", r["sensor"]))' in new
    assert MARK not in new


def test_flux_only_keys_are_marked_once_per_statement():
    new = _migrate('    return [(r["_start"], r["_stop"], r["table"]) for t in tables for r in t.records]\n')
    assert new.count(MARK) == 1
    assert "_start, _stop, result and table are Flux-only columns" in new


def test_a_key_chosen_at_run_time_reads_the_same_column():
    # `{k: r.values.get(k) for k in FIELDS}` reads tag or field columns, which SQL rows keep by name
    new = _migrate("    return [{k: r.values.get(k) for k in KEYS} for t in tables for r in t.records]\n")
    assert MARK not in new and "{k: r.get(k) for k in KEYS}" in new


def test_records_a_generator_feeds_to_a_loop_are_read_in_that_loop():
    body = (
        "    out = []\n    for record in (rec for t in tables for rec in t.records):\n"
        '        out.append((record["_value"], record.get_time(), record["sensor"]))\n    return out\n'
    )
    new = _migrate(body)
    assert MARK not in new
    assert (
        'out.append((record["temp"], record["time"].replace(tzinfo=timezone.utc), record["sensor"]))' in new
    )
    passed_on = _migrate(body.replace("out.append((", "out.append(convert(record), ("))
    assert marked_above(
        passed_on,
        'out.append(convert(record), (record["temp"], record["time"].replace(tzinfo=timezone.utc), record["sensor"]))',
        "IX-13",
    )


def test_reads_of_tags_and_accessors_stay_unmarked():
    body = '    return [(r.get_time(), r.get_value(), r["sensor"], r.values.get("sensor")) for t in tables for r in t.records]\n'
    new = _migrate(body)
    assert MARK not in new
    assert 'r["temp"]' in new and 'r.get("sensor")' in new
