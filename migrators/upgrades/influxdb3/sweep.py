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
from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import PositionProvider

from migrators.core.codemod import MigrationCodemod, can_lead, dotted
from migrators.core.results import MARKER_PREFIX, CheckFailure
from migrators.core.tree import FileInfo, ProjectTree, is_test_file
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


def learn_aliases(tree: ProjectTree) -> frozenset[str]:
    """Local names the service binds to v2 classes or modules (`InfluxDBClient as idbc`, `import
    influxdb_client as ic`): learned over the unit, so a test's `patch("app.store.idbc")` is known."""
    aliases: set[str] = set()
    for rel in tree.python_files():
        text = tree.read(rel)
        if "influxdb_client" not in text:
            continue
        try:
            module = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom) and _is_v2_module(node.module or ""):
                aliases |= {a.asname for a in node.names if a.asname and a.name in V2_NAMES}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.asname and _is_v2_module(a.name)}
    return frozenset(aliases)


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


# ---------------------------------------------------------------- the sweep codemod


def _segments(node: cst.BaseExpression) -> list[str]:
    """Names along a receiver chain, through calls and subscripts: `_q().query_api` -> [_q, query_api]."""
    out: list[str] = []
    while True:
        if isinstance(node, cst.Attribute):
            out.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Name):
            out.append(node.value)
            return out[::-1]
        else:
            return out[::-1]


def _prefixes(node: cst.BaseExpression) -> list[str]:
    """Dotted Name/Attribute prefixes of a receiver chain (`self.client.query_api()` -> self.client...)."""
    while isinstance(node, (cst.Call, cst.Subscript)):
        node = node.func if isinstance(node, cst.Call) else node.value
    found = []
    while isinstance(node, (cst.Attribute, cst.Name)):
        name = dotted(node)
        if name:
            found.append(name)
        if isinstance(node, cst.Name):
            break
        node = node.value
        while isinstance(node, (cst.Call, cst.Subscript)):
            node = node.func if isinstance(node, cst.Call) else node.value
    return found


def _string_text(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # an odd literal: read it as written
            return node.value
        return value if isinstance(value, str) else value.decode("latin-1")
    if isinstance(node, cst.FormattedString):
        return "".join(p.value if isinstance(p, cst.FormattedStringText) else "{}" for p in node.parts)
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


def file_flow(code: str, aliases: frozenset[str]) -> FileFlow:
    """Assignments, `with ... as`, parameters and functions whose value is an InfluxDB object."""
    flow = FileFlow()
    try:
        module = ast.parse(code)
    except SyntaxError:
        return flow
    flow.v3_classes = _v3_imports(module)
    v2_known = V2_NAMES | aliases | API_CALLS
    flow.tied, flow.tied_functions = _bound(module, v2_known | set(flow.v3_classes), naming=True)
    flow.v2, flow.v2_functions = _bound(module, v2_known, naming=False)
    known = {local for local, cls in flow.v3_classes.items() if cls == "InfluxDBClient3"}
    for _ in range(2):  # `self._client = InfluxDBClient3(...)`, then `def _get_client(): return self._client`
        names, functions = _bound(module, known, naming=False)
        known |= names | functions
    flow.v3 = known
    for node in ast.walk(module):
        for target, value in _bindings(node):
            if "InfluxDBClientAsync" in set(_names_in(value)):
                flow.async_names.add(ast.unparse(target))
    return flow


def _bound(module: ast.Module, known: frozenset[str] | set[str], naming: bool) -> tuple[set[str], set[str]]:
    """(dotted names, functions) whose value mentions a known name (or, with `naming`, a name that
    reads like an InfluxDB object), through getters returning getters."""
    functions: set[str] = set()

    def holds(expr: ast.AST | None) -> bool:
        return expr is not None and any(
            n in known or n in functions or (naming and TIED_SEGMENT.search(n)) for n in _names_in(expr)
        )

    defs = [n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for _ in range(2):  # a getter returning another getter's value
        for fn in defs:
            returns = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return)]
            if any(holds(r) for r in returns) or holds(fn.returns):
                functions.add(fn.name)
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.arg):
            if holds(node.annotation):
                names.add(node.arg)
            continue
        for target, value in _bindings(node):
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


class InfluxSweepCodemod(MigrationCodemod):
    """One marker above each statement that still holds a v2 shape (see the module docstring)."""

    DESCRIPTION = "influxdb3 sweep: mark every old-API shape the rules left"
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, sweeper: InfluxSweeper, info: FileInfo) -> None:
        super().__init__(context, state=None, versions=sweeper.versions, info=info)
        self.aliases = sweeper.aliases
        self._found: dict[int, set[str]] = {}
        self._weak: dict[int, set[str]] = {}
        self._skip_names: set[int] = set()
        self._module: cst.Module | None = None
        self.flow = FileFlow()

    # ---- bookkeeping
    def _stmt(self) -> cst.CSTNode | None:
        return self._stmt_stack[-1] if self._stmt_stack else None

    def found(self, kind: str) -> None:
        stmt = self._stmt()
        if stmt is not None:
            self._found.setdefault(id(stmt), set()).add(kind)

    def weak(self, kind: str) -> None:
        stmt = self._stmt()
        if stmt is not None:
            self._weak.setdefault(id(stmt), set()).add(kind)

    def visit_Module(self, node: cst.Module) -> bool:
        self._module = node
        code = node.code
        # a name the rules re-bound to influxdb3-python here (`InfluxDBClient3 as idbc`) is new API now
        self.aliases = self.aliases - v3_bound_names(code)
        self.flow = file_flow(code, self.aliases)
        return True

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        if can_lead(original_node):
            kinds = self._found.pop(id(original_node), set())
            weak = self._weak.pop(id(original_node), set())
            if weak and not NEW_EVIDENCE.search(self._code(original_node)):
                kinds |= weak
            if kinds and not self._already_marked(original_node, updated_node):
                rule, text = marker_instruction(kinds)
                self.mark(rule, original_node, text)
        return super().on_leave(original_node, updated_node)

    def _code(self, node: cst.CSTNode) -> str:
        return self._module.code_for_node(node) if self._module is not None else ""

    def _already_marked(self, original: cst.CSTNode, updated: cst.CSTNode) -> bool:
        lines = list(getattr(updated, "leading_lines", ()))
        if original is getattr(self, "_module_first", None) and self._module is not None:
            lines += list(self._module.header)
        return any(line.comment is not None and MARKER_PREFIX in line.comment.value for line in lines)

    def _in_docstring(self) -> bool:
        stmt = self._stmt()
        return isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(item, cst.Expr) and isinstance(item.value, cst.BaseString) for item in stmt.body
        )

    def _v2_bound(self, node: cst.BaseExpression) -> bool:
        """Bound to a v2 object by this file's data flow, or named like a v2 API (`write_api`)."""
        return any(
            API_NAMES.match(seg) or seg in self.flow.v2 or seg in self.flow.v2_functions
            for seg in _segments(node)
        ) or any(p in self.flow.v2 for p in _prefixes(node))

    def _v3_bound(self, node: cst.BaseExpression) -> bool:
        return any(seg in self.flow.v3 for seg in _segments(node)) or any(
            p in self.flow.v3 for p in _prefixes(node)
        )

    def _tied(self, node: cst.BaseExpression) -> bool:
        return any(
            TIED_SEGMENT.search(seg) or seg in self.flow.tied or seg in self.flow.tied_functions
            for seg in _segments(node)
        ) or any(p in self.flow.tied for p in _prefixes(node))

    # ---- strings: Flux text, v2 HTTP API, v2 names quoted in patch targets
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self._string(_string_text(node))

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self._string(_string_text(node))

    def _string(self, text: str | None) -> None:
        if not text or self._in_docstring():
            return
        if looks_like_flux(text):
            self.found("flux")
        if HTTP_V2.search(text):
            self.found("http")
        words = set(re.findall(r"\w+", text))
        last = text.rsplit(".", 1)[-1]
        if words & V2_NAMES or (last in self.aliases and re.fullmatch(r"[\w.]+", text)):
            self.found("mock" if self.info.is_test else "client")

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if _string_text(node.key) == "type" and _string_text(node.value) == "flux":
            self.found("http")

    # ---- names and attributes
    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._skip_names.add(id(node.attr))
        attr = node.attr.value
        if attr == "records":
            self.found("mock" if self.info.is_test else "result")
        elif attr in V2_NAMES:
            self.found("async" if attr == "InfluxDBClientAsync" else "client")
        elif API_NAMES.match(attr):
            if self.info.is_test:
                self.found("mock")
            elif id(node) not in self._skip_names:
                self.weak("client")
        elif attr in RESULT_GETTERS and self.info.is_test:
            self.found("mock")

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self._skip_names:
            return
        name = node.value
        if name == "InfluxDBClientAsync":
            self.found("async")
        elif name in V2_NAMES or name in self.aliases or name == "influxdb_client":
            self.found("mock" if self.info.is_test else "client")
        elif API_NAMES.match(name) and self.info.is_test:
            self.found("mock")
        elif API_NAMES.match(name):
            self.weak("client")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._skip_names.add(id(node.name))  # `def query_api(self)`: a getter's name is not a use

    def visit_Param(self, node: cst.Param) -> None:
        self._skip_names.add(id(node.name))

    def visit_Assign(self, node: cst.Assign) -> None:
        # `self._query_api = self._client` is the rules' converted form: an old *name* as a target only
        for target in node.targets:
            if isinstance(target.target, (cst.Name, cst.Attribute)):
                self._skip_names.add(id(target.target))
                if isinstance(target.target, cst.Attribute):
                    self._skip_names.add(id(target.target.attr))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = dotted(node.module) if node.module is not None else ""
        if module and _is_v2_module(module):
            self.found("mock" if self.info.is_test else "client")

    def visit_Import(self, node: cst.Import) -> None:
        if any(_is_v2_module(dotted(a.name) or "") for a in node.names):
            self.found("mock" if self.info.is_test else "client")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Attribute) and node.value.attr.value == "values":
            self.found("mock" if self.info.is_test else "result")
        elif self.info.is_test and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index) and _string_text(index.value) in TEST_DICT_KEYS:
                self.found("mock")

    # ---- calls
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        keywords = {arg.keyword.value for arg in node.args if arg.keyword is not None}
        if self.info.is_test and "records" in keywords:
            self.found("mock")
        if not isinstance(func, cst.Attribute):
            if (
                isinstance(func, cst.Name)
                and func.value in self.flow.tied_functions
                and keywords & {"bucket", "org"}
            ):
                self.found("client")
            cls = self.flow.v3_classes.get(func.value) if isinstance(func, cst.Name) else None
            if cls and keywords - accepted(f"{cls}.__init__"):
                self.found("client")  # a v3 constructor still given v2 keywords (url=, timeout=)
            return
        method = func.attr.value
        if any(p in self.flow.async_names for p in _prefixes(func.value)):
            self.found("async")
        if method in API_CALLS or method in OLD_QUERY_METHODS:
            self.found("client")
        elif method in RESULT_GETTERS:
            self.found("mock" if self.info.is_test else "result")
        elif method == "get" and isinstance(func.value, cst.Attribute) and func.value.attr.value == "values":
            self.found("mock" if self.info.is_test else "result")
        if (
            "bucket" in keywords
            and method in CLIENT_METHODS
            or keywords & {"bucket", "org"}
            and self._reaches_client(node)
        ):
            self.found("client")
        elif method in CLIENT_METHODS and self._v2_bound(func.value):
            self.weak("client")
        signature = f"InfluxDBClient3.{method}"
        if signature in SIGNATURES and keywords - accepted(signature) and self._v3_bound(func.value):
            self.found("client")  # a v3 call still given v2 keywords (params=, org= on query)

    def _reaches_client(self, node: cst.Call) -> bool:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in CLIENT_METHODS and self._tied(func.value):
            return True
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in EXECUTORS
            or (isinstance(func, cst.Name) and func.value in EXECUTORS)
        ):
            return any(arg.keyword is None and self._tied(arg.value) for arg in node.args)
        return isinstance(func, cst.Attribute) and self._tied(func)


class InfluxSweeper(Sweeper):
    """The influxdb3 upgrade's sweep and post-migrate check, with the facts of one service."""

    def __init__(self, tree: ProjectTree, versions: Versions):
        super().__init__(tree, versions)
        self.aliases = learn_aliases(tree)
        self._alias_text = (
            re.compile(r"\b(" + "|".join(map(re.escape, sorted(self.aliases))) + r")\b")
            if self.aliases
            else None
        )

    def precheck(self, rel: str, text: str) -> bool:
        return bool(INFLUX_TEXT.search(text) or (self._alias_text and self._alias_text.search(text)))

    def make_codemod(self, context: CodemodContext, info: FileInfo) -> MigrationCodemod:
        return InfluxSweepCodemod(context, self, info)

    def check(self, rel: str, text: str) -> list[CheckFailure]:
        return unmarked_shapes(self, rel, text) + signature_failures(rel, text)


def unmarked_shapes(sweeper: InfluxSweeper, rel: str, text: str) -> list[CheckFailure]:
    """The sweep once more on the final text: any marker it would still add is a shape left unmarked."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return []
    info = FileInfo(rel=rel, is_test=is_test_file(rel), is_conftest=rel.endswith("conftest.py"))
    codemod = InfluxSweepCodemod(CodemodContext(filename=rel, full_module_name=None), sweeper, info)
    codemod.transform_module(module)
    return [
        CheckFailure(
            rel,
            change.line,
            "unmarked",
            f"old InfluxDB 2 API left without a marker ({change.rule})",
            change.message,
        )
        for change in codemod.changes
        if change.kind == "marker"
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


def accepted(signature: str) -> frozenset[str]:
    entry = SIGNATURES[signature]
    return entry["params"] | entry["forwarded"]


def signature_failures(rel: str, text: str) -> list[CheckFailure]:
    """Calls on influxdb3-python objects (bound in this file) with keywords their signature rejects."""
    if "influxdb_client_3" not in text and "InfluxDBClient3" not in text:
        return []
    try:
        module = ast.parse(text)
    except SyntaxError:
        return []
    classes = _v3_imports(module)
    clients = _v3_clients(module, classes)
    failures = import_failures(rel, module)
    for node in ast.walk(module):
        if not isinstance(node, ast.Call):
            continue
        signature = _signature_of(node, classes, clients)
        if signature is None:
            continue
        bad = sorted(k.arg for k in node.keywords if k.arg is not None and k.arg not in accepted(signature))
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


def import_failures(rel: str, module: ast.Module) -> list[CheckFailure]:
    """`from influxdb_client_3 import X` where the package exports no X (an ImportError at start)."""
    failures = []
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module == "influxdb_client_3":
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
    names = {}
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("influxdb_client_3"):
            for alias in node.names:
                if alias.name in ("InfluxDBClient3", "Point"):
                    names[alias.asname or alias.name] = alias.name
    return names


def _v3_clients(module: ast.Module, classes: dict[str, str]) -> set[str]:
    """Dotted names bound to an InfluxDBClient3 (built here, or an alias of one), in this file."""
    ctor = {local for local, cls in classes.items() if cls == "InfluxDBClient3"}
    clients: set[str] = set()
    for _ in range(2):  # aliases of aliases (`self._query_api = self._client`)
        for node in ast.walk(module):
            pairs = []
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs = [(node.optional_vars, node.context_expr)]
            for target, value in pairs:
                is_ctor = isinstance(value, ast.Call) and ast.unparse(value.func) in ctor
                if is_ctor or (
                    isinstance(value, (ast.Name, ast.Attribute)) and ast.unparse(value) in clients
                ):
                    clients.add(ast.unparse(target))
    return clients


def _signature_of(node: ast.Call, classes: dict[str, str], clients: set[str]) -> str | None:
    func = ast.unparse(node.func)
    if func in classes:
        return f"{classes[func]}.__init__"
    if isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) in clients:
        key = f"InfluxDBClient3.{node.func.attr}"
        return key if key in SIGNATURES else None
    return None
