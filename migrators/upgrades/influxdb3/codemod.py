"""influxdb-client (v2 API, Flux) -> influxdb3-python (InfluxDB 3, SQL): docs/rules.md, IX-1 … IX-13.

Client objects are followed by the text of what they are assigned to (``self.client``,
``client``) inside the module. A v2 ``write_api``/``query_api`` object becomes the client itself
(``self.write_api = self.client``), so that other modules that reach it through an attribute keep
working, and their ``.write(bucket=…)`` / ``.query(flux)`` calls are rewritten the same way.
Queries and result handling live in :mod:`.queries`, the Flux parser in :mod:`.flux` and its
translation to SQL in :mod:`.flux_sql`; the upgrade's declaration is in the package's ``__init__``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from migrators.core.codemod import LightVisitor, MigrationCodemod, can_lead, dotted, iter_imports
from migrators.core.lines import render
from migrators.core.tree import ProjectTree
from migrators.core.walk import walk
from migrators.upgrades.influxdb3.flow import FLUX_HINT, ServiceFlow, template_text
from migrators.upgrades.influxdb3.flux import Unsupported
from migrators.upgrades.influxdb3.flux_sql import translate
from migrators.upgrades.influxdb3.queries import (
    FLUX_DOC,
    ModuleScope,
    Plan,
    QueryPlanner,
    check_template_sql,
    flux_text,
    hole_names,
    sql_expression,
)
from migrators.upgrades.influxdb3.runtime import EXPAND, EXPAND_HELPER, QUERY_HELPER, RUNTIME_QUERY
from migrators.upgrades.influxdb3.templates import unfilled

OLD, NEW = "influxdb_client", "influxdb_client_3"
# old module -> {old name: (new module, new name)}
IMPORTS: dict[str, dict[str, tuple[str, str]]] = {
    "influxdb_client": {
        "InfluxDBClient": (NEW, "InfluxDBClient3"),
        "Point": (NEW, "Point"),
        "WritePrecision": (NEW, "WritePrecision"),
        "WriteOptions": (NEW, "WriteOptions"),
        "QueryApi": (NEW, "InfluxDBClient3"),
        "WriteApi": (NEW, "InfluxDBClient3"),
    },
    "influxdb_client.client.write_api": {
        **{
            n: (NEW, n) for n in ("SYNCHRONOUS", "ASYNCHRONOUS", "WriteOptions", "PointSettings", "WriteType")
        },
        "WriteApi": (NEW, "InfluxDBClient3"),
    },
    # the query and write APIs are the client itself in v3 (IX-4, IX-11): their type names become its name
    "influxdb_client.client.query_api": {"QueryApi": (NEW, "InfluxDBClient3")},
    "influxdb_client.client.write.point": {"Point": (NEW, "Point")},
    "influxdb_client.domain.write_precision": {"WritePrecision": (NEW, "WritePrecision")},
    "influxdb_client.rest": {"ApiException": (f"{NEW}.exceptions", "InfluxDBError")},
    "influxdb_client.client.exceptions": {"InfluxDBError": (f"{NEW}.exceptions", "InfluxDBError")},
}
# v2 error classes' modules -> the attributes v2's class always had and not every influxdb3-python error
# has (a partial write's InfluxDBPartialWriteError, a query's InfluxDB3ClientQueryError)
ERROR_ATTRIBUTES = {
    "influxdb_client.rest": ("status", "reason", "body", "headers"),  # ApiException
    "influxdb_client.client.exceptions": ("headers",),  # InfluxDBError
}
RENAMES = {
    "InfluxDBClient": "InfluxDBClient3",
    "ApiException": "InfluxDBError",
    "QueryApi": "InfluxDBClient3",
    "WriteApi": "InfluxDBClient3",
}
ADMIN_APIS = {
    "delete_api": "InfluxDB 3 has no predicate delete; use a database retention period (set at creation "
    "in Core: influxdb3 create database --retention-period 30d DB) or DELETE "
    "/api/v3/configure/table for a whole table",
    "buckets_api": "buckets are databases: GET/POST/DELETE /api/v3/configure/database",
    "organizations_api": "InfluxDB 3 has no organisations",
    "users_api": "InfluxDB 3 has no users",
    "authorizations_api": "tokens: /api/v3/configure/token",
    "labels_api": "InfluxDB 3 has no labels",
    "tasks_api": "InfluxDB 3 has no Flux tasks (use the processing engine)",
    "invokable_scripts_api": "InfluxDB 3 has no invokable scripts",
}
CTOR_POSITIONAL = ("url", "token", "debug", "timeout", "enable_gzip", "org", "default_tags")
WRITE_POSITIONAL = ("bucket", "org", "record", "write_precision")
# the v2 names a rule or plan starts from wherever it is (besides the names a module binds, see
# Influxdb3Codemod._inert); "bucket": a v2 write's keyword, and a Flux source
INERT_WORDS = ("influxdb_client", "InfluxDBClient", "query_api", "write_api", "delete_api", "bucket")
CLIENT_METHODS = ("ping", "version", "health", "ready", "build")
PING_HELPER = '''
def _influxdb3_ping(client) -> bool:
    """v2 ping(): True when the server answers GET /ping (influxdb3-python has no ping(), IX-7)."""
    try:
        client.get_server_version()
    except Exception:
        return False
    return True
'''
FRAME_HELPER = '''
def _influxdb3_frame(frame):
    """The pandas frame of an SQL query with its times UTC-aware, as v2's query_data_frame() gave them
    (IX-13): InfluxDB 3 returns naive UTC times, which aware datetimes cannot be compared with."""
    for name in frame.columns:
        if str(frame[name].dtype).startswith("datetime64[") and frame[name].dt.tz is None:
            frame[name] = frame[name].dt.tz_localize("UTC")
    return frame
'''
ROWS_HELPER = '''
def _influxdb3_rows(table) -> list:
    """Rows of an Arrow table as dicts (IX-13). Times are cut to microseconds first: a Python datetime
    holds no nanoseconds, and pyarrow refuses to convert a nanosecond time that is not a whole
    microsecond (the v2 client cut them the same way)."""
    columns = [
        column.cast(pyarrow.timestamp("us", column.type.tz), safe=False)
        if pyarrow.types.is_timestamp(column.type)
        else column
        for column in table.columns
    ]
    return pyarrow.table(columns, names=table.column_names).to_pylist()
'''
HELPERS = {
    "_influxdb3_ping": PING_HELPER,
    "_influxdb3_rows": ROWS_HELPER,
    "_influxdb3_frame": FRAME_HELPER,
    EXPAND: EXPAND_HELPER,
    RUNTIME_QUERY: QUERY_HELPER,
}


@dataclass
class ModuleFacts:
    """What the pre-pass learns about a module before rewriting it."""

    imported: dict[str, str] = field(default_factory=dict)  # local name -> old module
    clients: dict[str, cst.Call] = field(default_factory=dict)  # target text -> constructor
    write_apis: dict[str, tuple[str, cst.Call]] = field(default_factory=dict)  # target -> (client, call)
    query_apis: set[str] = field(default_factory=set)
    buckets: set[str] = field(default_factory=set)
    # id(ctor) -> names defined where it is built (parameters, earlier assignments, module names)
    assigned_before: dict[int, set[str]] = field(default_factory=dict)
    module_names: set[str] = field(default_factory=set)
    async_clients: set[str] = field(default_factory=set)  # targets holding an InfluxDBClientAsync
    # `with client.write_api(...) as w:`: id of each such call; the names it binds and the parameters
    # annotated `WriteApi` hold write APIs too (with no options to move to the client)
    with_writers: set[int] = field(default_factory=set)
    write_api_names: set[str] = field(default_factory=set)
    # functions returning a write API (`def get_writer(): ... return _write_api`, the lazy getter)
    write_factories: set[str] = field(default_factory=set)
    # other local names of the v2 client class (`from influxdb_client import InfluxDBClient as idbc`):
    # the import turns them into InfluxDBClient3, so their calls are constructors to convert too
    client_aliases: set[str] = field(default_factory=set)
    # id(ctor) -> (the class whose body builds it, the names that body binds above it): `class Config:
    # BUCKET = "b"; CLIENT = InfluxDBClient(...)` may say `database=BUCKET` there, not `Config.BUCKET`
    class_body: dict[int, tuple[str, frozenset[str]]] = field(default_factory=dict)

    def builds_client(self, func: str) -> bool:
        """`func` (a dotted name) names the v2 client class."""
        return func.split(".")[-1] == "InfluxDBClient" or func in self.client_aliases


# what every fact _Facts records starts from: a v2 import, constructor or API object, a write's bucket,
# Flux reading a bucket (a def holding none of them, nor a client alias, adds no fact)
FACT_WORDS = ("influxdb_client", "InfluxDBClient", "query_api", "write", "bucket")
# Flux reading a bucket named in it; a placeholder of a template filled later (`{b}`, `%s`, `%(b)s`,
# `$b`) is no name: taken for one it named the client's database '%s'
LITERAL_BUCKET = re.compile(r'from\(\s*bucket\s*:\s*"([^"{}%$]+)"')


class _Facts(LightVisitor):
    def __init__(self, module: cst.Module, text_of: Callable[[cst.FunctionDef], str | None] | None = None):
        self.src_module = module
        self.facts = ModuleFacts(module_names=_top_level_names(module))
        self._assigned: list[set[str]] = [set()]
        self._functions: list[str] = []  # names of the defs around the node visited
        self._text_of = text_of  # a def's source lines, where known (see _inert)
        # a client built at module level runs at import: only names bound by the statements above it
        # exist then (`client = ...(database=BUCKET)` above `BUCKET = ...` is a NameError)
        self._top = {id(statement): i for i, statement in enumerate(module.body)}
        self._bound_before = _names_bound_before(module)
        self._top_index = 0
        # the scopes around the node visited, innermost last: a class body's name and the names it binds
        # so far, or None for a def
        self._scopes: list[tuple[str, set[str]] | None] = []
        # module-level string constants (`QUERY = 'from(bucket: "%s") ...'`), for `QUERY % BUCKET`
        self._strings: dict[str, str] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        index = self._top.get(id(node))
        if index is not None:
            self._top_index = index
        return super().on_visit(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        mod = dotted(node.module) if node.module else None
        if mod and (mod == OLD or mod.startswith(OLD + ".")) and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                self.facts.imported[(alias.asname.name.value if alias.asname else alias.name.value)] = mod
                if alias.asname and alias.name.value == "InfluxDBClient":
                    self.facts.client_aliases.add(alias.asname.name.value)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        # `async with InfluxDBClientAsync(...) as client:`
        call, name = node.item, node.asname.name if node.asname else None
        if isinstance(call, cst.Call) and (dotted(call.func) or "").endswith("InfluxDBClientAsync"):
            if isinstance(name, cst.Name):
                self.facts.async_clients.add(name.value)
        elif _is_write_api_call(call):
            self.facts.with_writers.add(id(call))
            if isinstance(name, cst.Name):
                self.facts.write_api_names.add(name.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        # a function's parameters are defined in it: `database=bucket` may use them there
        params = [*node.params.params, *node.params.kwonly_params, *node.params.posonly_params]
        self._assigned.append({p.name.value for p in params})  # popped by leave_FunctionDef
        self._scopes.append(None)
        self._functions.append(node.name.value)
        if _returns_query_api_property(node):  # `@cached_property def reader(self): return ....query_api()`
            self.facts.query_apis.add(f"self.{node.name.value}")
        for param in params:  # `q: QueryApi = Depends(get_query_api)`: an injected API
            kind = self._api_annotation(param.annotation)
            if kind == "QueryApi":
                self.facts.query_apis.add(param.name.value)
            elif kind == "WriteApi":
                self.facts.write_api_names.add(param.name.value)
        return not self._inert(node)

    def _api_annotation(self, annotation: cst.Annotation | None) -> str | None:
        """The v2 API class (imported from influxdb_client) a parameter is annotated with."""
        name = dotted(annotation.annotation) if annotation is not None else None
        if name is None or name not in self.facts.imported:
            return None
        return name if name in ("QueryApi", "WriteApi") else None

    def _inert(self, node: cst.FunctionDef) -> bool:
        """Nothing in the def can add a fact: what it assigns stays in its own scope (popped when it is
        left), and its text holds no FACT_WORDS and no local name of the v2 client class."""
        text = self._text_of(node) if self._text_of is not None else None
        if text is None:
            return False
        words = (*FACT_WORDS, *self.facts.client_aliases)
        return not any(word in text for word in words)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._assigned.pop()
        self._functions.pop()
        self._scopes.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._scopes.append((node.name.value, set()))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._scopes.pop()

    def visit_Return(self, node: cst.Return) -> None:
        value, facts = node.value, self.facts
        name = dotted(value) if value is not None else None
        called = dotted(value.func) if isinstance(value, cst.Call) else None
        if self._functions and (
            (name is not None and (name in facts.write_apis or name in facts.write_api_names))
            or (called is not None and called.split(".")[-1] in facts.write_factories)
        ):
            facts.write_factories.add(self._functions[-1])

    def visit_Assign(self, node: cst.Assign) -> None:
        target = dotted(node.targets[0].target) if len(node.targets) == 1 else None
        self._learn(target, node.value)
        for assign_target in node.targets:  # `self.bucket, self.org = bucket, org`
            if isinstance(assign_target.target, (cst.Tuple, cst.List)):
                names = (dotted(e.value) for e in assign_target.target.elements)
                self._assigned[-1].update(n for n in names if n)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        # `self.qapi: QueryApi = client.query_api()` holds what the plain assignment would
        if node.value is not None:
            self._learn(dotted(node.target), node.value)

    def _learn(self, target: str | None, value: cst.BaseExpression) -> None:
        if target and isinstance(value, cst.Call):
            func = dotted(value.func) or ""
            if func.split(".")[-1] == "InfluxDBClientAsync":
                self.facts.async_clients.add(target)
                return
            elif self.facts.builds_client(func) or func == "InfluxDBClient3":
                self.facts.clients[target] = value
            elif func.endswith(".write_api"):
                self.facts.write_apis[target] = (func[: -len(".write_api")], value)
            elif _is_write_api_of_call(value):  # `_write_api = get_client().write_api(...)`
                self.facts.write_api_names.add(target)
            elif func.endswith(".query_api"):
                self.facts.query_apis.add(target)
        if target:
            self._assigned[-1].add(target)
            if self._scopes and self._scopes[-1] is not None:
                self._scopes[-1][1].add(target)
        if target and not self._scopes and isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
            text = value.evaluated_value
            if isinstance(text, str):
                self._strings[target] = text

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.facts.builds_client(dotted(func) or ""):
            module = (
                self._bound_before[self._top_index] if len(self._assigned) == 1 else self.facts.module_names
            )
            self.facts.assigned_before[id(node)] = set(self._assigned[-1]) | module
            if self._scopes and self._scopes[-1] is not None:
                name, bound = self._scopes[-1]
                self.facts.class_body[id(node)] = (name, frozenset(bound))
        if isinstance(func, cst.Attribute) and func.attr.value == "write":
            for i, arg in enumerate(node.args):
                if (arg.keyword and arg.keyword.value == "bucket") or (arg.keyword is None and i == 0):
                    self.facts.buckets.add(self.src_module.code_for_node(arg.value))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        """`QUERY % BUCKET` / `'from(bucket: "%s") ...' % (BUCKET, n)`: the bucket fills the template's
        `from(bucket: "%s")` (LITERAL_BUCKET leaves that placeholder alone)."""
        if not isinstance(node.operator, cst.Modulo):
            return
        left = node.left
        if isinstance(left, cst.Name):
            text = self._strings.get(left.value)
        elif isinstance(left, (cst.SimpleString, cst.ConcatenatedString)):
            text = left.evaluated_value if isinstance(left.evaluated_value, str) else None
        else:
            text = None
        bucket = _percent_bucket(text, node.right) if text else None
        if bucket is not None:
            self.facts.buckets.add(self.src_module.code_for_node(bucket))

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        text = self.src_module.code_for_node(node)
        match = re.search(r'from\(\s*bucket\s*:\s*"\{([^{}]+)\}"', text)
        if match:
            self.facts.buckets.add(match.group(1).strip())
        self._literal_bucket(text)  # f"from(bucket: \"b\") ... {x}"

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self._literal_bucket(node.value)

    def _literal_bucket(self, text: str) -> None:
        match = LITERAL_BUCKET.search(text)
        if match:
            self.facts.buckets.add(repr(match.group(1)))


def _percent_bucket(template: str, values: cst.BaseExpression) -> cst.BaseExpression | None:
    """The expression `template % values` puts in `from(bucket: "%s")`: the n-th of a tuple for the n-th
    `%s`, the whole right side for a template with one placeholder; None for anything else
    (`%(b)s` with a dict, `%d`, a placeholder count that does not match)."""
    match = re.search(r'from\(\s*bucket\s*:\s*"%s"', template)
    if match is None:
        return None
    placeholders = re.findall(r"%[^%]", template.replace("%%", ""))
    if any(p != "%s" for p in placeholders):
        return None
    index = len(re.findall(r"%s", template[: match.start()].replace("%%", "")))
    if isinstance(values, cst.Tuple):
        items = values.elements
        if len(items) != len(placeholders) or any(isinstance(e, cst.StarredElement) for e in items):
            return None
        return items[index].value
    return values if len(placeholders) == 1 else None


def _imports_from(module: cst.Module, package: str, name: str) -> bool:
    """A top-level `from package import name` (possibly among others)."""
    for statement in module.body:
        for small in getattr(statement, "body", ()) if isinstance(statement, cst.SimpleStatementLine) else ():
            if (
                isinstance(small, cst.ImportFrom)
                and small.module is not None
                and dotted(small.module) == package
                and not isinstance(small.names, cst.ImportStar)
                and any(dotted(alias.name) == name for alias in small.names)
            ):
                return True
    return False


@functools.cache
def _helper_statement(text: str) -> cst.BaseStatement:
    """A helper's def, parsed once per run's process (nodes are immutable: every module may hold it)."""
    return cst.parse_module(text).body[0]


class Influxdb3Codemod(MigrationCodemod):
    DESCRIPTION = "influxdb-client (v2, Flux) -> influxdb3-python (SQL)"

    # -- module / functions: pre-pass and query planning
    def visit_Module(self, node: cst.Module) -> None:
        self.src_module = node
        self._words: frozenset[str] | None = None
        self._header_map: dict[int, tuple[cst.CSTNode, ...]] | None = None
        visitor = _Facts(node, self.statement_text)
        walk(node, visitor)
        self.facts = visitor.facts
        self.plan = Plan()
        self.needs_ping = False
        self.new_imports: set[tuple[str, str, str | None]] = set()  # (module, name, asname) given so far
        self._query_handlers: set[int] = set()  # id of except clauses around a v2 query (visit_Try)
        self.needs_options = False
        self.carried: list[cst.Comment] = []  # comments of calls folded in the current statement
        self.scope = _module_scope(node, self.info.rel)
        self.planner = QueryPlanner(
            node, self.is_query_api, self.schema(), self.plan, self.flow(), self.scope
        )
        self.planner.plan_function(node)
        self.plan_builders(node)

    def flow(self) -> ServiceFlow:
        flow = (self.state or {}).get("flow") if isinstance(self.state, dict) else None
        return flow if isinstance(flow, ServiceFlow) else ServiceFlow()

    def plan_builders(self, module: cst.Module) -> None:
        """Builders of this module that a query of the service receives: their Flux becomes SQL here
        (value holes as $parameters the call sites bind, see QueryPlanner.from_builder)."""
        flow = self.flow()
        used = {name for rel, name in flow.used if rel == self.info.rel}
        templates = {name for rel, name in flow.templates if rel == self.info.rel}
        for statement in module.body:
            name = _defined_name(statement)
            if name in templates:
                self.plan_template(statement, name)
            if name not in used:
                continue
            returned = (
                _returned(statement) if isinstance(statement, cst.FunctionDef) else statement.body[0].value
            )
            if (self.info.rel, name) in flow.template_fills:
                self.plan_template_builder(returned, name)
                continue
            holes: list[str] = []
            text = flux_text(returned, module, holes) if returned is not None else None
            if text is None:
                continue
            try:
                # runtime: a caller that cannot send _influxdb3_expand() is marked where it calls
                result = translate(text, hole_names(holes), self.schema(), runtime=True)
            except Unsupported as exc:
                self.plan.marks.append(
                    (
                        returned,
                        "IX-12",
                        f"translate Flux to SQL ({exc}; {FLUX_DOC}): "
                        + " ".join(self.code(returned).split()),
                    )
                )
                continue
            self.plan.replace[id(returned)] = sql_expression(result.sql, holes, returned)
            self.plan.rewrites.append((returned, "IX-12", f"Flux of {name} translated"))

    def template_sql(self, name: str):
        """(the template's own holes, its translation or the reason it has none) for template `name` of
        this module."""
        builder = next((b for b in self.flow().builders.get(name, []) if b.rel == self.info.rel), None)
        text = template_text(builder) if builder is not None else None
        own = unfilled(text) if text is not None else None
        if own is None:
            return None, "not a template"
        try:
            result = translate(own.text, hole_names(own.keys), self.schema(), runtime=True)
            check_template_sql(result)
        except Unsupported as exc:
            return own, str(exc)
        return own, result

    def plan_template_builder(self, returned: cst.BaseExpression, name: str) -> None:
        """`return T.format(...)`: the builder returns the template, SQL now; its callers bind the values."""
        base = returned.func.value if isinstance(returned, cst.Call) else getattr(returned, "left", None)
        if not isinstance(base, cst.Name) or (self.info.rel, base.value) not in self.flow().templates:
            return
        _, result = self.template_sql(base.value)
        if isinstance(result, str):
            return  # the template is marked where it is written; its callers are marked too
        self.plan.replace[id(returned)] = base
        self.plan.rewrites.append((returned, "IX-12", f"{name}() returns template {base.value}, SQL now"))

    def plan_template(self, statement: cst.CSTNode, name: str) -> None:
        """A template constant every use of which fills it for a query: SQL with $parameters named by
        its keys, the fills binding them (QueryPlanner.from_template)."""
        own, result = self.template_sql(name)
        value = statement.body[0].value
        if own is None:
            return
        if isinstance(result, str):
            text = " ".join(self.code(value).split())
            self.plan.marks.append((value, "IX-12", f"translate Flux to SQL ({result}; {FLUX_DOC}): {text}"))
            return
        self.plan.replace[id(value)] = sql_expression(result.sql, own.keys, value)
        self.plan.rewrites.append((value, "IX-12", f"template {name} translated; its fills bind $parameters"))

    def code(self, node: cst.CSTNode) -> str:
        return self.src_module.code_for_node(node)

    def schema(self) -> dict[str, list[str]]:
        return dict((self.state or {}).get("schema", {})) if isinstance(self.state, dict) else {}

    def under_async(self, node: cst.BaseExpression) -> bool:
        """`node` is reached from an InfluxDBClientAsync (self.client.query_api(), client.write_api())."""
        while isinstance(node, (cst.Call, cst.Attribute)):
            text = dotted(node)
            if text and text in self.facts.async_clients:
                return True
            node = node.func if isinstance(node, cst.Call) else node.value
        return isinstance(node, cst.Name) and node.value in self.facts.async_clients

    def is_query_api(self, node: cst.BaseExpression) -> bool:
        if self.under_async(node):
            return False  # the async client has no v3 counterpart: marked (IX-8), never rewritten as sync
        text = dotted(node)
        if text and (text.endswith(".query_api") or text == "query_api" or text in self.facts.query_apis):
            return True
        if isinstance(node, cst.Call) and (dotted(node.func) or "").split(".")[-1] in self.flow().factories:
            return True  # `_query_api().query(...)`: a function of the service returning the query API
        # `x.query_api()` whatever x is (`self._get_client().query_api()` has no dotted name)
        return (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "query_api"
            and not node.args
        )

    def is_write_api(self, node: cst.BaseExpression) -> bool:
        if self.under_async(node):
            return False
        text = dotted(node)
        if text and (
            text.endswith(".write_api")
            or text == "write_api"
            or text in self.facts.write_apis
            or text in self.facts.write_api_names
            or _reached_through(text, self.facts.write_apis)
        ):
            return True
        if (
            isinstance(node, cst.Call)
            and (dotted(node.func) or "").split(".")[-1] in self.facts.write_factories
        ):
            return True  # `get_writer().write(...)`: a function of this module returning the write API
        return (  # `x.write_api()` whatever x is (`self._get_client().write_api()` has no dotted name)
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "write_api"
        )

    def is_client(self, node: cst.BaseExpression) -> bool:
        text = dotted(node)
        return bool(text) and (text in self.facts.clients or text.endswith(".client") or text == "client")

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        replacement = self.plan.replace.get(id(original_node)) if hasattr(self, "plan") else None
        if replacement is not None and not isinstance(original_node, cst.Call):
            updated_node = replacement
        return super().on_leave(original_node, updated_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool | None:
        if self._inert(node):
            return False
        if id(node) not in self.planner.planned:  # nested: planned with its enclosing function
            self.planner.plan_function(node.body, node)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool | None:
        return False if self._inert(node) else None

    def _inert_words(self) -> frozenset[str]:
        """What every rule and plan starts from in the code it acts on (see _inert): the v2 names, the
        admin APIs, the names this module binds to v2 objects (imports, clients, API objects), the
        service functions the planner follows by name and this module's planned builders."""
        if self._words is None:
            flow, facts, rel = self.flow(), self.facts, self.info.rel
            bound = {
                *facts.imported,
                *facts.client_aliases,
                *facts.clients,
                *(name for name, _ in facts.write_apis.items()),
                *facts.write_api_names,
                *facts.write_factories,
                *facts.query_apis,
                *facts.async_clients,
            }
            planned = {n for r, n in (*flow.used, *flow.templates, *flow.template_fills) if r == rel}
            self._words = frozenset(
                {
                    *INERT_WORDS,
                    *ADMIN_APIS,
                    *(name.rsplit(".", 1)[-1] for name in bound),
                    *flow.wrappers,
                    *flow.row_wrappers,
                    *flow.consumers,
                    *flow.factories,
                    *planned,
                    *(("Point",) if (self.state or {}).get("conflicts") else ()),
                }
            )
        return self._words

    def _inert(self, node: cst.FunctionDef | cst.ClassDef) -> bool:
        """Nothing in `node` can be planned, rewritten or marked: its text holds none of the words
        every rule starts from (see _inert_words), no client method next to a `client`, no Flux."""
        text = self.statement_text(node)
        if text is None or not isinstance(self.state, dict):
            return False
        if any(word in text for word in self._inert_words()) or FLUX_HINT.search(text):
            return False
        return not ("client" in text and any(method in text for method in CLIENT_METHODS))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if self.plan.needs_timezone:
            AddImportsVisitor.add_needed_import(self.context, "datetime", "timezone")
        if self.needs_options:
            AddImportsVisitor.add_needed_import(self.context, NEW, "write_client_options")
        # Only when the import is there: a removal request makes libcst run RemoveImportsVisitor,
        # a full scope analysis of the module, on every file the codemod visits.
        if _imports_from(updated_node, NEW, "SYNCHRONOUS"):
            RemoveImportsVisitor.remove_unused_import(self.context, NEW, "SYNCHRONOUS")
        needed = (["_influxdb3_ping"] if self.needs_ping else []) + (
            ["_influxdb3_rows"] if self.plan.needs_rows else []
        )
        needed += ["_influxdb3_frame"] if self.plan.needs_frame else []
        if self.plan.needs_rows:
            AddImportsVisitor.add_needed_import(self.context, "pyarrow")
        if self.plan.needs_expand:  # run-time schema (runtime.py): the helper uses re
            needed.append(EXPAND)
            needed += [RUNTIME_QUERY] if self.plan.needs_runtime_query else []
            AddImportsVisitor.add_needed_import(self.context, "re")
        code = render(updated_node) if needed else ""
        for name in needed:
            if f"def {name}(" not in code:
                updated_node = self.add_helper(updated_node, HELPERS[name])
        return updated_node

    def add_helper(self, module: cst.Module, text: str) -> cst.Module:
        helper = _helper_statement(text)
        body = list(module.body)
        last_import = max(
            (
                i
                for i, s in enumerate(body)
                if isinstance(s, cst.SimpleStatementLine)
                and isinstance(s.body[0], (cst.Import, cst.ImportFrom))
            ),
            default=-1,
        )
        index = last_import + 1
        while index < len(body) and _is_assignment(body[index]):
            index += 1  # after `log = logging.getLogger(...)` and constants
        helper = helper.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
        body.insert(index, helper)
        if index + 1 < len(body):
            body[index + 1] = body[index + 1].with_changes(
                leading_lines=[cst.EmptyLine(), cst.EmptyLine()]
                + [line for line in body[index + 1].leading_lines if line.comment]
            )
        return module.with_changes(body=body)

    # -- statements: plan bookkeeping, removals
    def on_visit(self, node: cst.CSTNode) -> bool:
        result = super().on_visit(node)
        if _is_statement(type(node)) and hasattr(self, "plan"):
            self._flush_plan_for(node)
        return result

    def _headers(self) -> dict[int, tuple[cst.CSTNode, ...]]:
        """Node id -> the statements holding it in their header (one pass over the module, on demand):
        asking each statement whether it contains each planned node walked its subtree per item."""
        if self._header_map is None:
            self._header_map = header_owners(self.src_module, self._inert)
        return self._header_map

    def _flush_plan_for(self, stmt: cst.CSTNode) -> None:
        """Markers/notes/rewrites planned for nodes in `stmt` (not in its body) attach while it is on
        the stack."""
        for bucket, attach in (
            (self.plan.marks, self.mark),
            (self.plan.notes, self.note_above),
            (self.plan.rewrites, self.rewrote),
        ):
            keep = []
            for node, rule, text in bucket:
                if stmt is node or any(owner is stmt for owner in self._headers().get(id(node), ())):
                    # a parser message may quote an f-string hole sentinel: never write a NUL into code
                    attach(rule, node, re.sub(r"\x00(\d+)\x00", r"{hole \1}", text))
                else:
                    keep.append((node, rule, text))
            bucket[:] = keep

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ):
        carried, self.carried = self.carried, []
        if carried and updated_node.trailing_whitespace.comment is None:
            updated_node = updated_node.with_changes(
                trailing_whitespace=cst.TrailingWhitespace(
                    whitespace=cst.SimpleWhitespace("  "), comment=carried[0], newline=cst.Newline()
                )
            )
        if len(original_node.body) == 1 and isinstance(original_node.body[0], cst.Expr):
            call = original_node.body[0].value
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "close"
                and self.is_write_api(call.func.value)
                and not isinstance(call.func.value, cst.Call)
            ):
                self.rewrote("IX-5", original_node, "write_api.close() removed: client.close() flushes")
                return cst.RemovalSentinel.REMOVE
        return updated_node

    def leave_For(self, original_node: cst.For, updated_node: cst.For):
        if id(original_node) in self.plan.yield_rows:  # for t in q: yield from t.records
            rows = cst.Call(cst.Name("_influxdb3_rows"), [cst.Arg(updated_node.iter)])
            header = updated_node.body.header if isinstance(updated_node.body, cst.IndentedBlock) else None
            return cst.SimpleStatementLine(
                [cst.Expr(cst.Yield(cst.From(rows)))],
                leading_lines=updated_node.leading_lines,
                trailing_whitespace=header or cst.TrailingWhitespace(),
            )
        new_iter = self.plan.flatten.get(id(original_node))
        if new_iter is None:
            return updated_node
        inner = updated_node.body.body[0]
        iterable = updated_node.iter
        return inner.with_changes(
            iter=cst.Call(cst.Name("_influxdb3_rows"), [cst.Arg(iterable)]),
            leading_lines=updated_node.leading_lines,
        )

    def leave_CompFor(self, original_node: cst.CompFor, updated_node: cst.CompFor):
        if id(original_node) not in self.plan.flatten_comp:
            return updated_node
        inner = updated_node.inner_for_in
        return inner.with_changes(iter=cst.Call(cst.Name("_influxdb3_rows"), [cst.Arg(updated_node.iter)]))

    # -- imports and names (IX-1, IX-6)
    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom):
        mod = dotted(original_node.module) if original_node.module else None
        if not mod or not (mod == OLD or mod.startswith(OLD + ".")):
            return updated_node
        table = IMPORTS.get(mod, {})
        if isinstance(original_node.names, cst.ImportStar):
            self.mark("IX-1", original_node, f"star import from {mod}: import the names from {NEW}")
            return updated_node
        unknown = [a.name.value for a in original_node.names if a.name.value not in table]
        if mod == "influxdb_client.client.influxdb_client_async":
            self.mark(
                "IX-8",
                original_node,
                "InfluxDBClientAsync has no v3 counterpart: use InfluxDBClient3 with "
                "await client.query_async(sql) and await asyncio.to_thread(client.write, record=...)",
            )
            return updated_node
        groups = _new_import_groups(table, [a for a in original_node.names if a.name.value in table])
        if unknown:
            return self._split_import(original_node, mod, unknown, groups)
        self.rewrote("IX-1", original_node, f"from {mod} import … -> {', '.join(groups)}")
        groups = self._first_imports(groups)
        if not groups:  # `QueryApi` and `InfluxDBClient` both became InfluxDBClient3, imported above
            return cst.RemovalSentinel.REMOVE
        statements = [
            cst.ImportFrom(module=cst.parse_expression(m), names=_alias_commas(names))
            for m, names in groups.items()
        ]
        for extra_mod, names in list(groups.items())[1:]:  # one statement per module: the others are added
            self._add_import(extra_mod, names)
        return statements[0]

    def _split_import(
        self, original_node: cst.ImportFrom, mod: str, unknown: list[str], groups: dict[str, list]
    ) -> cst.ImportFrom:
        """Names with a counterpart move to their new module; the others stay, marked, in the old
        import as written (leave_Name renamed them in the updated node: `from influxdb_client import
        InfluxDBClient3` would be an import error where the mark sends a person elsewhere)."""
        self.mark(
            "IX-1", original_node, f"{', '.join(unknown)} from {mod} has no influxdb3-python counterpart"
        )
        if groups:
            self.rewrote("IX-1", original_node, f"from {mod} import … -> {', '.join(groups)}, rest kept")
        for new_mod, names in groups.items():
            self._add_import(new_mod, names)
        kept = [a for a in original_node.names if a.name.value in unknown]
        return original_node.with_changes(names=_alias_commas(kept))

    def _first_imports(self, groups: dict[str, list[cst.ImportAlias]]) -> dict[str, list[cst.ImportAlias]]:
        """The names of `groups` no earlier import statement of this module gave already."""
        kept: dict[str, list[cst.ImportAlias]] = {}
        for module, names in groups.items():
            for alias in names:
                key = (module, alias.name.value, alias.asname.name.value if alias.asname else None)
                if key not in self.new_imports:
                    self.new_imports.add(key)
                    kept.setdefault(module, []).append(alias)
        return kept

    def _add_import(self, module: str, names: list[cst.ImportAlias]) -> None:
        for alias in names:
            asname = alias.asname.name.value if alias.asname else None
            AddImportsVisitor.add_needed_import(self.context, module, alias.name.value, asname)

    def mark_tag_field_conflict(self, call: cst.Call) -> None:
        conflicts = (self.state or {}).get("conflicts", {}) if isinstance(self.state, dict) else {}
        first = call.args[0].value if call.args else None
        measurement = first.evaluated_value if isinstance(first, cst.SimpleString) else None
        keys = conflicts.get(measurement) if isinstance(measurement, str) else None
        if keys:
            self.mark(
                "IX-10",
                call,
                f"'{measurement}' is written with {', '.join(keys)} both as a tag and as "
                "a field; InfluxDB 3 refuses a tag and a field with the same name in one table: rename one",
            )

    # -- v2 error handlers (IX-6): v3 raises InfluxDB3ClientQueryError for queries, and its partial-write
    # and query errors have no status/reason/body/headers
    def _v2_errors(self, node: cst.BaseExpression | None) -> set[str]:
        """The v2 error modules an except clause's type names (`ApiException`, `(ApiException, KeyError)`)."""
        names = [e.value for e in node.elements] if isinstance(node, cst.Tuple) else [node]
        modules = {self.facts.imported.get(n.value) for n in names if isinstance(n, cst.Name)}
        return modules & set(ERROR_ATTRIBUTES)

    def visit_Try(self, node: cst.Try) -> None:
        # a handler around a v2 query caught its errors: v3's come as InfluxDB3ClientQueryError
        if any(self._v2_errors(h.type) for h in node.handlers) and ".query" in self.code(node.body):
            self._query_handlers.update(id(h) for h in node.handlers)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        reads = self._error_reads(node)
        if reads is None:
            return
        name = reads.name
        for statement, attribute in reads.found:  # marked before they are visited: flushed when left
            self.mark(
                "IX-6",
                statement,
                f"not every influxdb3-python error has .{attribute}: a partial write raises "
                f"InfluxDBPartialWriteError and a failed query InfluxDB3ClientQueryError (only an HTTP write "
                f"failure keeps status/reason/body/headers): read getattr({name}, '{attribute}', None) or "
                f"{name}.response (None when no HTTP answer came)",
            )

    def leave_ExceptHandler(
        self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler
    ) -> cst.ExceptHandler:
        modules = self._v2_errors(original_node.type)
        if modules:
            updated_node = self._logged_reads_to_getattr(original_node, updated_node, modules)
        if id(original_node) not in self._query_handlers or not modules:
            return updated_node
        AddImportsVisitor.add_needed_import(self.context, f"{NEW}.exceptions", "InfluxDB3ClientQueryError")
        query_error = cst.Element(cst.Name("InfluxDB3ClientQueryError"))
        caught = updated_node.type
        if isinstance(caught, cst.Tuple):
            caught = caught.with_changes(elements=[*caught.elements, query_error])
        else:
            caught = cst.Tuple([cst.Element(caught), query_error])
        self.rewrote(
            "IX-6",
            original_node,
            "a failed v3 query raises InfluxDB3ClientQueryError: the handler catches it too",
        )
        return updated_node.with_changes(type=caught)

    def _error_reads(
        self, handler: cst.ExceptHandler, modules: set[str] | None = None
    ) -> _AttributeReads | None:
        """The reads, in the handler's body, of the attributes its v2 error had and a v3 one may lack
        (None: the handler catches no v2 error, or binds it to no name)."""
        modules = self._v2_errors(handler.type) if modules is None else modules
        if not modules or handler.name is None or not isinstance(handler.name.name, cst.Name):
            return None
        gone = {attribute for module in modules for attribute in ERROR_ATTRIBUTES[module]}
        reads = _AttributeReads(handler.name.name.value, gone)
        walk(handler.body, reads)
        return reads

    def _logged_reads_to_getattr(
        self, original: cst.ExceptHandler, updated: cst.ExceptHandler, modules: set[str]
    ) -> cst.ExceptHandler:
        """`exc.status` only logged or formatted -> `getattr(exc, "status", None)`: None where the v3 error
        lacks it, as v2's never did (no AttributeError raised from inside the handler in place of the error
        it handles). Found again in the handler's final body, so the nodes replaced are the ones there."""
        reads = self._error_reads(updated, modules)
        if reads is None or not reads.texts:
            return updated
        for attribute in sorted({read.attr.value for read in reads.text_nodes}):
            self.rewrote("IX-6", original, f"exc.{attribute} -> getattr(exc, '{attribute}', None) (logged)")
        return updated.with_changes(body=updated.body.visit(_Getattr(reads.texts)))

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if original_node.value in RENAMES and original_node.value in self.facts.imported:
            return updated_node.with_changes(value=RENAMES[original_node.value])
        return updated_node

    # -- calls
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        planned = self.plan.replace.get(id(original_node))
        if planned is not None:
            return planned
        func = original_node.func
        name = dotted(func) or ""
        if name.split(".")[-1] == "Point":
            self.mark_tag_field_conflict(original_node)
        if (
            name in ("InfluxDBClient", "influxdb_client.InfluxDBClient")
            and "InfluxDBClient" in self.facts.imported
        ) or name in self.facts.client_aliases:
            return self.constructor(original_node, updated_node)
        if name.endswith(("InfluxDBClient.from_env_properties", "InfluxDBClient.from_config_file")):
            self.mark(
                "IX-2",
                original_node,
                "InfluxDBClient3.from_env() reads INFLUX_HOST, INFLUX_TOKEN and "
                "INFLUX_DATABASE (not INFLUXDB_V2_*); config files are not supported: build the client from "
                "host/token/database",
            )
            if name.endswith("from_env_properties") and isinstance(updated_node.func, cst.Attribute):
                # InfluxDBClient3 has no from_env_properties (an AttributeError): its counterpart, whose
                # variable names the marker gives
                return updated_node.with_changes(
                    func=updated_node.func.with_changes(attr=cst.Name("from_env"))
                )
            return updated_node
        if not isinstance(func, cst.Attribute):
            return updated_node
        method = func.attr.value
        if self.under_async(func.value) and method in ("query_api", "write_api", "delete_api"):
            self.mark(
                "IX-8",
                original_node,
                "InfluxDBClientAsync has no v3 counterpart: use InfluxDBClient3 with await "
                "client.query_async(sql) and await asyncio.to_thread(client.write, record=...), then rewrite "
                "this call and the handling of its result",
            )
            return updated_node
        if method in ADMIN_APIS and not original_node.args:
            self.mark("IX-9", original_node, ADMIN_APIS[method])
            return updated_node
        if method == "write" and self.is_write_api(func.value):
            return self.write_call(original_node, updated_node)
        if method == "write_api" and id(original_node) in self.facts.with_writers:
            return updated_node  # `with client.write_api(...) as w:`: see leave_WithItem
        if _is_write_api_call(original_node):
            return self.write_api_call(original_node, updated_node)
        if _is_write_api_of_call(original_node) and _synchronous_only(original_node):
            # `get_client().write_api(write_options=SYNCHRONOUS)`: v3 writes synchronously by default, so
            # the client itself writes the same way (other options would have to move to its constructor)
            return self.write_api_call(original_node, updated_node)
        if method == "query_api" and not original_node.args:
            self.rewrote("IX-11", original_node, "query_api() -> the client (client.query(sql))")
            return updated_node.func.value
        if method == "ping" and not original_node.args and self.is_client(func.value):
            self.needs_ping = True
            self.rewrote("IX-7", original_node, "client.ping() -> _influxdb3_ping(client) (GET /ping)")
            return cst.Call(cst.Name("_influxdb3_ping"), [cst.Arg(updated_node.func.value)])
        if method == "version" and not original_node.args and self.is_client(func.value):
            self.rewrote("IX-7", original_node, "version() -> get_server_version()")
            return updated_node.with_changes(
                func=updated_node.func.with_changes(attr=cst.Name("get_server_version"))
            )
        if method in ("health", "ready", "build") and not original_node.args and self.is_client(func.value):
            self.mark(
                "IX-7",
                original_node,
                f"client.{method}() has no influxdb3-python method: GET /health "
                "(needs a token by default) or /ping over HTTP",
            )
        return updated_node

    def constructor(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        args = _keywords(updated.args, CTOR_POSITIONAL)
        if args is None:
            self.mark(
                "IX-2", original, "InfluxDBClient(*args/**kwargs): pass host=, token=, database= explicitly"
            )
            return updated
        new: list[cst.Arg] = []
        for key, value in args:
            if key == "url":
                if isinstance(value, cst.SimpleString) and "://" not in value.evaluated_value:
                    self.mark(
                        "IX-2",
                        original,
                        "host needs a scheme and port (http://host:8181); without one "
                        "influxdb3-python assumes https:443",
                    )
                new.append(_kw("host", value))
            elif key == "org":
                continue
            elif key == "timeout":
                new += [_kw("write_timeout", value), _kw("query_timeout", value)]
            elif key == "default_tags":
                new.append(self.default_tags(value))
            elif key in ("username", "password", "auth_basic"):
                self.mark(
                    "IX-2",
                    original,
                    "username/password authentication was removed in influxdb3-python 0.20: use a token",
                )
                return updated
            else:
                new.append(_kw(key, value))
        database = self.database_for(original)
        if database is None:
            # the other keywords still convert (a v2 url=/org= would fail the post-migrate check)
            self.mark(
                "IX-2",
                original,
                "InfluxDBClient3 needs database=: name the bucket this client writes to and queries",
            )
        else:
            host_at = next((i for i, a in enumerate(new) if a.keyword.value == "token"), 0) + 1
            new.insert(host_at, _kw("database", cst.parse_expression(database)))
        options = self.write_options_for(original)
        settings = next((a for a in options if a.keyword.value == "point_settings"), None)
        if settings is not None and self.versions.at_least("influxdb3-python", "0.21"):
            # from 0.21 the client hands point_settings to its write API itself: inside
            # write_client_options it would be given twice (a TypeError when the client is built)
            options = [a for a in options if a is not settings]
            if any(a.keyword.value in ("point_settings", "write_client_options") for a in new):
                self.mark(
                    "IX-4",
                    original,
                    "default_tags and write_api(point_settings=) both set default tags: merge them into one "
                    f"point_settings=PointSettings(...) ({self.code(settings.value)} was dropped)",
                )
            else:
                new.append(settings)
        if options:
            self.needs_options = True
            new.append(
                _kw("write_client_options", cst.Call(cst.Name("write_client_options"), _commas(options)))
            )
        self.rewrote(
            "IX-2", original, "InfluxDBClient(url, token, org) -> InfluxDBClient3(host, token, database)"
        )
        return updated.with_changes(args=_commas(new, like=updated.args))

    def default_tags(self, value: cst.BaseExpression) -> cst.Arg:
        AddImportsVisitor.add_needed_import(self.context, NEW, "PointSettings")
        settings = cst.Call(cst.Name("PointSettings"), [cst.Arg(value, star="**")])
        if self.versions.at_least("influxdb3-python", "0.21"):
            return _kw("point_settings", settings)
        self.needs_options = True
        return _kw(
            "write_client_options",
            cst.Call(cst.Name("write_client_options"), [_kw("point_settings", settings)]),
        )

    def database_for(self, ctor: cst.Call) -> str | None:
        buckets = self.facts.buckets
        if len(buckets) != 1:
            return None
        bucket = next(iter(buckets))
        defined = self.facts.assigned_before.get(id(ctor), set())
        cls, bound = self.facts.class_body.get(id(ctor), ("", frozenset()))
        if cls and bucket.startswith(cls + ".") and bucket[len(cls) + 1 :] in bound:
            return bucket[len(cls) + 1 :]  # the class body runs before its name is bound: its own name
        root = re.match(r"[A-Za-z_]\w*", bucket)
        if root is None:  # a literal
            return bucket
        if bucket.startswith("self."):
            attribute = re.match(r"self\.\w+", bucket).group()
            return bucket if attribute in defined else None
        # a name not defined where the client is built (a per-call parameter of another method)
        return bucket if root.group() in defined else None

    def write_options_for(self, ctor: cst.Call) -> list[cst.Arg]:
        target = next((t for t, c in self.facts.clients.items() if c is ctor), None)
        calls = [call for client, call in self.facts.write_apis.values() if client == target]
        if not calls:
            return []
        options = [self.src_module.code_for_node(c) for c in calls]
        if len(set(options)) > 1:
            self.mark(
                "IX-4",
                ctor,
                "one v2 client had several write_api() modes: create one InfluxDBClient3 per mode",
            )
            return []
        args = _keywords(calls[0].args, ("write_options", "point_settings"))
        if args is None:
            return []
        kept = [(k, v) for k, v in args if not (k == "write_options" and dotted(v) == "SYNCHRONOUS")]
        if not args:  # write_api() with no arguments was batching with the default WriteOptions
            AddImportsVisitor.add_needed_import(self.context, NEW, "WriteOptions")
            kept = [("write_options", cst.Call(cst.Name("WriteOptions")))]
        return [_kw(k, v) for k, v in kept]

    def write_api_call(self, original: cst.Call, updated: cst.Call):
        # `self.write_api = self.client.write_api(...)`: the client writes itself; options moved (IX-4)
        self.rewrote("IX-4", original, "write_api(...) -> the client; write options moved to InfluxDBClient3")
        self.carry_comment(original)
        return updated.func.value

    def leave_WithItem(self, original_node: cst.WithItem, updated_node: cst.WithItem) -> cst.WithItem:
        """`with client.write_api(...) as w:`. v2 closed only the write API at the block's end (flushing
        a batch); `with client as w:` would close the client itself, which later calls still use. A
        synchronous writer becomes `nullcontext(client)`; a batching one is marked (its flush at the
        block's end has no one-line counterpart)."""
        call = original_node.item
        if id(call) not in self.facts.with_writers or self.under_async(call.func.value):
            return updated_node
        if not _synchronous_only(call):
            self.mark(
                "IX-5",
                original_node,
                "`with client.write_api(...)` flushed its batch when the block ended: give InfluxDBClient3 "
                "these write options (write_client_options=), write through the client kept open "
                "(`with contextlib.nullcontext(client) as w:`) and call client.flush() after the block",
            )
            return updated_node
        AddImportsVisitor.add_needed_import(self.context, "contextlib", "nullcontext")
        self.rewrote(
            "IX-5", original_node, "with write_api(SYNCHRONOUS) -> with nullcontext(client): client kept open"
        )
        self.carry_comment(call)
        client = updated_node.item.func.value
        return updated_node.with_changes(item=cst.Call(cst.Name("nullcontext"), [cst.Arg(client)]))

    def carry_comment(self, call: cst.Call) -> None:
        """A comment after the `(` of a call folded away (`write_api(  # why`) moves to the end of its
        statement's line: a person's note (or a label) is never dropped by a rewrite."""
        space = call.whitespace_before_args
        comment = space.first_line.comment if isinstance(space, cst.ParenthesizedWhitespace) else None
        if comment is not None:
            self.carried.append(comment)

    def write_call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        args = _keywords(updated.args, WRITE_POSITIONAL)
        if args is None:
            self.mark("IX-3", original, "write(*args/**kwargs): pass record=, database=, write_precision=")
            return updated
        by_key = dict(args)
        new = []
        if "record" in by_key:
            new.append(_kw("record", by_key["record"]))
        if "bucket" in by_key:
            new.append(_kw("database", by_key["bucket"]))
        new += [_kw(k, v) for k, v in args if k not in ("record", "bucket", "org")]
        receiver = updated.func.value
        if isinstance(receiver, cst.Call) and _is_attribute_call(receiver, "write_api"):
            receiver = receiver.func.value  # client.write_api(...).write(...); not get_writer().write(...)
        self.rewrote("IX-3", original, "write(bucket, org, record) -> write(record=, database=)")
        return updated.with_changes(
            func=cst.Attribute(receiver, cst.Name("write")), args=_commas(new, like=updated.args)
        )


# --- small helpers -----------------------------------------------------------------------------------


def _is_write_api_call(node: cst.BaseExpression) -> bool:
    """`x.write_api(...)` on a client that is not itself a call's result."""
    return (
        isinstance(node, cst.Call)
        and _is_attribute_call(node, "write_api")
        and not isinstance(node.func.value, cst.Call)
    )


def _returns_query_api_property(function: cst.FunctionDef) -> bool:
    """`@property`/`@cached_property` returning `<client>.query_api()` (see flow.property_of_query_api)."""
    decorated = any(
        (dotted(d.decorator) or "").split(".")[-1] in ("property", "cached_property")
        for d in function.decorators
    )
    if not decorated or not isinstance(function.body, cst.IndentedBlock):
        return False
    body = [
        s
        for s in function.body.body
        if not (
            isinstance(s, cst.SimpleStatementLine)
            and isinstance(s.body[0], cst.Expr)
            and isinstance(s.body[0].value, cst.SimpleString)
        )
    ]
    small = body[0].body[0] if len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) else None
    value = small.value if isinstance(small, cst.Return) else None
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "query_api"
        and not value.args
    )


def _reached_through(text: str, targets: Iterable[str]) -> bool:
    """`request.app.state.writer` reaches the `app.state.writer` set at start-up (a FastAPI lifespan):
    an attribute path of two names or more, not on `self`/`cls`, read through another object."""
    return any(
        "." in target and not target.startswith(("self.", "cls.")) and text.endswith("." + target)
        for target in targets
    )


def _is_attribute_call(node: cst.Call, name: str) -> bool:
    return isinstance(node.func, cst.Attribute) and node.func.attr.value == name


def _is_write_api_of_call(node: cst.BaseExpression) -> bool:
    """`f().write_api(...)`: the write API of a client a call returns."""
    return (
        isinstance(node, cst.Call)
        and _is_attribute_call(node, "write_api")
        and isinstance(node.func.value, cst.Call)
    )


def _synchronous_only(call: cst.Call) -> bool:
    """write_api(SYNCHRONOUS) / write_api(write_options=SYNCHRONOUS), nothing else."""
    args = _keywords(call.args, ("write_options", "point_settings"))
    return (
        args is not None
        and len(args) == 1
        and args[0][0] == "write_options"
        and dotted(args[0][1]) in ("SYNCHRONOUS", "WriteOptions.SYNCHRONOUS")
    )


def _defined_name(statement: cst.CSTNode) -> str | None:
    """The function defined, or the single name assigned, by a top-level statement."""
    if isinstance(statement, cst.FunctionDef):
        return statement.name.value
    if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Assign):
        targets = statement.body[0].targets
        if len(targets) == 1 and isinstance(targets[0].target, cst.Name):
            return targets[0].target.value
    return None


def _returned(function: cst.FunctionDef) -> cst.BaseExpression | None:
    """The expression of a function whose body is (a docstring and) one `return <expr>`."""
    body = function.body.body if isinstance(function.body, cst.IndentedBlock) else ()
    body = [
        s
        for s in body
        if not (isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Expr))
        or not isinstance(s.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    ]
    if (
        len(body) == 1
        and isinstance(body[0], cst.SimpleStatementLine)
        and isinstance(body[0].body[0], cst.Return)
    ):
        return body[0].body[0].value
    return None


class _AttributeReads(LightVisitor):
    """Reads of `name.<attribute>` for the given attributes: those only written into a log line or an
    f-string (`texts`: a missing attribute can read as None there) and, for the others, the innermost
    statement holding them (`found`: a comparison or a return cannot be given a stand-in value)."""

    def __init__(self, name: str, attributes: set[str]):
        self.name, self.attributes = name, attributes
        self.found: list[tuple[cst.CSTNode, str]] = []
        self.texts: dict[int, str] = {}  # id(read) -> the quote its getattr name can use
        self.text_nodes: list[cst.Attribute] = []
        self._statements: list[cst.CSTNode] = []
        self._text_depth = 0  # inside a log call's arguments or an f-string
        self._quotes: list[str] = []  # quote characters of the f-strings around (before 3.12 a
        # replacement field cannot hold its f-string's quote)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if can_lead(node):
            self._statements.append(node)
        if _writes_text(node):
            self._text_depth += 1
        if isinstance(node, cst.FormattedString):
            self._quotes.append(node.quote[0])
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if can_lead(original_node):
            self._statements.pop()
        if _writes_text(original_node):
            self._text_depth -= 1
        if isinstance(original_node, cst.FormattedString):
            self._quotes.pop()
        super().on_leave(original_node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        value, attribute = node.value, node.attr.value
        if not (isinstance(value, cst.Name) and value.value == self.name and attribute in self.attributes):
            return
        quote = next((q for q in ('"', "'") if q not in self._quotes), None)
        if self._text_depth and quote is not None:
            self.texts[id(node)] = quote
            self.text_nodes.append(node)
        elif self._statements and all(s is not self._statements[-1] for s, _ in self.found):
            self.found.append((self._statements[-1], attribute))


class _Getattr(cst.CSTTransformer):
    """The reads `texts` names (id -> quote) become `getattr(exc, "<attribute>", None)`."""

    def __init__(self, texts: dict[int, str]):
        super().__init__()
        self.texts = texts

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        quote = self.texts.get(id(original_node))
        if quote is None:
            return updated_node
        name = cst.SimpleString(f"{quote}{original_node.attr.value}{quote}")
        return cst.Call(
            cst.Name("getattr"),
            _commas([cst.Arg(updated_node.value), cst.Arg(name), cst.Arg(cst.Name("None"))]),
        )


LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})


def _writes_text(node: cst.CSTNode) -> bool:
    """A log call (`log.error(...)`, `print(...)`) or an f-string: what it reads ends up as text."""
    if isinstance(node, cst.FormattedString):
        return True
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    return (isinstance(func, cst.Attribute) and func.attr.value in LOG_METHODS) or (
        isinstance(func, cst.Name) and func.value == "print"
    )


def _top_level_names(module: cst.Module) -> set[str]:
    return set().union(*_names_bound_by(module))


def _names_bound_before(module: cst.Module) -> list[frozenset[str]]:
    """For each top-level statement, the module names the statements above it bind."""
    before, seen = [], frozenset()
    for names in _names_bound_by(module):
        before.append(seen)
        seen = seen | names
    return before


def _names_bound_by(module: cst.Module) -> list[set[str]]:
    """The names each top-level statement binds (defs, classes, assignments, imports)."""
    return [_statement_names(statement) for statement in module.body]


def _statement_names(statement: cst.CSTNode) -> set[str]:
    names: set[str] = set()
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        names.add(statement.name.value)
    for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
        if isinstance(small, (cst.Assign, cst.AnnAssign)):
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            names.update(t.value for t in targets if isinstance(t, cst.Name))
        elif isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                local = alias.asname.name if alias.asname else alias.name
                names.add((dotted(local) or "").split(".")[0])
    return names


def _module_scope(module: cst.Module, rel: str) -> ModuleScope:
    """Module aliases and from-imported names of the module (top level and inside functions)."""
    scope = ModuleScope(rel=rel)
    package = ".".join(rel[: -len(".py")].split("/")[:-1]) if rel.endswith(".py") else ""

    class _Imports(LightVisitor):
        def visit_Import(self, node: cst.Import) -> None:
            for alias in node.names:
                name = dotted(alias.name) or ""
                local = alias.asname.name.value if alias.asname else name.split(".")[0]
                scope.modules[local] = name if alias.asname else local

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            if isinstance(node.names, cst.ImportStar):
                return
            base = dotted(node.module) if node.module else ""
            if node.relative:  # from . import flux / from .flux import build
                base = ".".join(p for p in [package, base] if p)
            for alias in node.names:
                name = dotted(alias.name) or ""
                local = alias.asname.name.value if alias.asname else name
                # `from app import flux as fluxq` names a module, `from app.flux import build` a function
                scope.modules[local] = f"{base}.{name}" if base else name
                scope.imported_names[local] = base

    imports = _Imports()
    for node in iter_imports(module):  # the imports alone, in the order a visitor meets them
        (imports.visit_Import if isinstance(node, cst.Import) else imports.visit_ImportFrom)(node)
    return scope


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


def _keywords(
    args: tuple[cst.Arg, ...] | list[cst.Arg], positional: tuple[str, ...]
) -> list[tuple[str, cst.BaseExpression]] | None:
    out = []
    for i, arg in enumerate(args):
        if arg.star:
            return None
        if arg.keyword is None:
            if i >= len(positional):
                return None
            out.append((positional[i], arg.value))
        else:
            out.append((arg.keyword.value, arg.value))
    return out


def _commas(args: list[cst.Arg], like: tuple[cst.Arg, ...] | list[cst.Arg] = ()) -> list[cst.Arg]:
    """Separate args with ", ", keeping the original's line break style after the first argument."""
    sep = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    for arg in like:
        if arg.comma is not cst.MaybeSentinel.DEFAULT and isinstance(
            arg.comma.whitespace_after, cst.ParenthesizedWhitespace
        ):
            sep = arg.comma
            break
    out = []
    for i, arg in enumerate(args):
        last = i == len(args) - 1
        out.append(
            arg.with_changes(
                comma=cst.MaybeSentinel.DEFAULT
                if last
                else (cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if i % 3 != 2 else sep)
            )
        )
    return out


def _new_import_groups(
    table: dict[str, tuple[str, str]], aliases: list[cst.ImportAlias]
) -> dict[str, list[cst.ImportAlias]]:
    """The new module of each imported name, and the names it gives (a name once per module)."""
    groups: dict[str, list[cst.ImportAlias]] = {}
    for alias in aliases:
        new_mod, new_name = table[alias.name.value]
        groups.setdefault(new_mod, [])
        if new_name not in [a.name.value for a in groups[new_mod]]:
            groups[new_mod].append(cst.ImportAlias(name=cst.Name(new_name), asname=alias.asname))
    return groups


def _alias_commas(names: list[cst.ImportAlias]) -> list[cst.ImportAlias]:
    return [
        n.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        if i < len(names) - 1
        else n.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        for i, n in enumerate(names)
    ]


def _is_assignment(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], (cst.Assign, cst.AnnAssign))


_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers"})


@functools.cache
def _is_statement(kind: type) -> bool:
    # asked for every node of two traversals: an isinstance check against libcst's abstract
    # BaseCompoundStatement goes through the ABC machinery each time, the answer per type does not
    return issubclass(kind, (cst.SimpleStatementLine, cst.BaseCompoundStatement))


def header_owners(
    module: cst.Module, inert: Callable[[cst.FunctionDef | cst.ClassDef], bool] | None = None
) -> dict[int, tuple[cst.CSTNode, ...]]:
    """For each node, the statements it is in but not inside one of their nested blocks (body,
    orelse, finalbody, handlers): a simple statement line holds everything in it.

    One walk of the tree by its dataclass fields (what libcst's visitor walks, without its hook
    lookups per node and per field). A def or class `inert` accepts holds no planned node: it gets
    its owners, what is below it none."""
    owners: dict[int, tuple[cst.CSTNode, ...]] = {}
    stack: list[tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = [(module, ())]
    while stack:
        node, around = stack.pop()
        kind = type(node)
        statement = _is_statement(kind)
        own = (*around, node) if statement else around
        owners[id(node)] = own
        if inert is not None and kind in (cst.FunctionDef, cst.ClassDef) and inert(node):
            continue
        compound = statement and issubclass(kind, cst.BaseCompoundStatement)
        for name in _fields(kind):
            # inside one of its blocks a compound statement (the last of `own`) no longer holds it
            inner = own[:-1] if compound and name in _BLOCKS else own
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                stack.append((value, inner))
            elif isinstance(value, (tuple, list)):
                stack.extend((item, inner) for item in value if isinstance(item, cst.CSTNode))
    return owners


@functools.cache
def _fields(kind: type) -> tuple[str, ...]:
    # a libcst node is a dataclass whose fields are all its children and tokens
    return tuple(field.name for field in dataclasses.fields(kind))


# --- schema of the project's writes: measurement -> tag keys --------------------------------------------

_POINT = re.compile(r"Point\(\s*(?:([\"'])([^\"']+)\1|([A-Z_][A-Z0-9_]*))\s*\)")
_TAG = re.compile(r"\.tag\(\s*([\"'])([^\"']+)\1")
_FIELD = re.compile(r"\.field\(\s*([\"'])([^\"']+)\1")
_CONST = re.compile(r"^([A-Z_][A-Z0-9_]*)\s*=\s*([\"'])([^\"']+)\2", re.M)
_FRAME = re.compile(
    r"data_frame_measurement_name\s*=\s*([\"'])([^\"']+)\1[^)]*?data_frame_tag_columns\s*=\s*\[([^\]]*)\]",
    re.S,
)


def _constants(texts: list[str]) -> dict[str, str]:
    constants: dict[str, str] = {}
    for text in texts:
        constants.update({m.group(1): m.group(3) for m in _CONST.finditer(text)})
    return constants


def _point_chains(texts: list[str], constants: dict[str, str]):
    """(measurement, text of the `Point(...)...` builder chain) for each literal-named Point."""
    for text in texts:
        for match in _POINT.finditer(text):
            measurement = match.group(2) or constants.get(match.group(3) or "")
            if not measurement:
                continue
            chain = text[match.end() : match.end() + 600].split("\n\n")[0]
            yield measurement, re.split(r"\n\s*(?:return|points|point =|def )", chain)[0]


@dataclass
class WriterKeys:
    """What the tree's writers send per measurement, from one scan of its Python files."""

    schema: dict[str, list[str]]  # tag keys (Point chains and DataFrame writes), for the SQL
    conflicts: dict[str, list[str]]  # IX-10: keys sent both as a tag and as a field


def project_writers(tree: ProjectTree) -> WriterKeys:
    texts = [tree.read(f) for f in tree.python_files()]
    tags: dict[str, list[str]] = {}
    fields: dict[str, set[str]] = {}
    for measurement, chain in _point_chains(texts, _constants(texts)):
        known = tags.setdefault(measurement, [])
        known += [m.group(2) for m in _TAG.finditer(chain) if m.group(2) not in known]
        fields.setdefault(measurement, set()).update(m.group(2) for m in _FIELD.finditer(chain))
    both = {m: sorted(set(keys) & fields.get(m, set())) for m, keys in tags.items()}
    for text in texts:
        for match in _FRAME.finditer(text):
            known = tags.setdefault(match.group(2), [])
            known += [
                t.strip().strip("\"'")
                for t in match.group(3).split(",")
                if t.strip() and t.strip().strip("\"'") not in known
            ]
    return WriterKeys(
        schema={m: sorted(t) for m, t in tags.items()},
        conflicts={m: keys for m, keys in both.items() if keys},
    )
