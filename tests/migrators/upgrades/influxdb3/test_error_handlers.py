"""v2 error handlers (IX-6): what `except ApiException` caught and read, and what v3 raises.

* a failed v3 query raises ``InfluxDB3ClientQueryError`` (influxdb_client_3/__init__.py: query() turns an
  ArrowException into it), not ``InfluxDBError``: a handler around a v2 query catches it too, or the
  service's fallback (`return None` on an error) becomes an unhandled exception;
* v2's ``ApiException`` always had ``status``/``reason``/``body``/``headers``; in v3 only an HTTP write
  failure does (write_client/write_exceptions.py): a partial write raises ``InfluxDBPartialWriteError`` and a
  failed query ``InfluxDB3ClientQueryError``, without them. A read in the handler is an AttributeError on
  an error path services' tests rarely reach: read into a log line or an f-string it becomes
  ``getattr(exc, "status", None)``; elsewhere (a comparison, a return) it is marked.
"""

from __future__ import annotations

from migrators.upgrades.influxdb3.codemod import ERROR_ATTRIBUTES
from tests.migrators.helpers import assert_codemod, dedent, run_file


def test_a_handler_around_a_query_also_catches_the_v3_query_error():
    changes = assert_codemod(
        "influxdb3",
        """
        from influxdb_client.rest import ApiException


        def rooms(api, sql):
            try:
                return api.query(sql, language="sql")
            except ApiException:
                return []
        """,
        """
        from influxdb_client_3.exceptions import InfluxDB3ClientQueryError, InfluxDBError


        def rooms(api, sql):
            try:
                return api.query(sql, language="sql")
            except (InfluxDBError, InfluxDB3ClientQueryError):
                return []
        """,
        rel="app/rooms.py",
    )
    assert any(c.rule == "IX-6" and c.kind == "rewrite" for c in changes)


def test_a_handler_around_a_write_keeps_its_type_and_marks_v2_attributes():
    before = dedent(
        """
        from influxdb_client.rest import ApiException


        def put(writer, bucket, points, log):
            try:
                writer.write(bucket=bucket, record=points)
            except ApiException as exc:
                if exc.status == 429:
                    log.warning("throttled: %s", exc.headers)
                raise
        """
    )
    new, _ = run_file("influxdb3", before, rel="app/put.py")
    assert "except InfluxDBError as exc:" in new, new
    assert "InfluxDB3ClientQueryError" not in new.split("MIGRATION-BLOCKER")[0], new
    lines = new.splitlines()
    marked = [lines[i + 1].strip() for i, line in enumerate(lines) if "MIGRATION-BLOCKER(IX-6)" in line]
    # a comparison is marked (no stand-in value keeps its meaning); a read into a log line becomes
    # getattr(..., None), which v2 logged as a value and v3 would have raised AttributeError for
    assert marked == ["if exc.status == 429:"], new
    assert 'log.warning("throttled: %s", getattr(exc, "headers", None))' in new, new
    again, _ = run_file("influxdb3", new, rel="app/put.py")
    assert again == new


def test_v2_influxdb_error_lost_only_headers():
    assert ERROR_ATTRIBUTES["influxdb_client.client.exceptions"] == ("headers",)
    before = dedent(
        """
        from influxdb_client.client.exceptions import InfluxDBError


        def put(writer, points, log):
            try:
                writer.write(bucket="b", record=points)
            except InfluxDBError as e:
                log.warning("retry after %s: %s", e.retry_after, e.message)
        """
    )
    new, _ = run_file("influxdb3", before, rel="app/put.py")
    assert "MIGRATION-BLOCKER" not in new and "except InfluxDBError as e:" in new, new


def test_a_handler_of_other_errors_is_left_alone():
    before = dedent(
        """
        from influxdb_client import InfluxDBClient


        def rooms(api, flux, log):
            try:
                return api.query(flux)
            except KeyError as exc:
                log.warning("%s", exc.status)
        """
    )
    new, _ = run_file("influxdb3", before, rel="app/rooms.py")
    assert "except KeyError as exc:" in new and "IX-6" not in new, new


def test_reads_into_log_lines_and_f_strings_become_getattr():
    before = dedent(
        """
        import logging

        from influxdb_client.rest import ApiException

        log = logging.getLogger(__name__)


        def put(writer, points):
            try:
                writer.write(bucket="b", record=points)
            except ApiException as exc:
                log.error("influx write rejected: %s %s", exc.status, exc.body)
                raise RuntimeError(f"write failed ({exc.reason})") from exc
        """
    )
    new, changes = run_file("influxdb3", before, rel="app/put.py")
    assert "MIGRATION-BLOCKER" not in new, new
    assert (
        'log.error("influx write rejected: %s %s", getattr(exc, "status", None), getattr(exc, "body", None))'
        in new
    )
    assert "raise RuntimeError(f\"write failed ({getattr(exc, 'reason', None)})\") from exc" in new, new
    assert sum(c.rule == "IX-6" and c.kind == "rewrite" for c in changes) == 3
    again, _ = run_file("influxdb3", new, rel="app/put.py")
    assert again == new
