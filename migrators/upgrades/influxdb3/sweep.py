"""The sweep after the influxdb3 rules: every influxdb-client (v2) shape still present gets a marker.

The rules convert what they can prove; this pass runs after them (and over files they did not touch)
and puts one ``MIGRATION-BLOCKER`` above each statement that still holds an old-API shape, unless a
marker is already there: Flux text in a string (IX-14), v2 result handling (IX-15), the v2 client,
its APIs and their ``bucket=``/``org=`` keywords (IX-16), the InfluxDB 2 HTTP API (IX-17), tests
mocking or faking the v2 client (IX-18), and anything under ``InfluxDBClientAsync`` (IX-8: never
rewritten as if it were the sync client). Over-marking is accepted; silence is not.

The same module gives the post-migrate check its influxdb3 part: keywords the influxdb3-python
signatures do not accept (a static table, checked against the installed library by a test, since
the migrator image has no influxdb3-python) and swept shapes left without a marker.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from migrators.core.results import MARKER_PREFIX, Change, CheckFailure, insert_markers
from migrators.core.tree import FileInfo, ProjectTree, is_test_file, module_name
from migrators.core.upgrade import Sweeper
from migrators.core.versions import Versions

# ---------------------------------------------------------------- what counts as old API

V2_NAMES = frozenset(
    {
        "InfluxDBClient",
        "InfluxDBClientAsync",
        "QueryApi",
        "QueryApiAsync",
        "WriteApi",
        "WriteApiAsync",
        "DeleteApi",
        "DeleteApiAsync",
        "FluxTable",
        "FluxRecord",
        "FluxStructure",
        "TableList",
    }
)
API_NAMES = re.compile(r"^_?(query|write|delete)_api$")
API_CALLS = frozenset(
    {"query_api", "write_api", "delete_api", "buckets_api", "organizations_api", "tasks_api", "users_api"}
)
OLD_QUERY_METHODS = frozenset({"query_data_frame", "query_stream", "query_csv", "query_raw", "to_values"})
RESULT_GETTERS = frozenset({"get_value", "get_time", "get_field", "get_measurement", "get_start", "get_stop"})
CLIENT_METHODS = frozenset({"write", "query", "delete", *OLD_QUERY_METHODS})
EXECUTORS = frozenset({"to_thread", "run_in_executor", "partial", "submit"})
# A receiver segment that names an InfluxDB object (besides what the file's data flow binds).
TIED_SEGMENT = re.compile(r"(?i)^_?(query|write|delete)_api$|influx|client$|^idbc$")
# Text a swept file must contain: anything else never touched InfluxDB and is not parsed.
INFLUX_TEXT = re.compile(r"(?i)influx|flux|query_api|write_api|delete_api|/api/v2/|from\(bucket|\|>")
# Or Flux result handling with no InfluxDB word at all: a helper module that iterates the tables a
# query returned elsewhere (`for rec in table.records: rec.get_value()`), or a test faking such tables
# for a wrapper (`MagicMock(records=[rec])`, `rec.get_value.return_value`). Both parts must be there.
RESULT_LOOP_TEXT = re.compile(r"\.records\b")
# A string that is exactly a column only Flux results have (`df[["_time", "_value"]]`,
# `set_index("_time")`): an SQL result names them time, the tags and one column per field. A module
# reading a frame or rows a query returned elsewhere may hold no InfluxDB word at all.
FLUX_COLUMNS = frozenset({"_value", "_time", "_field", "_measurement", "_start", "_stop"})
# The Flux column names a module's own SQL gives its result (`count(*) AS _value`, the long form's
# `AS _field`): the only ones its rows or frames can hold once the module is converted
OWN_FLUX_ALIAS = re.compile(r"\bAS\s+\"?(_value|_time|_field|_measurement|_start|_stop)\b")
FLUX_COLUMN_TEXT = re.compile(r"[\"'](_value|_time|_field|_measurement|_start|_stop)[\"']")
FAKE_TABLE_TEXT = re.compile(r"\.records\b|\brecords\s*=")
RESULT_USE_TEXT = re.compile(
    r"\.(get_(value|time|field|measurement|start|stop)|values)\b"
    r"|\[\s*[\"'](_value|_time|_field|_measurement|_start|_stop)[\"']\s*\]"
)
# Evidence that a statement already speaks the new API: an old *name* beside it is a converted line.
NEW_EVIDENCE = re.compile(
    r"\b(database|language|query_parameters|mode)\s*=|to_pylist|to_pandas|InfluxDBClient3|influxdb_client_3"
)
_CMP = r"\s*(==|!=|>=|<=|>|<)"
FLUX_LINE = re.compile(
    r"^\s*(from\s*\(\s*bucket|\|>|import\s+\"|schema\.\w+\s*\(|range\s*\(\s*start\s*:|aggregateWindow\s*\("
    r"|filter\s*\(\s*fn\s*:|r\._(measurement|field|value)\b|r\.\w+"
    + _CMP
    + r"|r\[\s*\"\w+\"\s*\]"
    + _CMP
    + ")"
)
HTTP_V2 = re.compile(r"/api/v2/(query|write|delete|buckets|orgs)|application/vnd\.flux")
TEST_DICT_KEYS = frozenset({"bucket", "org"})


@dataclass(frozen=True)
class Kind:
    rule: str
    priority: int  # the marker carries the rule of the highest-priority kind found on a statement
    instruction: str


KINDS = {
    "async": Kind(
        "IX-8",
        0,
        "InfluxDBClientAsync has no InfluxDB 3 counterpart and calls under it were not converted: build an "
        "InfluxDBClient3, read with `await client.query_async(sql)`, write with "
        "`await asyncio.to_thread(client.write, record=..., database=...)`",
    ),
    "http": Kind(
        "IX-17",
        1,
        "InfluxDB 2 HTTP API: send SQL to /api/v3/query_sql (json db, q) and line protocol to "
        "/api/v3/write_lp?db=..., or use influxdb3-python",
    ),
    "flux": Kind(
        "IX-14",
        2,
        'Flux text left: translate it to SQL for client.query(sql, language="sql") (InfluxDB 3 runs no '
        "Flux); a test asserting Flux must assert the SQL sent",
    ),
    "mock": Kind(
        "IX-18",
        3,
        "test mocks or fakes the v2 client: mock InfluxDBClient3.query/.write (results as a pyarrow Table) "
        "or run against a real InfluxDB 3",
    ),
    "checkmock": Kind(
        "IX-18",
        3,
        "test mocks the v2 client's ping()/version()/health(): influxdb3-python has none and the migrated "
        "code calls client.get_server_version() (IX-7's _influxdb3_ping); mock that (raising means down) "
        "or run against a real InfluxDB 3",
    ),
    "client": Kind(
        "IX-16",
        4,
        "v2 client API left: use InfluxDBClient3(host=, token=, database=) and its query(sql, language=) / "
        "write(record=, database=); no query_api()/write_api()/delete_api(), bucket=, org=, url=",
    ),
    "result": Kind(
        "IX-15",
        5,
        "v2 result handling left: client.query() returns a pyarrow Table; iterate table.to_pylist() "
        '(dicts keyed by SQL columns: time, tags, one per field) or use mode="pandas"',
    ),
    "column": Kind(
        "IX-15",
        6,
        "a Flux result column name is read (_time, _value, _field, _measurement, _start, _stop): SQL "
        "results name their columns time, the tags and one per field; use those, or drop this name if the "
        "value never comes from InfluxDB",
    ),
}


def marker_instruction(kinds: Iterable[str]) -> tuple[str, str]:
    """(rule id, text) of the one marker a statement gets for all the shapes found on it."""
    ordered = sorted(set(kinds), key=lambda k: KINDS[k].priority)
    first = KINDS[ordered[0]]
    text = first.instruction
    if len(ordered) > 1:
        text += "; also " + ", ".join(KINDS[k].rule for k in ordered[1:])
    return first.rule, text


# ---------------------------------------------------------------- facts learned once per service


_ALIASED_IMPORT = re.compile(r"^\s*(from|import)\s+influxdb_client\b[^\n]*(\bas\b|\()", re.M)


def learn_aliases(tree: ProjectTree) -> frozenset[str]:
    """Local names the service binds to v2 classes or modules (`InfluxDBClient as idbc`, `import
    influxdb_client as ic`): learned over the unit, so a test's `patch("app.store.idbc")` is known."""
    aliases: set[str] = set()
    for rel in tree.python_files():
        text = tree.read(rel)
        if not _ALIASED_IMPORT.search(text):
            continue
        module = tree.syntax(rel)
        if module is None:
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom) and _is_v2_module(node.module or ""):
                aliases |= {a.asname for a in node.names if a.asname and a.name in V2_NAMES}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.asname and _is_v2_module(a.name)}
    return frozenset(aliases)


# A v2 server check called in the service's InfluxDB code (`client.ping()`): IX-7 rewrites it, so a test
# mocking it (`fake.ping.return_value = True`, `patch.object(client, "ping")`) mocks a method the code
# no longer calls (the test fails, or passes without checking anything); the test holds no InfluxDB word
V2_CHECK_CALL = re.compile(r"\.(ping|version|health|ready|build)\s*\(\s*\)")
MOCK_ATTRS = frozenset(
    {
        "return_value",
        "side_effect",
        "called",
        "call_count",
        "assert_called",
        "assert_called_once",
        "assert_not_called",
    }
)


def learn_checks(tree: ProjectTree) -> frozenset[str]:
    """The v2 server checks (ping, version, ...) the service's InfluxDB modules call (over the unit)."""
    found: set[str] = set()
    for rel in tree.python_files():
        if is_test_file(rel):
            continue
        text = tree.read(rel)
        if "influxdb_client" in text and "influxdb_client_3" not in text:
            found |= set(V2_CHECK_CALL.findall(text))
    return frozenset(found)


def _mock_target(node: ast.Call, checks: frozenset[str]) -> bool:
    """`patch.object(c, "ping")`, `monkeypatch.setattr(c, "ping", f)`, `patch("app.db.client.ping")`,
    `MagicMock(ping=...)`: a call replacing one of `checks`."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    args = [_string_text(a) for a in node.args]
    if name in {"object", "setattr"} and len(args) >= 2 and args[1] in checks:
        return True
    if name == "patch" and args and args[0] and "." in args[0] and args[0].rsplit(".", 1)[1] in checks:
        return True
    return name in {"Mock", "MagicMock", "AsyncMock", "create_autospec"} and any(
        k.arg in checks for k in node.keywords
    )


def learn_getters(
    tree: ProjectTree, aliases: frozenset[str], flows: dict[str, FileFlow] | None = None
) -> dict[str, frozenset[str]]:
    """Dotted module -> its top-level functions returning an InfluxDB object (a client, a query or write
    API: `def sink(): ... return _sink`), learned over the unit: a module importing one and calling it
    (`sink().write(bucket, org, lines)`) may hold no InfluxDB word at all. `flows` gets each file's
    text -> its file_flow with these `aliases` (the sweep of a text the rules left as it was reuses it)."""
    found: dict[str, frozenset[str]] = {}
    for rel in tree.python_files():
        text = tree.read(rel)
        if not INFLUX_TEXT.search(text) or "def " not in text:
            continue
        module = tree.syntax(rel)
        if module is None:
            continue
        top = {n.name for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        walked = _Walked.of(module)  # one walk for the flow and the getters' pass below
        flow = file_flow(module, aliases, walked)
        if flows is not None:
            flows[text] = flow
        # and functions returning a name the file binds to one (`_sink = connection().write_api(...)`)
        _, returning = _bound(module, V2_NAMES | aliases | API_CALLS | flow.tied, naming=True, walked=walked)
        getters = (flow.tied_functions | returning) & top
        if getters:
            found[module_name(rel)] = frozenset(getters)
    return found


def imported_getters(module: ast.Module, getters: dict[str, frozenset[str]]) -> frozenset[str]:
    """Names under which `module` reaches the getters (see learn_getters) of the modules it imports:
    `from app.db import sink as s` gives `s`; `import app.db as db` gives `sink` (a segment of
    `db.sink()`, which the sweep's receiver test reads segment by segment)."""
    if not getters:
        return frozenset()
    local: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module:
            for names in _getters_of(node.module, getters):
                local |= {a.asname or a.name for a in node.names if a.name in names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                for names in _getters_of(alias.name, getters):
                    local |= names
    return frozenset(local)


def _getters_of(source: str, getters: dict[str, frozenset[str]]) -> Iterable[frozenset[str]]:
    """The getters of the module an import names (`app.db`, or `db` of a sibling)."""
    return (
        names for defining, names in getters.items() if defining == source or defining.endswith("." + source)
    )


def v3_bound_names(code: str) -> frozenset[str]:
    """Local names a module imports from influxdb_client_3 (regex: cheap, imports are one line)."""
    found: set[str] = set()
    for match in re.finditer(r"^\s*from\s+influxdb_client_3[\w.]*\s+import\s+\(?([^)\n]*)", code, re.M):
        for item in match.group(1).split(","):
            parts = item.split()
            if parts:
                found.add(parts[-1])
    return frozenset(found)


def _is_v2_module(name: str) -> bool:
    return name == "influxdb_client" or name.startswith("influxdb_client.")


# ---------------------------------------------------------------- the sweep (ast: no libcst pass)


def _segments(node: ast.AST) -> list[str]:
    """Names along a receiver chain, through calls and subscripts: `_q().query_api` -> [_q, query_api]."""
    out: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            out.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            if isinstance(node, ast.Name):
                out.append(node.id)
            return out[::-1]


def _strip_calls(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _prefixes(node: ast.AST) -> list[str]:
    """Dotted Name/Attribute prefixes of a receiver chain (`self.client.query_api()` -> self.client...)."""
    node = _strip_calls(node)
    found = []
    while isinstance(node, (ast.Attribute, ast.Name)):
        if _is_dotted(node):
            found.append(ast.unparse(node))
        if isinstance(node, ast.Name):
            break
        node = _strip_calls(node.value)
    return found


def _is_dotted(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _string_text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        value = node.value
        return value if isinstance(value, str) else value.decode("latin-1")
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}" for v in node.values
        )
    return None


def looks_like_flux(text: str) -> bool:
    """A string is Flux when one of its lines *starts* like Flux: prose that merely quotes a query
    ("run from(bucket: ...) yourself") is not a query."""
    return any(FLUX_LINE.match(line) for line in text.splitlines() or [text])


@dataclass
class FileFlow:
    """What one file binds. `tied`/`tied_functions`: dotted names and functions holding an InfluxDB
    object by data flow *or naming* (`influx`, `client`: enough beside `bucket=`/`org=`); `v2`/
    `v2_functions`: those holding a v2 object by data flow alone (enough for a bare `.write()`); the
    names holding the async client; the influxdb3-python classes imported (local name -> class)."""

    tied: set[str] = field(default_factory=set)
    tied_functions: set[str] = field(default_factory=set)
    v2: set[str] = field(default_factory=set)
    v2_functions: set[str] = field(default_factory=set)
    async_names: set[str] = field(default_factory=set)
    v3_classes: dict[str, str] = field(default_factory=dict)
    v3: set[str] = field(default_factory=set)  # names and getters holding an InfluxDBClient3 built here


def _names_in(expr: ast.AST) -> Iterable[str]:
    for n in ast.walk(expr):
        if isinstance(n, ast.Name):
            yield n.id
        elif isinstance(n, ast.Attribute):
            yield n.attr


def file_flow(code: str | ast.Module, aliases: frozenset[str], walked: _Walked | None = None) -> FileFlow:
    """Assignments, `with ... as`, parameters and functions whose value is an InfluxDB object.
    `walked`: _Walked.of the same module, where the caller already made it."""
    flow = FileFlow()
    try:
        module = ast.parse(code) if isinstance(code, str) else code
    except SyntaxError:
        return flow
    flow.v3_classes = _v3_imports(module)
    walked = walked or _Walked.of(module)  # one walk of the module for the four _bound passes below
    v2_known = V2_NAMES | aliases | API_CALLS
    flow.tied, flow.tied_functions = _bound(
        module, v2_known | set(flow.v3_classes), naming=True, walked=walked
    )
    flow.v2, flow.v2_functions = _bound(module, v2_known, naming=False, walked=walked)
    known = {local for local, cls in flow.v3_classes.items() if cls == "InfluxDBClient3"}
    for _ in range(2):  # `self._client = InfluxDBClient3(...)`, then `def _get_client(): return self._client`
        names, functions = _bound(module, known, naming=False, walked=walked)
        known |= names | functions
    flow.v3 = known
    for _node, target, value in walked.bindings:
        if "InfluxDBClientAsync" in walked.names(value):
            flow.async_names.add(ast.unparse(target))
    return flow


@dataclass
class _Walked:
    """What _bound reads of a module, gathered in one walk, in walk order: each function with the
    values it returns, each parameter, each binding (target, value); and the names of an
    expression, worked out once (every pass of _bound asks them of the same expressions)."""

    defs: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[ast.AST | None]]]
    args: list[ast.arg]
    bindings: list[tuple[ast.AST, ast.AST, ast.AST]]  # (node, target, value)
    _names: dict[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, module: ast.Module) -> _Walked:
        defs, args, bindings = [], [], []
        # ast.walk's breadth-first order, each node with the return lists of the defs around it: a
        # `return` goes to every def it is in, as a walk of each def would find it (one walk in all)
        todo: deque[tuple[ast.AST, tuple[list[ast.AST | None], ...]]] = deque([(module, ())])
        while todo:
            node, around = todo.popleft()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                returns: list[ast.AST | None] = []
                defs.append((node, returns))
                around = (*around, returns)
            elif isinstance(node, ast.Return):
                for found in around:
                    found.append(node.value)
            todo.extend((child, around) for child in ast.iter_child_nodes(node))
            if isinstance(node, ast.arg):
                args.append(node)
                continue
            bindings.extend((node, target, value) for target, value in _bindings(node))
        return cls(defs, args, bindings)

    def names(self, expr: ast.AST) -> frozenset[str]:
        found = self._names.get(id(expr))
        if found is None:
            found = self._names[id(expr)] = frozenset(_names_in(expr))
        return found


def _bound(
    module: ast.Module, known: frozenset[str] | set[str], naming: bool, walked: _Walked | None = None
) -> tuple[set[str], set[str]]:
    """(dotted names, functions) whose value mentions a known name (or, with `naming`, a name that
    reads like an InfluxDB object), through getters returning getters."""
    functions: set[str] = set()
    walked = walked or _Walked.of(module)

    def holds(expr: ast.AST | None) -> bool:
        return expr is not None and any(
            n in known or n in functions or (naming and TIED_SEGMENT.search(n)) for n in walked.names(expr)
        )

    for _ in range(2):  # a getter returning another getter's value
        for fn, returns in walked.defs:
            if any(holds(r) for r in returns) or holds(fn.returns):
                functions.add(fn.name)
    names: set[str] = set()
    for node in walked.args:
        if holds(node.annotation):
            names.add(node.arg)
    for _node, target, value in walked.bindings:
        if holds(value):
            name = ast.unparse(target)
            names |= {name, name.rsplit(".", 1)[-1]}
    return names, functions


def _bindings(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    if isinstance(node, ast.Assign):
        return [(t, node.value) for t in node.targets]
    if isinstance(node, ast.AnnAssign):
        return [(node.target, node.value or node.annotation)]
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [(node.optional_vars, node.context_expr)]
    return []


_STATEMENT_LISTS = ("body", "orelse", "finalbody")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFS = (*_FUNCTIONS, ast.ClassDef)
_SQL_KEYWORDS = frozenset({"language", "query_parameters"})


def _sends_sql(node: ast.AST) -> bool:
    """A converted query call in `node`: `query(..., language="sql")`, a wrapper sent `database=`, or one
    of the rules' helpers (`_influxdb3_rows(tables)`, `_influxdb3_query`, `_influxdb3_frame`)."""
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        keywords = {k.arg for k in call.keywords}
        # a wrapper's caller the rules converted sends `database=`/`query_parameters=` (a write sends
        # `database=` too, and reads nothing)
        if (
            name.startswith("_influxdb3_")
            or keywords & _SQL_KEYWORDS
            or ("database" in keywords and name != "write")
        ):
            return True
    return False


class ShapeFinder:
    """The old-API shapes of one module, per statement (the innermost statement holding each)."""

    def __init__(
        self,
        sweeper: InfluxSweeper,
        code: str,
        module: ast.Module,
        is_test: bool,
        known: tuple[frozenset[str], FileFlow] | None = None,
    ) -> None:
        self.is_test = is_test
        self.checks = sweeper.checks if is_test else frozenset()
        # A Flux column name read here is a key of rows or a frame some query returned: it exists once that
        # query is SQL where this module's own SQL names it (`count(*) AS _value`, the long form's
        # `AS _field`) or where the function reading it sends the converted query itself (the rules wrote
        # its keys from that translation); a frame another module's query returned has none
        self.own_columns = frozenset(OWN_FLUX_ALIAS.findall(code))
        self.scope: ast.AST = module  # the function being walked (the module at module level)
        self._sends_sql: dict[int, bool] = {}  # scope id -> it sends a converted query (worked out on demand)
        if known is None:
            # a name the rules re-bound to influxdb3-python here (`InfluxDBClient3 as idbc`) is new API now
            aliases = sweeper.aliases - v3_bound_names(code)
            known = (aliases, sweeper.flow_of(code, module, aliases))
        # else: the (aliases, flow) of a text this one differs from by comment lines only (see _sweep)
        self.aliases, self.flow = known
        imported = imported_getters(module, sweeper.getters)
        if imported - self.flow.tied_functions:  # `from app.db import sink`: sink() holds what it did there
            self.flow = replace(self.flow, tied_functions=self.flow.tied_functions | imported)
        self.found: dict[int, set[str]] = {}
        self.weak: dict[int, set[str]] = {}
        self.statements: dict[int, ast.stmt] = {}
        self.parents: dict[int, ast.stmt | None] = {}

    # ---- walking: statements, and the expressions each statement owns (not its nested statements)
    def run(self, module: ast.Module) -> None:
        for stmt in module.body:
            self._statement(stmt, None)

    def _statement(self, stmt: ast.stmt, parent: ast.stmt | None) -> None:
        self.statements[id(stmt)] = stmt
        self.parents[id(stmt)] = parent
        if self._is_docstring(stmt):
            return
        if isinstance(stmt, _FUNCTIONS):
            outer, self.scope = self.scope, stmt
            self._statement_parts(stmt)
            self.scope = outer
        else:
            self._statement_parts(stmt)

    def _statement_parts(self, stmt: ast.stmt) -> None:
        for name, value in ast.iter_fields(stmt):
            if name in _STATEMENT_LISTS and isinstance(value, list):
                for child in value:
                    if isinstance(child, ast.stmt):
                        self._statement(child, stmt)
            elif name == "handlers":
                for handler in value:
                    if handler.type is not None:
                        self._expression(handler.type, stmt)
                    for child in handler.body:
                        self._statement(child, stmt)
            elif name == "cases":
                for case in value:
                    if case.guard is not None:
                        self._expression(case.guard, stmt)
                    for child in case.body:
                        self._statement(child, stmt)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self._expression(item, stmt)
            elif isinstance(value, ast.AST):
                self._expression(value, stmt)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt)

    @staticmethod
    def _is_docstring(stmt: ast.stmt) -> bool:
        return isinstance(stmt, ast.Expr) and _string_text(stmt.value) is not None

    def _expression(self, root: ast.AST, stmt: ast.stmt) -> None:
        targets = {id(t) for t in getattr(stmt, "targets", [])} if isinstance(stmt, ast.Assign) else set()
        for node in ast.walk(root):
            if isinstance(node, ast.Constant) or isinstance(node, ast.JoinedStr):
                self._string(_string_text(node), stmt)
            elif isinstance(node, ast.Attribute):
                self._attribute(node, stmt, id(node) in targets)
            elif isinstance(node, ast.Name):
                self._name(node, stmt, id(node) in targets)
            elif isinstance(node, ast.Call):
                self._call(node, stmt)
            elif isinstance(node, ast.Subscript):
                self._subscript(node, stmt)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if _string_text(key) == "type" and _string_text(value) == "flux":
                        self.add(stmt, "http")

    def add(self, stmt: ast.stmt, kind: str) -> None:
        self.found.setdefault(id(stmt), set()).add(kind)

    def add_weak(self, stmt: ast.stmt, kind: str) -> None:
        self.weak.setdefault(id(stmt), set()).add(kind)

    def _mock_or(self, kind: str) -> str:
        return "mock" if self.is_test else kind

    # ---- detectors
    def _string(self, text: str | None, stmt: ast.stmt) -> None:
        if not text:
            return
        if looks_like_flux(text):
            self.add(stmt, "flux")
        if (
            text in FLUX_COLUMNS
            and text not in self.own_columns
            and not self.is_test
            and not self._scope_sends_sql()
        ):
            # a test's fake rows are left to the mock rules: their keys may be a translated query's
            # own aliases (`count(*) AS _value`)
            self.add(stmt, "column")
        if HTTP_V2.search(text):
            self.add(stmt, "http")
        words = set(re.findall(r"\w+", text))
        last = text.rsplit(".", 1)[-1]
        if words & V2_NAMES or (last in self.aliases and re.fullmatch(r"[\w.]+", text)):
            self.add(stmt, self._mock_or("client"))

    def _scope_sends_sql(self) -> bool:
        scope = self.scope
        if id(scope) not in self._sends_sql:
            # at module level, the module's own statements (not its functions' bodies)
            nodes = (
                [s for s in scope.body if not isinstance(s, _DEFS)]
                if isinstance(scope, ast.Module)
                else [scope]
            )
            self._sends_sql[id(scope)] = any(_sends_sql(n) for n in nodes)
        return self._sends_sql[id(scope)]

    def _attribute(self, node: ast.Attribute, stmt: ast.stmt, is_target: bool) -> None:
        attr = node.attr
        if attr in MOCK_ATTRS and isinstance(node.value, ast.Attribute) and node.value.attr in self.checks:
            self.add(stmt, "checkmock")  # `fake.ping.return_value = True`
        if attr == "records":
            self.add(stmt, self._mock_or("result"))
        elif attr == "InfluxDBClientAsync":
            self.add(stmt, "async")
        elif attr in V2_NAMES:
            self.add(stmt, self._mock_or("client"))
        elif API_NAMES.match(attr):
            if self.is_test:
                self.add(stmt, "mock")
            elif not is_target:  # `self._query_api = self._client` is the rules' converted form
                self.add_weak(stmt, "client")
        elif attr in RESULT_GETTERS and self.is_test:
            self.add(stmt, "mock")

    def _name(self, node: ast.Name, stmt: ast.stmt, is_target: bool) -> None:
        name = node.id
        if name == "InfluxDBClientAsync":
            self.add(stmt, "async")
        elif name in V2_NAMES or name in self.aliases or name == "influxdb_client":
            self.add(stmt, self._mock_or("client"))
        elif API_NAMES.match(name) and self.is_test:
            self.add(stmt, "mock")
        elif API_NAMES.match(name) and not is_target and name not in self.flow.v3:
            self.add_weak(stmt, "client")  # (`_write_api = get_client()` of a v3 client holds the client)

    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.ImportFrom):
            modules = [stmt.module or ""]
            names = [a.asname or a.name for a in stmt.names]
        else:
            modules = [a.name for a in stmt.names]
            names = []
        if any(_is_v2_module(m) for m in modules):
            self.add(stmt, self._mock_or("client"))
        for name in names:
            if name == "InfluxDBClientAsync":
                self.add(stmt, "async")
            elif name in V2_NAMES:
                self.add(stmt, self._mock_or("client"))
            elif API_NAMES.match(name):
                if self.is_test:
                    self.add(stmt, "mock")
                else:
                    self.add_weak(stmt, "client")

    def _subscript(self, node: ast.Subscript, stmt: ast.stmt) -> None:
        if isinstance(node.value, ast.Attribute) and node.value.attr == "values":
            self.add(stmt, self._mock_or("result"))
        elif self.is_test and _string_text(node.slice) in TEST_DICT_KEYS:
            self.add(stmt, "mock")

    def _call(self, node: ast.Call, stmt: ast.stmt) -> None:
        func = node.func
        keywords = {k.arg for k in node.keywords if k.arg is not None}
        if self.is_test and "records" in keywords:
            self.add(stmt, "mock")
        if self.checks and _mock_target(node, self.checks):
            self.add(stmt, "checkmock")
        if isinstance(func, ast.Name):
            if func.id in self.flow.tied_functions and keywords & {"bucket", "org"}:
                self.add(stmt, "client")
            cls = self.flow.v3_classes.get(func.id)
            if cls and keywords - accepted(f"{cls}.__init__"):
                self.add(stmt, "client")  # a v3 constructor still given v2 keywords (url=, timeout=)
            return
        if not isinstance(func, ast.Attribute):
            return
        method = func.attr
        if any(p in self.flow.async_names for p in _prefixes(func.value)):
            self.add(stmt, "async")
        if method in API_CALLS or method in OLD_QUERY_METHODS:
            self.add(stmt, "client")
        elif method in RESULT_GETTERS:
            self.add(stmt, self._mock_or("result"))
        elif method == "get" and isinstance(func.value, ast.Attribute) and func.value.attr == "values":
            self.add(stmt, self._mock_or("result"))
        # v2's positional write(bucket, org, record) or write(bucket, record=...): the v3 write(record,
        # database) takes at most two, and its first is the record
        v2_write = method == "write" and (len(node.args) >= 3 or (node.args and "record" in keywords))
        if (
            ("bucket" in keywords and method in CLIENT_METHODS)
            or (keywords & {"bucket", "org"} and self._reaches_client(node))
            or (v2_write and self._tied(func.value))
        ):
            self.add(stmt, "client")
        elif method in CLIENT_METHODS and self._v2_bound(func.value):
            self.add_weak(stmt, "client")
        signature = f"InfluxDBClient3.{method}"
        if signature in SIGNATURES and keywords - accepted(signature) and self._v3_bound(func.value):
            self.add(stmt, "client")  # a v3 call still given v2 keywords (params=, org= on query)

    def _reaches_client(self, node: ast.Call) -> bool:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in CLIENT_METHODS and self._tied(func.value):
            return True
        executor = (isinstance(func, ast.Attribute) and func.attr in EXECUTORS) or (
            isinstance(func, ast.Name) and func.id in EXECUTORS
        )
        if executor:
            return any(self._tied(arg) for arg in node.args)
        return isinstance(func, ast.Attribute) and self._tied(func)

    def _v2_bound(self, node: ast.AST) -> bool:
        """Bound to a v2 object by this file's data flow, or named like a v2 API (`write_api`)."""
        flow = self.flow
        return any(
            API_NAMES.match(s) or s in flow.v2 or s in flow.v2_functions for s in _segments(node)
        ) or any(p in flow.v2 for p in _prefixes(node))

    def _v3_bound(self, node: ast.AST) -> bool:
        return any(s in self.flow.v3 for s in _segments(node)) or any(
            p in self.flow.v3 for p in _prefixes(node)
        )

    def _tied(self, node: ast.AST) -> bool:
        flow = self.flow
        return any(
            TIED_SEGMENT.search(s) or s in flow.tied or s in flow.tied_functions for s in _segments(node)
        ) or any(p in flow.tied for p in _prefixes(node))

    # ---- results per statement
    def kinds(self, lines: list[str]) -> dict[int, set[str]]:
        """Statement id -> kinds, weak names kept only on statements with no sign of the new API."""
        out = {k: set(v) for k, v in self.found.items()}
        for key, kinds in self.weak.items():
            stmt = self.statements[key]
            text = "\n".join(lines[stmt.lineno - 1 : (stmt.end_lineno or stmt.lineno)])
            if not NEW_EVIDENCE.search(text):
                out.setdefault(key, set()).update(kinds)
        return out


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _starts_line(stmt: ast.stmt, lines: list[str]) -> bool:
    """The statement is the first thing on its line (a comment line can go right above it)."""
    first = _first_line(stmt)
    line = lines[first - 1]
    if first >= 2 and lines[first - 2].rstrip().endswith("\\"):
        return False
    decorators = getattr(stmt, "decorator_list", [])
    col = decorators[0].col_offset - 1 if decorators and decorators[0].lineno == first else stmt.col_offset
    return len(line) - len(line.lstrip()) == col


def _marked_above(lines: list[str], first: int) -> bool:
    """A marker (of any rule) in the comment lines right above line `first`."""
    i = first - 2
    while i >= 0 and lines[i].lstrip().startswith("#"):
        if MARKER_PREFIX in lines[i]:
            return True
        i -= 1
    return False


def _result_text(rel: str, text: str) -> bool:
    return bool((FAKE_TABLE_TEXT if is_test_file(rel) else RESULT_LOOP_TEXT).search(text))


def sweep_code(sweeper: InfluxSweeper, code: str, is_test: bool) -> tuple[str, list[Change]]:
    """The text with one marker above each statement still holding an old-API shape (none twice)."""
    return _sweep(sweeper, code, is_test)[:2]


def _sweep(
    sweeper: InfluxSweeper, code: str, is_test: bool, known: tuple[frozenset[str], FileFlow] | None = None
) -> tuple[str, list[Change], tuple[frozenset[str], FileFlow] | None]:
    """sweep_code, with the (aliases, flow) it worked out (None where it did not parse the text).

    `known`: those of a text `code` differs from only by whole comment lines (the markers a sweep of
    it inserted): both are computed from CPython's tree, which holds no comment, and from import
    lines, which a comment line is not, so they are the same for both texts."""
    try:
        module = sweeper.parsed(code)
    except SyntaxError:
        return code, [], None
    finder = ShapeFinder(sweeper, code, module, is_test, known)
    facts = (finder.aliases, finder.flow)
    finder.run(module)
    if not finder.found and not finder.weak:
        return code, [], facts
    lines = code.splitlines(keepends=True)
    plain = [line.rstrip("\r\n") for line in lines]
    placed: dict[int, tuple[ast.stmt, set[str]]] = {}
    for key, kinds in finder.kinds(plain).items():
        stmt = finder.statements[key]
        while stmt is not None and not _starts_line(stmt, plain):  # `if x: y()`: the `if` carries it
            stmt = finder.parents[id(stmt)]
        if stmt is None:
            continue
        first = _first_line(stmt)
        placed.setdefault(first, (stmt, set()))[1].update(kinds)
    places = {first: marker_instruction(kinds) for first, (_, kinds) in placed.items()}
    changes = insert_markers(lines, places, _marked_above)
    return "".join(lines), changes, facts


class InfluxSweeper(Sweeper):
    """The influxdb3 upgrade's sweep and post-migrate check, with the facts of one service."""

    def __init__(self, tree: ProjectTree, versions: Versions):
        super().__init__(tree, versions)
        self.aliases = learn_aliases(tree)
        alias_words = "|".join(map(re.escape, sorted(self.aliases)))
        self._alias_text = re.compile(rf"\b({alias_words})\b") if self.aliases else None
        # text -> file_flow(text, self.aliases) of the unit's files, worked out by learn_getters
        self._flows: dict[str, FileFlow] = {}
        self.getters = learn_getters(tree, self.aliases, self._flows)
        self.checks = learn_checks(tree)
        check_words = "|".join(sorted(self.checks))
        self._check_mock_text = (
            re.compile(rf"[\"'.]({check_words})\b|\b({check_words})\s*=") if self.checks else None
        )
        getter_words = "|".join(map(re.escape, sorted({n for names in self.getters.values() for n in names})))
        self._getter_text = re.compile(rf"\b({getter_words})\s*\(") if self.getters else None
        # (text, is_test, result) of the last sweep (see swept); each worker process keeps its own
        self._last: tuple[str, bool, tuple[str, list[Change]]] | None = None
        # (text the last sweep left with markers added, the (aliases, flow) of the text it swept)
        self._marked: tuple[str, tuple[frozenset[str], FileFlow]] | None = None

    def parsed(self, text: str) -> ast.Module:
        """ast.parse(text) (raises as it does), shared with the unit's other readers of the same text
        (ProjectTree.syntax_of: the transform, the post-migrate check, the analyses); the check's
        signature test reads the text the sweep just parsed. Nothing here changes a tree it reads."""
        found = self.tree.syntax_of(text)
        return found if found is not None else ast.parse(text)

    def flow_of(self, code: str, module: ast.Module, aliases: frozenset[str]) -> FileFlow:
        """file_flow(module, aliases), `module` being CPython's tree of `code`: the one learn_getters
        worked out for the same text and aliases (a file the rules left as it was), else anew."""
        if aliases == self.aliases and code in self._flows:
            return self._flows[code]
        return file_flow(module, aliases)

    def precheck(self, rel: str, text: str) -> bool:
        return bool(
            INFLUX_TEXT.search(text)
            or (self._alias_text and self._alias_text.search(text))
            or (self._getter_text and self._getter_text.search(text))
            or (_result_text(rel, text) and RESULT_USE_TEXT.search(text))
            or FLUX_COLUMN_TEXT.search(text)
            or (self._check_mock_text and is_test_file(rel) and self._check_mock_text.search(text))
        )

    def sweep(self, info: FileInfo, code: str) -> tuple[str, list[Change]]:
        return self.swept(code, info.is_test)

    def swept(self, code: str, is_test: bool) -> tuple[str, list[Change]]:
        """sweep_code, remembered for the last text: the post-migrate check sweeps the final text
        again, which is the text just swept whenever the sweep added nothing (most files). Where the
        sweep added markers, the final text is the swept one plus comment lines: its data flow (the
        most of a sweep) is the one already worked out (see _sweep)."""
        last = self._last
        if last is not None and last[0] == code and last[1] == is_test:
            return last[2]
        marked = self._marked
        known = marked[1] if marked is not None and marked[0] == code else None
        new, changes, facts = _sweep(self, code, is_test, known)
        self._marked = (new, facts) if new != code and facts is not None else None
        result = (new, changes)
        self._last = (code, is_test, result)
        return result

    def check(self, rel: str, text: str) -> list[CheckFailure]:
        given = CLIENT_GIVES_WRITE_API
        if not self.versions.at_least("influxdb3-python", "0.21"):
            given = given - {"point_settings"}  # before 0.21 it travelled in write_client_options
        return unmarked_shapes(self, rel, text) + signature_failures(rel, text, self.parsed, given)


def unmarked_shapes(sweeper: InfluxSweeper, rel: str, text: str) -> list[CheckFailure]:
    """The sweep once more on the final text: any marker it would still add is a shape left unmarked."""
    _, changes = sweeper.swept(text, is_test_file(rel))
    return [
        CheckFailure(
            rel, c.line, "unmarked", f"old InfluxDB 2 API left without a marker ({c.rule})", c.message
        )
        for c in changes
    ]


# ---------------------------------------------------------------- influxdb3-python signatures

# Keywords each influxdb3-python call accepts: the parameters of its signature plus the keywords its
# **kwargs forwards somewhere that takes them (write -> the write API, query -> FlightCallOptions and
# query_parameters, __init__ -> TLS/proxy/timeouts). A keyword outside is silently dropped or raises
# at run time (write(bucket=...) gives "multiple values for bucket"; query(org=...) a TypeError).
# tests/migrators/upgrades/influxdb3/test_sweep.py checks the explicit parameters against the
# installed library with inspect.signature.
SIGNATURES: dict[str, dict[str, frozenset[str]]] = {
    "InfluxDBClient3.__init__": {
        "params": frozenset(
            {
                "host",
                "org",
                "database",
                "token",
                "auth_scheme",
                "enable_gzip",
                "gzip_threshold",
                "write_client_options",
                "flight_client_options",
                "write_port_overwrite",
                "query_port_overwrite",
                "disable_grpc_compression",
                "point_settings",
                "debug",
            }
        ),
        "forwarded": frozenset(
            {
                "write_timeout",
                "write_accept_partial",
                "write_use_v2_api",
                "write_no_sync",
                "query_timeout",
                "verify_ssl",
                "ssl_ca_cert",
                "cert_file",
                "cert_key_file",
                "cert_key_password",
                "ssl_context",
                "proxy",
                "proxy_headers",
                "retries",
                "connection_pool_maxsize",
            }
        ),
    },
    "InfluxDBClient3.write": {
        "params": frozenset({"record", "database"}),
        "forwarded": frozenset(
            {
                "org",
                "write_precision",
                "data_frame_measurement_name",
                "data_frame_tag_columns",
                "data_frame_timestamp_column",
                "data_frame_timestamp_timezone",
                "tag_order",
                "no_sync",
                "accept_partial",
                "use_v2_api",
            }
        ),
    },
    "InfluxDBClient3.query": {
        "params": frozenset({"query", "language", "mode", "database"}),
        "forwarded": frozenset({"query_parameters", "headers", "timeout", "read_options", "write_options"}),
    },
    "InfluxDBClient3.query_async": {
        "params": frozenset({"query", "language", "mode", "database"}),
        "forwarded": frozenset({"query_parameters", "headers", "timeout", "read_options", "write_options"}),
    },
    "InfluxDBClient3.query_dataframe": {
        "params": frozenset({"query", "language", "database", "frame_type"}),
        "forwarded": frozenset({"query_parameters", "headers", "timeout", "read_options", "write_options"}),
    },
    "InfluxDBClient3.write_dataframe": {
        "params": frozenset(
            {"df", "measurement", "timestamp_column", "tags", "timestamp_timezone", "database"}
        ),
        "forwarded": frozenset({"write_precision", "tag_order", "no_sync"}),
    },
    "InfluxDBClient3.write_file": {
        "params": frozenset(
            {"file", "measurement_name", "tag_columns", "timestamp_column", "database", "file_parser_options"}
        ),
        "forwarded": frozenset({"write_precision"}),
    },
    "InfluxDBClient3.close": {"params": frozenset(), "forwarded": frozenset()},
    "InfluxDBClient3.flush": {"params": frozenset(), "forwarded": frozenset()},
    "InfluxDBClient3.get_server_version": {"params": frozenset(), "forwarded": frozenset()},
    "Point.__init__": {"params": frozenset({"measurement_name"}), "forwarded": frozenset()},
}


# What InfluxDBClient3.__init__ hands its write API itself (`_WriteApi(bucket=..., point_settings=...,
# **write_client_options)`, 0.21): the same key inside write_client_options(...) is given twice, a
# TypeError when the client is built.
CLIENT_GIVES_WRITE_API = frozenset(
    {
        "bucket",
        "org",
        "gzip_threshold",
        "enable_gzip",
        "auth_scheme",
        "timeout",
        "default_header",
        "rest_client",
        "point_settings",
    }
)


# What `from influxdb_client_3 import X` can import (the package's public top level); anything else
# fails at start-up with an ImportError. Checked against the installed library by the same test.
EXPORTS = frozenset(
    {
        "InfluxDBClient3",
        "Point",
        "PointSettings",
        "WritePrecision",
        "WriteOptions",
        "WriteType",
        "DefaultWriteOptions",
        "SYNCHRONOUS",
        "ASYNCHRONOUS",
        "InfluxDBError",
        "InfluxDB3ClientQueryError",
        "ArrowException",
        "QueryApiOptionsBuilder",
        "UploadFile",
        "write_client_options",
        "flight_client_options",
        "file_parser_options",
        "default_client_options",
    }
)


# The parameters each call takes by position, in order. v2 wrote `write(bucket, org, record)`: the same
# arguments given to the v3 `write(record, database, **kwargs)` land in the wrong parameters or raise.
POSITIONAL: dict[str, tuple[str, ...]] = {
    "InfluxDBClient3.write": ("record", "database"),
    "InfluxDBClient3.query": ("query", "language", "mode", "database"),
    "InfluxDBClient3.query_async": ("query", "language", "mode", "database"),
    "InfluxDBClient3.query_dataframe": ("query", "language", "database", "frame_type"),
}
POSITIONAL_FIX = "pass record=, database= (write) or the SQL then language=, database= (query) by keyword"


def _positional_failure(node: ast.Call, signature: str) -> str | None:
    """Why the call's positional arguments cannot be right for the v3 signature (None: they can)."""
    order = POSITIONAL.get(signature)
    if order is None or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    name = signature.split(".")[-1]
    if len(node.args) > len(order):
        given = len(node.args)
        return f"{name}() takes at most {len(order)} positional arguments ({', '.join(order)}), got {given}"
    twice = sorted({k.arg for k in node.keywords} & set(order[: len(node.args)]))
    if twice:
        return f"{name}() gets {', '.join(twice)} both by position and by keyword"
    return None


def accepted(signature: str) -> frozenset[str]:
    entry = SIGNATURES[signature]
    return entry["params"] | entry["forwarded"]


def signature_failures(
    rel: str,
    text: str,
    parse: Callable[[str], ast.Module] = ast.parse,
    given: frozenset[str] = CLIENT_GIVES_WRITE_API,
) -> list[CheckFailure]:
    """Calls on influxdb3-python objects (bound in this file) with keywords their signature rejects, and
    write_client_options(...) holding a keyword the client gives its write API itself (`given`)."""
    if "influxdb_client_3" not in text and "InfluxDBClient3" not in text:
        return []
    try:
        module = parse(text)
    except SyntaxError:
        return []
    nodes = _SignatureNodes.of(module)
    classes = _v3_classes(nodes.imports)
    clients = _v3_client_names(nodes.pairs, classes)
    failures = _import_failures(rel, nodes.imports) + _write_option_failures(rel, nodes, given)
    if not classes and not clients:
        return failures  # no call can have a signature (see _signature_of)
    for node in nodes.calls:
        signature = _signature_of(node, classes, clients)
        if signature is None:
            continue
        bad = sorted(k.arg for k in node.keywords if k.arg is not None and k.arg not in accepted(signature))
        misplaced = _positional_failure(node, signature)
        if misplaced:
            failures.append(CheckFailure(rel, node.lineno, "signature", misplaced, POSITIONAL_FIX))
        if bad:
            failures.append(
                CheckFailure(
                    rel,
                    node.lineno,
                    "signature",
                    f"{signature.replace('.__init__', '')}() does not accept "
                    + ", ".join(k + "=" for k in bad),
                    f"use only {', '.join(sorted(SIGNATURES[signature]['params']))} "
                    "(influxdb3-python); a bucket becomes database=, Flux params become query_parameters=",
                )
            )
    return failures


def _write_option_failures(rel: str, nodes: _SignatureNodes, given: frozenset[str]) -> list[CheckFailure]:
    local = {
        alias.asname or alias.name
        for node in nodes.imports
        if (node.module or "").startswith("influxdb_client_3")
        for alias in node.names
        if alias.name == "write_client_options"
    }
    failures = []
    for node in nodes.calls:
        if not (isinstance(node.func, ast.Name) and node.func.id in local):
            continue
        twice = sorted(k.arg for k in node.keywords if k.arg in given)
        if twice:
            failures.append(
                CheckFailure(
                    rel,
                    node.lineno,
                    "signature",
                    f"write_client_options() gets {', '.join(k + '=' for k in twice)} which InfluxDBClient3 "
                    "already gives its write API (a TypeError when the client is built)",
                    "pass them to InfluxDBClient3(...) itself (point_settings=, enable_gzip=, ...)",
                )
            )
    return failures


@dataclass
class _SignatureNodes:
    """What the signature check reads of a module, from one walk (each list in walk order): the
    `from ... import` statements, the (target, value) pairs of assignments and `with ... as`, the calls."""

    imports: list[ast.ImportFrom]
    pairs: list[tuple[ast.AST, ast.AST]]
    calls: list[ast.Call]

    @classmethod
    def of(cls, module: ast.Module) -> _SignatureNodes:
        imports, pairs, calls = [], [], []
        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                calls.append(node)
            elif isinstance(node, ast.ImportFrom):
                imports.append(node)
            elif isinstance(node, ast.Assign):
                pairs.extend((t, node.value) for t in node.targets)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                pairs.append((node.target, node.value))  # `self.c: InfluxDBClient3 = ...`
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs.append((node.optional_vars, node.context_expr))
        return cls(imports, pairs, calls)


def import_failures(rel: str, module: ast.Module) -> list[CheckFailure]:
    """`from influxdb_client_3 import X` where the package exports no X (an ImportError at start)."""
    return _import_failures(rel, [n for n in ast.walk(module) if isinstance(n, ast.ImportFrom)])


def _import_failures(rel: str, imports: list[ast.ImportFrom]) -> list[CheckFailure]:
    failures = []
    for node in imports:
        if node.module == "influxdb_client_3":
            missing = sorted(a.name for a in node.names if a.name != "*" and a.name not in EXPORTS)
            if missing:
                failures.append(
                    CheckFailure(
                        rel,
                        node.lineno,
                        "import",
                        f"influxdb_client_3 has no {', '.join(missing)}",
                        "import what influxdb3-python exports (InfluxDBClient3, Point, WritePrecision, "
                        "WriteOptions, write_client_options, InfluxDBError, ...) or drop the name",
                    )
                )
    return failures


def _v3_imports(module: ast.Module) -> dict[str, str]:
    """Local name -> influxdb3-python class (InfluxDBClient3, Point) imported in this file."""
    return _v3_classes([n for n in ast.walk(module) if isinstance(n, ast.ImportFrom)])


def _v3_classes(imports: list[ast.ImportFrom]) -> dict[str, str]:
    names = {}
    for node in imports:
        if (node.module or "").startswith("influxdb_client_3"):
            for alias in node.names:
                if alias.name in ("InfluxDBClient3", "Point"):
                    names[alias.asname or alias.name] = alias.name
    return names


def _v3_client_names(pairs: list[tuple[ast.AST, ast.AST]], classes: dict[str, str]) -> set[str]:
    """Dotted names bound to an InfluxDBClient3 (built here, or an alias of one), in this file."""
    ctor = {local for local, cls in classes.items() if cls == "InfluxDBClient3"}
    clients: set[str] = set()
    if not ctor:
        return clients  # nothing is built here: no name can hold a client, nor an alias of one
    texts: dict[int, str] = {}  # ast.unparse of a node, worked out once for both rounds

    def text(node: ast.AST) -> str:
        found = texts.get(id(node))
        if found is None:
            found = texts[id(node)] = ast.unparse(node)
        return found

    for _ in range(2):  # aliases of aliases (`self._query_api = self._client`)
        for target, value in pairs:
            is_ctor = isinstance(value, ast.Call) and _builds(text(value.func), ctor)
            if is_ctor or (isinstance(value, (ast.Name, ast.Attribute)) and text(value) in clients):
                clients.add(text(target))
    return clients


def _builds(func: str, ctor: set[str]) -> bool:
    """`func` builds an InfluxDBClient3: the class, or its `from_env()` constructor."""
    return func in ctor or (func.endswith(".from_env") and func[: -len(".from_env")] in ctor)


def _signature_of(node: ast.Call, classes: dict[str, str], clients: set[str]) -> str | None:
    func = ast.unparse(node.func)
    if func in classes:
        return f"{classes[func]}.__init__"
    if isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) in clients:
        key = f"InfluxDBClient3.{node.func.attr}"
        return key if key in SIGNATURES else None
    return None
