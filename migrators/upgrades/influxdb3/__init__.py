"""influxdb-client (InfluxDB 2, Flux) -> influxdb3-python (InfluxDB 3, SQL): the upgrade's declaration.

The codemod is in :mod:`.codemod`, queries and result handling in :mod:`.queries`, the Flux parser in
:mod:`.flux` and its translation to SQL in :mod:`.flux_sql`; docs/rules.md explains IX-1 … IX-13.
"""

from __future__ import annotations

import re
from typing import Any

from migrators.core.tree import ProjectTree
from migrators.core.upgrade import Packages, Upgrade
from migrators.core.versions import Versions
from migrators.files.requirements import RequirementRule, requirement_files
from migrators.upgrades.influxdb3.codemod import ADMIN_APIS, Influxdb3Codemod, project_writers
from migrators.upgrades.influxdb3.flow import ServiceFlow, analyze_flow, visited_by_codemod
from migrators.upgrades.influxdb3.flux_writes import measurement_keys
from migrators.upgrades.influxdb3.sweep import InfluxSweeper

PYARROW_FOR_NUMPY1 = "pyarrow<26"
_NUMPY1_PIN = re.compile(r"(?im)^\s*numpy\s*(==\s*1\.|~=\s*1\.|<\s*2(?:\.0)*\b|<=\s*1\.)")


def _pins_numpy1(tree: ProjectTree) -> bool:
    return any(_NUMPY1_PIN.search(tree.read(f)) for f in requirement_files(tree))


# words without which no rule of the codemod can act on a file (see Influxdb3Upgrade.needs_codemod)
CODEMOD_WORDS = ("influxdb_client", "InfluxDBClient", "query_api", "write_api", "delete_api")
CLIENT_METHODS = ("ping", "version", "health", "ready", "build")


def _flow_reaches(flow: ServiceFlow, rel: str, text: str) -> bool:
    """The unit's data flow plans something here: a builder or template of this file that a query
    receives, or a call of a service function that runs or returns v2 queries (by its name)."""
    planned = {r for r, _ in flow.used} | {r for r, _ in flow.templates} | {r for r, _ in flow.template_fills}
    if rel in planned:
        return True
    names = [*flow.wrappers, *flow.row_wrappers, *flow.consumers, *flow.factories]
    return any(name in text for name in names)


class Influxdb3Upgrade(Upgrade):
    name = "influxdb3"
    description = "influxdb-client (InfluxDB 2, Flux) -> influxdb3-python (InfluxDB 3, SQL)"
    rule_prefix = "IX"
    packages = Packages(old=("influxdb-client",), new="influxdb3-python")
    target_version = "0.21.0"
    rules = {
        "IX-1": "imports move to influxdb_client_3; the requirement becomes influxdb3-python",
        "IX-2": "InfluxDBClient(url=...) becomes InfluxDBClient3(host=..., database=...)",
        "IX-3": "write_api().write(bucket=...) becomes client.write(database=...), arguments as keywords",
        "IX-4": "the write mode moves from write_api() onto the client's write_client_options",
        "IX-5": "flush/close of a write_api move to the client",
        "IX-6": "ApiException becomes InfluxDBError",
        "IX-7": "ping()/version() become get_server_version(); health()/ready() are blockers",
        "IX-8": "the async client has no InfluxDB 3 counterpart: blocker",
        "IX-9": "delete and admin APIs (buckets, orgs, users, tasks, ...) have no counterpart: blocker",
        "IX-10": "a key written both as a tag and as a field breaks InfluxDB 3 writes: blocker",
        "IX-11": "query_api() calls become client.query(sql, language=..., mode=...)",
        "IX-12": "the Flux text becomes SQL for recognised pipelines, else a blocker carrying the Flux",
        "IX-13": "result handling (FluxTable records) becomes Arrow rows with SQL column names",
        "IX-14": "sweep: Flux text left in a string (query, template, fragment or test assertion)",
        "IX-15": "sweep: v2 result handling left (.records, get_value()/get_field(), record.values)",
        "IX-16": "sweep: v2 client API left (InfluxDBClient, query_api/write_api/delete_api, bucket=/org=)",
        "IX-17": "sweep: the InfluxDB 2 HTTP API called directly (/api/v2/query, /api/v2/write)",
        "IX-18": "sweep: a test mocks or fakes the v2 client (patches, return values, fake tables)",
    }
    tokens = ("influxdb_client", "query_api", "write_api", "delete_api", "from(bucket")
    modules = ("influxdb_client",)
    codemod = Influxdb3Codemod
    sweeper = InfluxSweeper

    def precheck(self, rel: str, text: str) -> bool:
        # a bare `write_api` attribute of some other library is not ours: require the import or Flux
        # (the data flow counts uses only in files this accepts: one predicate for both)
        return visited_by_codemod(text)

    def needs_codemod(self, rel: str, text: str, state: Any = None) -> bool:
        # every rule of Influxdb3Codemod starts from a v2 name written in the file (an import, a client,
        # an API object, an admin API, a client's ping/version/health), a Point of a conflicting
        # measurement, or what the unit's data flow says about this file and the functions it calls
        flow = state.get("flow") if isinstance(state, dict) else None
        if not isinstance(flow, ServiceFlow):
            return True
        if any(word in text for word in CODEMOD_WORDS) or any(api in text for api in ADMIN_APIS):
            return True
        if "client" in text and any(method in text for method in CLIENT_METHODS):
            return True  # IX-7 on anything named client
        if "Point" in text and state.get("conflicts"):
            return True  # IX-10
        return _flow_reaches(flow, rel, text)

    def analyze(self, tree: ProjectTree, versions: Versions) -> dict[str, Any]:
        writers = project_writers(tree)
        return {
            "dataframes": bool(tree.grep(r"query_data_frame|data_frame_measurement_name|DataFrame")),
            "schema": measurement_keys(tree, writers.schema),
            "numpy1": _pins_numpy1(tree),
            "conflicts": writers.conflicts,
            "flow": analyze_flow(tree),
        }

    def requirement_rules(self, versions: Versions, state: Any) -> list[RequirementRule]:
        extras = frozenset({"pandas"}) if state and state.get("dataframes") else frozenset()
        # influxdb3-python pulls pyarrow; pyarrow 26 refuses to import beside NumPy 1.x, so a
        # tree that pins NumPy 1 (often through an old pandas) gets the last pyarrow that works.
        companion = PYARROW_FOR_NUMPY1 if state and state.get("numpy1") else None
        return [
            RequirementRule(
                "IX-1",
                "influxdb-client",
                rename_to="influxdb3-python",
                version=versions.target("influxdb3-python"),
                extras=extras,
                companion=companion,
            )
        ]

    def python_floor(self, versions: Versions) -> tuple[str, str] | None:
        return ("IX-1", "3.9") if versions.at_least("influxdb3-python", "0.21") else ("IX-1", "3.8")
