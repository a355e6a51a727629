"""The post-migrate check finds nothing to fail on the migration corpus's fleet-gps service.

It used to fail once there (seen as "1 check failures" in bench_codemods.py): the class import
`from influxdb_client import InfluxDBClient as idbc` became `InfluxDBClient3 as idbc`, but the
constructor called through the alias kept its v2 keywords (`idbc(url=..., org=...)`).
"""

from __future__ import annotations

from pathlib import Path

from migrators import migrate_tree
from migrators.upgrades import default_registry

ROOT = Path(__file__).resolve().parents[3]


def test_a_constructor_called_through_a_class_alias_is_converted_and_the_check_passes():
    result = migrate_tree(ROOT / "tests/migrators/corpus/fleet-gps", registry=default_registry(), write=False)
    assert result.check is not None and result.check.failures == []
    store = result.file("app/store.py").new
    assert "from influxdb_client_3 import InfluxDBClient3 as idbc" in store
    assert "return idbc(host=self.cfg.influx_url, token=self.cfg.influx_token)" in store
    assert any(c.rule == "IX-2" and c.kind == "rewrite" for c in result.file("app/store.py").changes)
