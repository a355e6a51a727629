"""influxdb-client (InfluxDB 2, Flux) -> influxdb3-python (InfluxDB 3, SQL): the upgrade's declaration.

The codemod is in :mod:`.codemod`, queries and result handling in :mod:`.queries`, the Flux parser in
:mod:`.flux` and its translation to SQL in :mod:`.flux_sql`; docs/rules.md explains IX-1 … IX-13.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from migrators.core.tree import ProjectTree
from migrators.core.upgrade import Packages, Upgrade
from migrators.core.versions import Versions
from migrators.files.requirements import RequirementRule, requirement_files
from migrators.upgrades.influxdb3.codemod import ADMIN_APIS, Influxdb3Codemod, project_writers
from migrators.upgrades.influxdb3.flow import ServiceFlow, analyze_flow, visited_by_codemod
from migrators.upgrades.influxdb3.flux_writes import measurement_keys
from migrators.upgrades.influxdb3.queries import QUERY_METHODS
from migrators.upgrades.influxdb3.sweep import InfluxSweeper

PYARROW_FOR_NUMPY1 = "pyarrow<26"
_NUMPY1_PIN = re.compile(r"(?im)^\s*numpy\s*(==\s*1\.|~=\s*1\.|<\s*2(?:\.0)*\b|<=\s*1\.)")


def _pins_numpy1(tree: ProjectTree) -> bool:
    return any(_NUMPY1_PIN.search(tree.read(f)) for f in requirement_files(tree))


# words without which no rule of the codemod can act on a file (see Influxdb3Upgrade.needs_codemod)
CODEMOD_WORDS = ("influxdb_client", "InfluxDBClient", "query_api", "write_api", "delete_api")
CLIENT_METHODS = ("ping", "version", "health", "ready", "build")
# methods whose call the codemod rewrites or marks whatever the receiver's name
CALLED = frozenset(
    {"query_api", "write_api", "delete_api", "from_env_properties", "from_config_file"}
    | set(ADMIN_APIS)
    | set(CLIENT_METHODS)
)


def _flow_names(flow: ServiceFlow) -> set[str]:
    """Service functions a call of which the query planner follows (by name)."""
    return {*flow.wrappers, *flow.row_wrappers, *flow.consumers, *flow.factories}


def _flow_plans(flow: ServiceFlow, rel: str) -> bool:
    """A builder or template of this file that a query of the unit receives."""
    planned = {r for r, _ in flow.used} | {r for r, _ in flow.templates} | {r for r, _ in flow.template_fills}
    return rel in planned


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _api_method_call(func: ast.expr) -> bool:
    """`<...>.write_api.write(...)`/`.close()`, `<...>.query_api.query(...)`: an API object by its name.
    (One built by a call `x = client.write_api()` is caught at that call.)"""
    if not isinstance(func, ast.Attribute):
        return False
    receiver = _called_name(func.value) if isinstance(func.value, (ast.Attribute, ast.Name)) else None
    if func.attr in ("write", "close"):
        return receiver == "write_api"
    return func.attr in QUERY_METHODS and receiver == "query_api"


def _codemod_acts(
    text: str, flow: ServiceFlow, conflicts: bool, syntax: Callable[[str], ast.Module | None] | None = None
) -> bool:
    """Whether the code (not its strings or comments) holds what a rule starts from: an import of
    influxdb_client (or of influxdb_client_3's SYNCHRONOUS), a call of a v2 API method or of a service
    function the planner follows, a query or write method where a query/write API is named, a Point of
    a conflicting measurement. A file CPython rejects goes on to libcst, whose error the report shows.
    `syntax`: the unit's CPython parse of a text (ProjectTree.syntax_of: the transform reuses it)."""
    if syntax is not None:
        module = syntax(text)
        if module is None:
            return True
    else:
        try:
            module = ast.parse(text)
        except (SyntaxError, ValueError):
            return True
    called = set(CALLED) | _flow_names(flow) | ({"Point"} if conflicts else set())
    for node in ast.walk(module):
        if isinstance(node, ast.Call):
            name = _called_name(node.func)
            if name in called or (name or "").endswith("InfluxDBClient") or _api_method_call(node.func):
                return True
        elif isinstance(node, ast.ImportFrom):
            if "influxdb_client" in (node.module or ""):
                return True
        elif isinstance(node, ast.Import) and any("influxdb_client" in a.name for a in node.names):
            return True
    return False


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
        # every rule of Influxdb3Codemod starts from a v2 name in the code (an import, a client, an API
        # object or method, a client's ping/version/health), a Point of a conflicting measurement,
        # or what the unit's data flow plans in this file or follows through the functions it calls
        flow = state.get("flow") if isinstance(state, dict) else None
        if not isinstance(flow, ServiceFlow):
            return True
        if _flow_plans(flow, rel):
            return True
        conflicts = bool(state.get("conflicts"))
        words = (*CODEMOD_WORDS, *ADMIN_APIS, *_flow_names(flow), *(("Point",) if conflicts else ()))
        if not any(word in text for word in words) and not (
            "client" in text and any(method in text for method in CLIENT_METHODS)
        ):
            return False
        return _codemod_acts(text, flow, conflicts, state.get("syntax"))

    def analyze(self, tree: ProjectTree, versions: Versions) -> dict[str, Any]:
        writers = project_writers(tree)
        return {
            "dataframes": bool(tree.grep(r"query_data_frame|data_frame_measurement_name|DataFrame")),
            "schema": measurement_keys(tree, writers.schema),
            "numpy1": _pins_numpy1(tree),
            "conflicts": writers.conflicts,
            "flow": analyze_flow(tree),
            # needs_codemod's CPython parse of a file, shared with its transform (no parse twice)
            "syntax": tree.syntax_of,
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
