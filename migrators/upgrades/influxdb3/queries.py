"""Queries of the influxdb3 upgrade: Flux strings in Python (IX-11, IX-12) and result handling (IX-13).

:class:`QueryPlanner` looks at one function (original libcst nodes, before any rewrite), finds the
v2 query calls, follows the Flux text to its assignment (literal, f-string, ``+`` / ``+=`` of
literal fragments in straight-line code), translates it with :mod:`.flux_sql` and records what to
replace, keyed by the original node: the Flux string, the call, the record loops and the
record accessors. The codemod applies the plan when it leaves those nodes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from migrators.core.bindings import statement_parts
from migrators.core.codemod import LightVisitor
from migrators.core.walk import walk
from migrators.upgrades.influxdb3.flow import FLUX_HINT, Builder, ServiceFlow, template_text
from migrators.upgrades.influxdb3.flux import Unsupported
from migrators.upgrades.influxdb3.flux_sql import Name, Translation, translate
from migrators.upgrades.influxdb3.rows import (
    V2_ONLY_KEYS,
    RowNameUses,
    name_code,
    plan_row_reads,
    plan_wrapper_loop,
    row_columns,
)
from migrators.upgrades.influxdb3.runtime import RUNTIME_QUERY, expand_call, expandable
from migrators.upgrades.influxdb3.splices import find_splice, name_nodes, rebinds, same_rows
from migrators.upgrades.influxdb3.templates import Filled, fill_format, fill_percent, unfilled

QUERY_METHODS = {
    "query": "all",
    "query_data_frame": "pandas",
    "query_stream": None,
    "query_csv": None,
    "query_raw": None,
}
FLUX_DOC = "see docs/rules.md#ix-12"


@dataclass
class FluxSource:
    """The Flux text of a query argument, with f-string holes as \\x00n\\x00, and where it lives."""

    text: str
    holes: list[str]  # Python source of each hole
    node: cst.BaseExpression  # the string expression to replace
    original: str  # for the marker
    builder: Builder | None = None  # the Flux is built by this function (replaced there, not here)
    local_holes: list[str | None] | None = None  # the builder's holes as code valid at the call site
    template_ref: cst.BaseExpression | None = None  # a filled template: the fill becomes this constant
    template: bool = False  # the Flux is a template constant's (its SQL must need no identifier hole)


@dataclass
class QueryCall:
    """A v2 query call: direct, through an executor (`to_thread(api.query, q)`) or a service wrapper."""

    node: cst.Call  # the call to rewrite
    method: str
    func: cst.Attribute  # `api.query` (called, or handed to the executor)
    lead: int = 0  # arguments before the query's own (the function handed to an executor, ...)
    result: cst.BaseExpression | None = None  # the expression whose value is the query result
    wrapper: bool = False  # a call of the service's own wrapper: it adds language="sql" itself
    rows: bool = False  # a row wrapper's call (see .rows): the result is a list of row dicts


@dataclass
class Plan:
    replace: dict[int, cst.CSTNode] = field(default_factory=dict)  # id(original) -> new node
    flatten: dict[int, cst.BaseExpression] = field(default_factory=dict)  # id(outer For) -> new iter
    flatten_comp: set[int] = field(default_factory=set)  # id(outer CompFor over tables) to flatten
    yield_rows: set[int] = field(default_factory=set)  # id(`for t in q: yield from t.records`) to fold
    marks: list[tuple[cst.CSTNode, str, str]] = field(default_factory=list)
    notes: list[tuple[cst.CSTNode, str, str]] = field(default_factory=list)
    rewrites: list[tuple[cst.CSTNode, str, str]] = field(default_factory=list)
    needs_timezone: bool = False
    needs_rows: bool = False  # the module gets the _influxdb3_rows helper (Arrow rows, safe times)
    needs_expand: bool = False  # the module gets runtime's _influxdb3_expand helper (run-time schema)
    needs_runtime_query: bool = False  # and runtime's _influxdb3_query (an executor runs the query)
    needs_frame: bool = False  # the module gets the _influxdb3_frame helper (UTC-aware frame times)


def hole_name(source: str, taken: set[str]) -> str:
    base = source.rsplit(".", 1)[-1]
    base = base if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", base) else "p"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return name


# --- Python string expressions -> Flux text ---------------------------------------------------------


def flux_text(node: cst.BaseExpression, module: cst.Module, holes: list[str]) -> str | None:
    """Text of a string expression with holes as sentinels; None when it is not built from literals."""
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value if isinstance(node.evaluated_value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left, right = flux_text(node.left, module, holes), flux_text(node.right, module, holes)
        return None if left is None or right is None else left + right
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _concatenation(node, module, holes)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
        return _percent(node, module, holes)
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "format"
        and isinstance(node.func.value, (cst.SimpleString, cst.ConcatenatedString))
    ):
        return _format(node, module, holes)
    if isinstance(node, cst.FormattedString):
        out = []
        prefix = node.prefix.lower().replace("f", "")
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                out.append(
                    ast.literal_eval(f"{prefix}'''{part.value}'''".replace("{{", "{").replace("}}", "}"))
                    if "'''" not in part.value
                    else part.value
                )
            else:
                if part.conversion or part.format_spec:
                    return None
                out.append(f"\x00{len(holes)}\x00")
                holes.append(module.code_for_node(part.expression))
        return "".join(out)
    if isinstance(node, cst.ParenthesizedWhitespace):
        return None
    return None


_VALUE_NODES = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def _concatenation(node: cst.BinaryOperation, module: cst.Module, holes: list[str]) -> str | None:
    """`'from(bucket: "' + BUCKET + '")' + ...`: literal parts, other operands as holes."""
    parts: list[cst.BaseExpression] = []

    def flatten(n: cst.BaseExpression) -> None:
        if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Add):
            flatten(n.left)
            flatten(n.right)
        else:
            parts.append(n)

    flatten(node)
    out, literal = [], False
    for part in parts:
        text = flux_text(part, module, holes)
        if text is not None:
            literal = True
            out.append(text)
        elif isinstance(part, _VALUE_NODES):
            out.append(f"\x00{len(holes)}\x00")
            holes.append(module.code_for_node(part))
        else:
            return None
    return "".join(out) if literal else None


_PERCENT = re.compile(r"%(?:\((\w+)\))?([-#0 +]*\d*(?:\.\d+)?)([sdifr%])")


def _percent(node: cst.BinaryOperation, module: cst.Module, holes: list[str]) -> str | None:
    """`"... %s ... %(k)d" % (a, b)` / `% {"k": v}` / `% x`: each conversion is a hole (plain ones)."""
    if not isinstance(node.left, (cst.SimpleString, cst.ConcatenatedString)):
        return None
    template = (
        node.left.evaluated_value
        if isinstance(node.left, cst.SimpleString)
        else flux_text(node.left, module, [])
    )
    if not isinstance(template, str):
        return None
    right = node.right
    if isinstance(right, cst.Dict):
        keyed = {}
        for element in right.elements:
            if not (isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString)):
                return None
            keyed[element.key.evaluated_value] = module.code_for_node(element.value)
        positional: list[str] = []
    else:
        keyed = None
        if isinstance(right, cst.Tuple):
            if any(not isinstance(e, cst.Element) for e in right.elements):
                return None  # a starred element: the values are not known one by one
            positional = [module.code_for_node(e.value) for e in right.elements]
        else:  # `"..." % value`: one value (a tuple-valued name fails at run time unless it has one item)
            positional = [module.code_for_node(right)]
    out, index = [], 0
    pos = 0
    for m in _PERCENT.finditer(template):
        out.append(template[pos : m.start()])
        pos = m.end()
        key, flags, conv = m.groups()
        if conv == "%":
            out.append("%")
            continue
        if flags.strip("-") or conv == "r":
            return None  # widths, precision: the text differs from str(value)
        if key is not None:
            if keyed is None or key not in keyed:
                return None
            code = keyed[key]
        else:
            if keyed is not None or index >= len(positional):
                return None
            code, index = positional[index], index + 1
        out.append(f"\x00{len(holes)}\x00")
        # the value the Flux saw: %d/%i truncate to an int, %f rounds to six decimals
        holes.append(
            {"d": f"int({code})", "i": f"int({code})", "f": f'float("%f" % ({code}))'}.get(conv, code)
        )
    out.append(template[pos:])
    if keyed is None and index != len(positional):
        return None
    return "".join(out)


def _format(node: cst.Call, module: cst.Module, holes: list[str]) -> str | None:
    """`"...{k}...{}".format(x, k=v)`: each replacement field is a hole (no conversion or spec)."""
    template = flux_text(node.func.value, module, [])
    if template is None or any(a.star for a in node.args):
        return None
    positional = [module.code_for_node(a.value) for a in node.args if a.keyword is None]
    keyed = {a.keyword.value: module.code_for_node(a.value) for a in node.args if a.keyword is not None}
    filled = fill_format(template, positional, keyed, start=len(holes))
    if filled is None or None in filled.values:
        return None  # a field no argument fills
    holes.extend(filled.values)
    return filled.text


def sql_expression(sql: str, holes: list[str], like: cst.BaseExpression | None = None) -> cst.BaseExpression:
    """The SQL as a Python string (an f-string when identifier holes remain), a clause per line; in the
    parentheses of `like`, the expression it replaces (a comment after `(` is a person's note or a label)."""
    new = _sql_string(sql, holes)
    if like is not None and like.lpar:
        new = new.with_changes(lpar=like.lpar, rpar=like.rpar)
    return new


def _sql_string(sql: str, holes: list[str]) -> cst.BaseExpression:
    text = re.sub(r" (FROM|WHERE|GROUP BY|ORDER BY|UNION ALL|HAVING) ", r"\n\1 ", sql)
    idents = [int(i) for i in re.findall(r"\x00(\d+)\x00", text)]
    multiline = "\n" in text
    if not idents:
        if multiline:
            return cst.SimpleString('"""\n' + text.replace("\\", "\\\\") + '\n"""')
        return cst.SimpleString(repr(text) if "'" not in text else '"' + text + '"')
    body = text.replace("\\", "\\\\").replace("{", "{{").replace("}", "}}")
    body = re.sub(r"\x00(\d+)\x00", lambda m: "{" + holes[int(m.group(1))] + "}", body)
    quote = '"""' if multiline else '"'
    if not multiline and '"' in body:
        quote = '"""'
    nl = "\n" if multiline else ""
    return cst.parse_expression(f"f{quote}{nl}{body}{nl}{quote}")


# --- the planner ------------------------------------------------------------------------------------


class QueryPlanner:
    """Plans the rewrite of the v2 query calls of one function body."""

    def __init__(
        self,
        module: cst.Module,
        is_query_api: Callable[[cst.BaseExpression], bool],
        schema: dict[str, list[str]],
        plan: Plan,
        flow: ServiceFlow | None = None,
        scope: ModuleScope | None = None,
    ):
        self.module = module
        self.is_query_api = is_query_api
        self.schema = schema
        self.plan = plan
        self.flow = flow or ServiceFlow()
        self.scope = scope or ModuleScope()
        self.enclosing: list[_Collector] = []  # the functions around the one being planned
        self.planned: set[int] = set()  # id of nested functions planned with their enclosing function

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def plan_function(self, body: cst.CSTNode, function: cst.FunctionDef | None = None) -> None:
        calls = _Collector(
            self.is_query_api, set(self.flow.wrappers), self.flow.consumers, set(self.flow.row_wrappers)
        )
        walk(body, calls)
        calls.params = _param_names(function)
        for query in calls.query_calls:
            if self.plan_wrapper(function, query):
                continue
            self.plan_call(body, query, calls)
        for call, name in calls.consumer_calls:
            self.mark_consumed(body, call, name, calls)
        if function is None:
            return
        # a nested function (a closure handed to an executor) reads the Flux its enclosing function
        # assigns: planned now, before the traversal passes the enclosing function's statements
        self.enclosing.append(calls)
        for nested in _nested_functions(body):
            self.planned.add(id(nested))
            self.plan_function(nested.body, nested)
        self.enclosing.pop()

    def mark_consumed(self, body: cst.CSTNode, call: cst.Call, name: str, calls: _Collector) -> None:
        """Flux handed to a service function that runs it and walks the v2 records itself: the query and
        that function change together, by hand (the rows' columns depend on each caller's query)."""
        first = call.args[0]
        if first.keyword is not None or first.star:
            return
        source = self.resolve(body, first.value, calls)
        if source is None or not FLUX_HINT.search(source.text):
            return
        target = source.node if source.builder is None else call
        self.plan.marks.append(
            (
                target,
                "IX-12",
                f"this Flux is run by {name}(), which reads the v2 records itself: translate it to SQL "
                f"and rewrite {name}() and its callers together ({FLUX_DOC}): "
                + " ".join(source.original.split()),
            )
        )

    def plan_wrapper(self, function: cst.FunctionDef | None, query: QueryCall) -> bool:
        """`def query(self, flux): return self.query_api.query(flux, org=...)`, a wrapper of the service:
        its callers translate their Flux; it sends SQL and forwards their database/query_parameters."""
        name = function.name.value if function is not None else ""
        wrapper = self.flow.wrappers.get(name) or self.flow.row_wrappers.get(name)
        if wrapper is None or query.wrapper or query.lead or query.method != "query":
            return False
        args = query.node.args
        first = args[0].value if args else None
        if not (isinstance(first, cst.Name) and first.value == wrapper.param) or not self.scope.rel_is(
            wrapper.rel
        ):
            return False
        if name in self.flow.row_wrappers and not plan_wrapper_loop(function, self.plan):
            return False
        params = function.params
        star = params.star_kwarg
        if star is None:
            star = cst.Param(cst.Name("sql_options"), star="**")
            self.plan.replace[id(params)] = params.with_changes(star_kwarg=star)
        receiver = _receiver(query.func)
        # its callers' SQL may hold run-time parts (runtime.py); other text passes through unchanged
        database = cst.parse_expression(f'{star.name.value}.get("database")')
        self.plan.needs_expand = True
        new_args = [
            cst.Arg(expand_call(receiver, first, database)),
            _kw("language", cst.SimpleString('"sql"')),
            cst.Arg(cst.Name(star.name.value), star="**"),
        ]
        new_args += [a for a in args[1:] if a.keyword and a.keyword.value not in ("org", "params", "query")]
        self.plan.replace[id(query.node)] = cst.Call(
            cst.Attribute(receiver, cst.Name("query")), _commas(new_args)
        )
        self.plan.rewrites.append(
            (
                query.node,
                "IX-11",
                f"wrapper {wrapper.name}(): sends SQL; callers pass database/query_parameters",
            )
        )
        return True

    def plan_call(self, body: cst.CSTNode, query: QueryCall, calls: _Collector) -> None:
        call, method = query.node, query.method
        mode = QUERY_METHODS[method]
        if mode is None:
            # the call and its consumer change by hand; the Flux it sends is still translated where it is
            # written, so that person starts from the SQL
            self.plan.marks.append(
                (
                    call,
                    "IX-11",
                    f"{method}() has no influxdb3 counterpart with the same result; "
                    'use client.query(sql, language="sql", mode="reader"|"all") and rewrite the consumer',
                )
            )
        own = call.args[query.lead :]
        args = [a for a in own if a.keyword is None]
        flux_arg = (
            args[0].value
            if args
            else next((a.value for a in own if a.keyword and a.keyword.value == "query"), None)
        )
        if flux_arg is not None and self.plan_spliced(body, query, flux_arg, calls, mode):
            return
        source = self.resolve(body, flux_arg, calls) if flux_arg is not None else None
        if query.wrapper and (source is None or not FLUX_HINT.search(source.text)):
            # a wrapper called `query` shares its name with clients' own methods: only a distinctive
            # wrapper name (`_execute_query`) proves that an unknown argument is Flux
            distinctive = query.func.attr.value not in QUERY_METHODS
            if (
                source is None
                and distinctive
                and not any(a.keyword and a.keyword.value in _V3_KEYWORDS for a in own)
            ):
                self.plan.marks.append(
                    (
                        call,
                        "IX-12",
                        f"{query.func.attr.value}(): the query text passed here is not known; send SQL "
                        f"({FLUX_DOC})",
                    )
                )
            return  # SQL already (a second run), or marked
        if source is None:
            self.plan.marks.append(
                (
                    call,
                    "IX-12",
                    "translate Flux to SQL; the query text is not a literal or "
                    f"an f-string assembled in this function ({FLUX_DOC})",
                )
            )
            return
        names = hole_names(source.holes)
        try:
            result = translate(source.text, names, self.schema, runtime=expandable(query, mode))
            if source.builder is not None:
                self.check_builder_holes(source, result)
            if source.template:
                check_template_sql(result)
        except Unsupported as exc:
            # the marker goes where the Flux is written (the call's own statement for an inline query):
            # that is the text a person rewrites; the call itself stays v2 until then
            where = source.node if source.builder is None else call
            self.plan.marks.append(
                (
                    where,
                    "IX-12",
                    f"translate Flux to SQL ({exc}; {FLUX_DOC}): " + " ".join(source.original.split()),
                )
            )
            if where is not call and source.node is not flux_arg:  # built in an earlier statement
                self.plan.marks.append(
                    (call, "IX-11", f"{method}() sends the Flux marked above: rewrite with it")
                )
            return
        holes = source.local_holes if source.builder is not None else source.holes
        if source.builder is None:
            self.plan.replace[id(source.node)] = sql_expression(result.sql, source.holes, source.node)
        elif source.template_ref is not None:  # `T % {...}` -> `T` (SQL now), values bound below
            self.plan.replace[id(source.node)] = source.template_ref
        if mode is None:  # marked above: the SQL's parameters are named for the person rewriting the call
            params = ", ".join(f"${name} = {holes[i]}" for name, i in result.params.items())
            if params or result.database is not None:
                database = self.code(_name_expr(result.database, holes)) if result.database else "?"
                self.plan.notes.append((call, "IX-12", f"SQL for database {database}; parameters: {params}"))
            return
        self.plan.replace[id(call)] = self.new_call(query, flux_arg, source, result, mode, holes)
        self.plan.rewrites.append((call, "IX-11", f'{method}() -> query(language="sql")'))
        self.plan.rewrites.append(
            (
                call,
                "IX-12",
                "Flux translated to SQL" + (f" in {source.builder.name}()" if source.builder else ""),
            )
        )
        for note in result.notes:
            note = re.sub(r"\x00(\d+)\x00", lambda m: "{" + str(holes[int(m.group(1))]) + "}", note)
            self.plan.notes.append((call, "IX-12", note))
        if query.rows:
            columns = row_columns(result, holes, name_code)
            plan_row_reads(body, query.result or query.node, columns, self.plan, query.func.attr.value)
            return
        _ResultPlanner(self, body, query, result, holes, mode).run()

    def plan_spliced(
        self, body: cst.CSTNode, query: QueryCall, flux_arg: cst.BaseExpression, calls: _Collector, mode
    ) -> bool:
        """A query assembled with one optional filter line (see .splices): both variants translated and
        chosen under the fragment's own condition. False when not of that shape (the usual path marks)."""
        if not isinstance(flux_arg, cst.Name) or mode is None or calls.augmented.get(flux_arg.value):
            return False
        assigns = calls.assignments.get(flux_arg.value, [])
        if len(assigns) != 1:
            return False
        # the condition is read again at the call: only a parameter the function never rebinds
        steady = calls.params - set(calls.assignments) - set(calls.augmented)
        splice = find_splice(assigns[0], self.module, steady)
        if splice is None or rebinds(body, splice.test.value):
            return False
        variants = []
        for node in (splice.on, splice.off):
            holes: list[str] = []
            text = flux_text(node, self.module, holes)
            if text is None:
                return False
            try:
                variants.append((translate(text, hole_names(holes), self.schema), holes, node))
            except Unsupported:
                return False  # the usual path marks the text as it is written
        (on, on_holes, on_node), (off, off_holes, off_node) = variants
        if not same_rows(on, off):
            return False
        calls_made = [
            self.new_call(query, flux_arg, FluxSource("", h, n, ""), r, mode, h)
            for r, h, n in ((on, on_holes, on_node), (off, off_holes, off_node))
        ]
        chosen = _choose_call(calls_made[0], calls_made[1], splice.test)
        if chosen is None:
            return False
        sql = cst.IfExp(
            test=splice.test,
            body=sql_expression(on.sql, on_holes),
            orelse=sql_expression(off.sql, off_holes),
            lpar=[cst.LeftParen()],
            rpar=[cst.RightParen()],
        )
        self.plan.replace[id(splice.assigned)] = sql
        self.plan.replace[id(query.node)] = chosen
        self.plan.rewrites.append(
            (
                query.node,
                "IX-12",
                f"Flux with a filter line spliced when {splice.test.value}: both SQL variants",
            )
        )
        for note in dict.fromkeys(on.notes + off.notes):
            note = re.sub(r"\x00(\d+)\x00", lambda m: "{" + str(off_holes[int(m.group(1))]) + "}", note)
            self.plan.notes.append((query.node, "IX-12", note))
        if query.rows:
            columns = row_columns(off, off_holes, name_code)
            plan_row_reads(body, query.result or query.node, columns, self.plan, query.func.attr.value)
        else:
            _ResultPlanner(self, body, query, off, off_holes, mode).run()
        return True

    def check_builder_holes(self, source: FluxSource, result: Translation) -> None:
        """Every hole the call site needs (parameters, database, field/measurement names) has code here."""
        needed = list(result.params.values())
        needed += [
            n.hole for n in [result.database, result.measurement, *result.fields] if n and n.hole is not None
        ]
        missing = [source.holes[i] for i in needed if source.local_holes[i] is None]
        if missing:
            raise Unsupported(
                f"{source.builder.name}() builds the Flux from {', '.join(missing)}, not known at this call"
            )

    def resolve(self, body: cst.CSTNode, arg: cst.BaseExpression, calls: _Collector) -> FluxSource | None:
        holes: list[str] = []
        template = self.from_template(arg)
        if template is not None:
            return template
        text = flux_text(arg, self.module, holes)
        if text is not None:
            return FluxSource(text, holes, arg, self.code(arg))
        if isinstance(arg, cst.Call):
            return self.from_builder(arg)
        if isinstance(arg, cst.Name) and arg.value not in calls.assignments and arg.value not in calls.params:
            outer = self.from_enclosing(arg.value, calls)
            if outer is not None:
                return outer
        if isinstance(arg, cst.Attribute) or (
            isinstance(arg, cst.Name) and arg.value not in calls.assignments
        ):
            return self.from_builder(arg)  # a module constant, here or in another module
        if not isinstance(arg, cst.Name):
            return None
        assigns = calls.assignments.get(arg.value, [])
        if len(assigns) != 1 or calls.augmented.get(arg.value):
            return None  # assembled conditionally or in a loop: not followed
        value = assigns[0]
        template = self.from_template(value)
        if template is not None:
            return template
        text = flux_text(value, self.module, holes)  # `"...".format(...)` is a call too: read it first
        if text is not None:
            return FluxSource(text, holes, value, self.code(value))
        return self.from_builder(value) if isinstance(value, cst.Call) else None

    def from_enclosing(self, name: str, calls: _Collector) -> FluxSource | None:
        """`name` assigned once in an enclosing function (a closure's free variable): its Flux, when the
        names its holes read are not rebound in the closure."""
        for outer in reversed(self.enclosing):
            if name in outer.params:
                return None
            assigns = outer.assignments.get(name)
            if assigns is None:
                continue
            if len(assigns) != 1 or outer.augmented.get(name):
                return None
            source = self.from_template(assigns[0])
            if source is None:
                holes: list[str] = []
                text = flux_text(assigns[0], self.module, holes)
                if text is None:
                    return None
                source = FluxSource(text, holes, assigns[0], self.code(assigns[0]))
            local = set(calls.assignments) | calls.params
            codes = source.local_holes if source.local_holes is not None else source.holes
            if any(_read_names(c) & local for c in codes if c is not None):
                return None  # the closure rebinds a name the Flux reads
            return source
        return None

    def from_template(self, fill: cst.BaseExpression) -> FluxSource | None:
        """`T.format(...)` / `T % ...` of a template constant of the service (see .templates)."""
        if (
            isinstance(fill, cst.Call)
            and isinstance(fill.func, cst.Attribute)
            and fill.func.attr.value == "format"
        ):
            base = fill.func.value
        elif isinstance(fill, cst.BinaryOperation) and isinstance(fill.operator, cst.Modulo):
            base = fill.left
        else:
            return None
        builder = self.constant_of(base)
        if builder is None or (builder.rel, builder.name) not in self.flow.templates:
            return None
        text = template_text(builder)
        own = unfilled(text) if text is not None else None
        filled = self.fill(fill, text) if own is not None else None
        if filled is None or filled.text != own.text or filled.keys != own.keys:
            return None
        return FluxSource(
            own.text,
            own.keys,
            fill,
            builder.returned,
            builder,
            filled.values,
            template_ref=base,
            template=True,
        )

    def constant_of(self, node: cst.BaseExpression) -> Builder | None:
        if isinstance(node, cst.Name):
            return self.flow.builder(node.value, self.scope.imported_names.get(node.value), self.scope.rel)
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            module = self.scope.modules.get(node.value.value)
            return self.flow.builder(node.attr.value, module, self.scope.rel) if module else None
        return None

    def fill(self, fill: cst.BaseExpression, text: str) -> Filled | None:
        return _fill(fill, text, self.code)

    def from_builder(self, call: cst.Call | cst.Name | cst.Attribute) -> FluxSource | None:
        """The Flux of `build(x)` / `module.build(x)`, a builder function of the service, or of a module
        constant `QUERY` / `module.QUERY` (see .flow)."""
        constant = not isinstance(call, cst.Call)
        func = call if constant else call.func
        qualifier = None
        if isinstance(func, cst.Name):
            name, module = func.value, self.scope.imported_names.get(func.value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            name, module = func.attr.value, self.scope.modules.get(func.value.value)
            qualifier = func.value.value
            if module is None:
                return None
        else:
            return None
        builder = self.flow.builder(name, module, self.scope.rel)
        if (
            builder is None
            or (builder.rel, builder.name) not in self.flow.used
            or builder.constant != constant
        ):
            return None
        holes: list[str] = []
        returned = cst.parse_expression(f"({builder.returned})")
        text = flux_text(returned, cst.Module(body=[]), holes)
        same_module = builder.rel == self.scope.rel
        args = call if not constant else cst.Call(func)  # a constant takes no arguments
        if text is None and (builder.rel, builder.name) in self.flow.template_fills:
            return self.from_template_builder(returned, builder, args, qualifier, same_module)
        if text is None or not FLUX_HINT.search(text):
            return None
        local = [substitute(h, builder, args, qualifier, same_module) for h in holes]
        return FluxSource(text, holes, call, builder.returned, builder, local)

    def from_template_builder(
        self, returned: cst.BaseExpression, builder: Builder, call: cst.Call, qualifier, same_module: bool
    ) -> FluxSource | None:
        """`build(x)` whose body is `return T.format(bucket=b, ...)`, T a template of its module: the
        template's holes, valued at this call by substituting the call's arguments for the builder's."""
        base = returned.func.value if isinstance(returned, cst.Call) else getattr(returned, "left", None)
        template = self.flow.builder(base.value, None, builder.rel) if isinstance(base, cst.Name) else None
        if template is None or (template.rel, template.name) not in self.flow.templates:
            return None
        text = template_text(template)
        own = unfilled(text) if text is not None else None
        filled = _fill(returned, text, cst.Module(body=[]).code_for_node) if own is not None else None
        if filled is None or filled.text != own.text or filled.keys != own.keys:
            return None
        local = [
            substitute(v, builder, call, qualifier, same_module) if v is not None else None
            for v in filled.values
        ]
        return FluxSource(own.text, own.keys, call, builder.returned, builder, local, template=True)

    def new_call(
        self,
        query: QueryCall,
        flux_arg: cst.BaseExpression,
        source: FluxSource,
        result: Translation,
        mode: str,
        holes: list[str],
    ) -> cst.Call:
        call = query.node
        own = call.args[query.lead :]
        replaced = (source.builder is None or source.template_ref is not None) and source.node is flux_arg
        query_arg = self.plan.replace[id(source.node)] if replaced else flux_arg
        # names only the server knows: filled just before sending (a wrapper fills what it is sent)
        if result.runtime and not query.wrapper and not query.lead:
            database = _name_expr(result.database, holes) if result.database else None
            query_arg = expand_call(_receiver(query.func), query_arg, database)
            self.plan.needs_expand = True
        args = [cst.Arg(query_arg)]
        if not query.wrapper:
            args.append(_kw("language", cst.SimpleString('"sql"')))
        if mode != "all":
            args.append(_kw("mode", cst.SimpleString(f'"{mode}"')))
        if result.database is not None:
            args.append(_kw("database", _name_expr(result.database, holes)))
        params = self.parameters(own, result, holes)
        if params is not None:
            args.append(_kw("query_parameters", params))
        if query.wrapper:  # the service's own function: same name, it adds language="sql" itself
            return call.with_changes(args=_commas(list(call.args[: query.lead]) + args))
        func = cst.Attribute(_receiver(query.func), cst.Name("query"))
        index = next((a.value for a in own if a.keyword and a.keyword.value == "data_frame_index"), None)
        if query.lead:  # to_thread(api.query, q, ...) / partial(api.query, q, ...)
            handed: cst.BaseExpression = func
            if result.runtime:  # filled in the executor's thread, not in the caller's (an event loop)
                handed, args = cst.Name(RUNTIME_QUERY), [cst.Arg(_receiver(query.func)), *args]
                self.plan.needs_expand = self.plan.needs_runtime_query = True
            if mode == "pandas":  # the frame as v2 gave it, made in the executor's thread too
                forwarded = [cst.Arg(cst.Name("args"), star="*"), cst.Arg(cst.Name("kwargs"), star="**")]
                lam = cst.ensure_type(cst.parse_expression("lambda *args, **kwargs: None"), cst.Lambda)
                handed = lam.with_changes(body=self.v2_frame(cst.Call(handed, _commas(forwarded)), index))
            lead = [
                a if a.value is not query.func else a.with_changes(value=handed)
                for a in call.args[: query.lead]
            ]
            return call.with_changes(args=_commas(lead + args))
        new = cst.Call(func=func, args=_commas(args))
        return self.v2_frame(new, index) if mode == "pandas" else new

    def v2_frame(self, query: cst.Call, index: cst.BaseExpression | None) -> cst.Call:
        """The SQL frame `query` returns as v2's query_data_frame() gave it: its times UTC-aware (the SQL
        frame's are naive: comparisons with aware datetimes and tz_convert() raise), then indexed by
        data_frame_index (named in SQL columns)."""
        self.plan.needs_frame = True
        frame = cst.Call(cst.Name("_influxdb3_frame"), [cst.Arg(query)])
        if index is None:
            return frame
        return cst.Call(func=cst.Attribute(frame, cst.Name("set_index")), args=[cst.Arg(_sql_index(index))])

    def parameters(self, own, result: Translation, holes: list[str]) -> cst.BaseExpression | None:
        flux_params = next((a.value for a in own if a.keyword and a.keyword.value == "params"), None)
        entries = [f'"{name}": {holes[i]}' for name, i in result.params.items()]
        if flux_params is None:
            return cst.parse_expression("{" + ", ".join(entries) + "}") if entries else None
        if not entries:
            return flux_params
        if isinstance(flux_params, cst.Dict):
            inner = self.code(flux_params).strip()[1:-1].strip().rstrip(",")
            return cst.parse_expression("{" + ", ".join([inner, *entries]) + "}")
        return cst.parse_expression("{**" + self.code(flux_params) + ", " + ", ".join(entries) + "}")


def _choose_call(on: cst.Call, off: cst.Call, test: cst.Name) -> cst.Call | None:
    """`off` with `query_parameters=(ON if test else OFF)`; None when the calls differ in more than that."""
    if _is_frame_call(on) and _is_frame_call(off):  # `_influxdb3_frame(client.query(...))`: choose inside
        inner = _choose_call(on.args[0].value, off.args[0].value, test)
        return None if inner is None else off.with_changes(args=[off.args[0].with_changes(value=inner)])

    def parameters(call: cst.Call) -> cst.BaseExpression | None:
        return next((a.value for a in call.args if a.keyword and a.keyword.value == "query_parameters"), None)

    def without(call: cst.Call) -> str:
        kept = [a for a in call.args if not (a.keyword and a.keyword.value == "query_parameters")]
        return cst.Module([]).code_for_node(call.with_changes(args=_commas(kept)))

    if without(on) != without(off):
        return None
    on_params, off_params = parameters(on), parameters(off)
    if on_params is None:
        return off if off_params is None else None
    empty = cst.Dict([])
    choice = cst.IfExp(
        test=test,
        body=on_params,
        orelse=off_params if off_params is not None else empty,
        lpar=[cst.LeftParen()],
        rpar=[cst.RightParen()],
    )
    args = [a for a in off.args if not (a.keyword and a.keyword.value == "query_parameters")]
    return off.with_changes(args=_commas([*args, _kw("query_parameters", choice)]))


def _is_frame_call(node: cst.BaseExpression) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == "_influxdb3_frame"
        and len(node.args) == 1
        and isinstance(node.args[0].value, cst.Call)
    )


def _fill(fill: cst.BaseExpression, text: str, code: Callable[[cst.CSTNode], str]) -> Filled | None:
    """The values a `.format(...)` call or a `%` operation gives the template's placeholders."""
    if isinstance(fill, cst.Call):
        if any(a.star for a in fill.args):
            return None
        positional = [code(a.value) for a in fill.args if a.keyword is None]
        keyed = {a.keyword.value: code(a.value) for a in fill.args if a.keyword is not None}
        return fill_format(text, positional, keyed)
    right = fill.right
    if isinstance(right, cst.Dict):
        keyed = {}
        for element in right.elements:
            if not (isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString)):
                return None
            keyed[element.key.evaluated_value] = code(element.value)
        return fill_percent(text, None, keyed)
    if isinstance(right, cst.Tuple):
        if any(not isinstance(e, cst.Element) for e in right.elements):
            return None
        return fill_percent(text, [code(e.value) for e in right.elements], None)
    return fill_percent(text, [code(right)], None)


def _param_names(function: cst.FunctionDef | None) -> set[str]:
    if function is None:
        return set()
    p = function.params
    names = {a.name.value for a in [*p.params, *p.kwonly_params, *p.posonly_params]}
    names |= {s.name.value for s in (p.star_arg, p.star_kwarg) if isinstance(s, cst.Param)}
    return names


def _read_names(code: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(code.strip(), mode="eval")) if isinstance(n, ast.Name)}
    except SyntaxError:
        return {code}  # unknown: treated as read (never matched as safe by accident)


def _nested_functions(body: cst.CSTNode) -> list[cst.FunctionDef]:
    """The defs in `body` not inside another def or a class (deeper ones are planned from those), in
    source order. A def is a statement: only blocks are walked (statement_parts), never an expression,
    which gives what a visitor over every node found for a fraction of it."""
    found: list[cst.FunctionDef] = []
    for child in statement_parts(body):
        if isinstance(child, cst.FunctionDef):
            found.append(child)
        elif not isinstance(child, (cst.ClassDef, cst.SimpleStatementLine, cst.BaseSmallStatement)):
            found.extend(_nested_functions(child))
    return found


def check_template_sql(result: Translation) -> None:
    """A template's SQL is a module constant: a table or column named by a placeholder has no value there."""
    if "\x00" in result.sql:
        raise Unsupported("the template names a measurement or a field by a placeholder: not a constant SQL")


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


_V3_KEYWORDS = ("language", "mode", "query_parameters", "database")


@dataclass
class ModuleScope:
    """What the module being rewritten imports, to find the builders its calls name."""

    rel: str = ""
    modules: dict[str, str] = field(default_factory=dict)  # local alias -> dotted module
    imported_names: dict[str, str] = field(default_factory=dict)  # local name -> dotted module it is from

    def rel_is(self, rel: str) -> bool:
        return not self.rel or rel == self.rel


def hole_names(holes: list[str]) -> dict[int, str]:
    taken: set[str] = set()
    return {i: hole_name(h, taken) for i, h in enumerate(holes)}


def _receiver(func: cst.Attribute) -> cst.BaseExpression:
    """`client.query_api().query` -> client; `self.query_api.query` -> self.query_api (the client now)."""
    receiver = func.value
    if (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Attribute)
        and receiver.func.attr.value == "query_api"
    ):  # also `self._get_client().query_api()`, which has no dotted name
        receiver = receiver.func.value
    return receiver


_BUILTINS = frozenset({"str", "int", "float", "len", "round", "abs", "min", "max", "repr", "bool"})


def substitute(
    hole: str, builder: Builder, call: cst.Call, qualifier: str | None, same_module: bool
) -> str | None:
    """The builder's hole `hole` as code at `call`: its parameters replaced by the call's arguments,
    its module's names qualified by the module alias; None when that cannot be done."""
    try:
        tree = ast.parse(hole.strip(), mode="eval")
    except SyntaxError:
        return None
    bound: dict[str, str] = dict(builder.defaults)
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in call.args) or len(positional) > len(builder.params):
        return None
    code = cst.Module(body=[]).code_for_node
    for param, arg in zip(builder.params, positional, strict=False):
        bound[param] = code(arg.value)
    for arg in call.args:
        if arg.keyword is not None:
            bound[arg.keyword.value] = code(arg.value)
    failed: list[str] = []

    class _Swap(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in builder.params:
                if node.id not in bound:
                    failed.append(node.id)
                    return node
                return ast.parse(f"({bound[node.id]})", mode="eval").body
            if node.id in builder.globals and not same_module:
                if qualifier is None:
                    failed.append(node.id)
                    return node
                return ast.Attribute(ast.Name(qualifier, ast.Load()), node.id, ast.Load())
            if node.id not in builder.globals and node.id not in _BUILTINS:
                failed.append(node.id)  # a local of the builder
            return node

    new = _Swap().visit(tree)
    return None if failed else ast.unparse(new)


def _commas(args: list[cst.Arg]) -> list[cst.Arg]:
    return [
        a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        if i < len(args) - 1
        else a.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        for i, a in enumerate(args)
    ]


def _name_expr(name: Name, holes: list[str]) -> cst.BaseExpression:
    if name.hole is not None:
        return cst.parse_expression(holes[name.hole])
    return cst.SimpleString('"' + name.text.replace("\\", "\\\\").replace('"', '\\"') + '"')


def _on_client_api(node: cst.BaseExpression) -> bool:
    """`x.query_api().query`: the receiver is a client API (an async one when is_query_api said no), never
    the service's own wrapper of the same name."""
    while isinstance(node, (cst.Call, cst.Attribute)):
        if isinstance(node, cst.Attribute) and node.attr.value in ("query_api", "write_api", "delete_api"):
            return True
        node = node.func if isinstance(node, cst.Call) else node.value
    return False


class _Collector(LightVisitor):
    """Query calls, and string assignments by name, in one function body (nested defs excluded)."""

    def __init__(
        self,
        is_query_api: Callable[[cst.BaseExpression], bool],
        wrappers: set[str] | None = None,
        consumers: set[str] | None = None,
        row_wrappers: set[str] | None = None,
    ):
        self.is_query_api = is_query_api
        self.wrappers = wrappers or set()
        self.consumers = consumers or set()
        self.row_wrappers = row_wrappers or set()
        self.consumer_calls: list[tuple[cst.Call, str]] = []  # calls of functions that iterate v2 records
        self.query_calls: list[QueryCall] = []
        self.assignments: dict[str, list[cst.BaseExpression]] = {}
        self.augmented: dict[str, bool] = {}
        self.params: set[str] = set()  # the function's own parameters
        self._outer: dict[int, cst.Call] = {}  # id(inner call) -> run_in_executor(...) giving its result

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested functions are planned on their own

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def is_query_func(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Attribute)
            and node.attr.value in QUERY_METHODS
            and self.is_query_api(node.value)
        )

    def is_wrapper_func(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Attribute)
            and node.attr.value in self.wrappers
            and not _on_client_api(node.value)
        )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if any(a.keyword and a.keyword.value in ("language", "mode", "query_parameters") for a in node.args):
            return  # already v3
        result = self._outer.get(id(node), node)
        name = (
            func.attr.value
            if isinstance(func, cst.Attribute)
            else func.value
            if isinstance(func, cst.Name)
            else ""
        )
        if self.is_query_func(func):
            self.query_calls.append(QueryCall(node, func.attr.value, func, 0, result))
        elif name in self.consumers and node.args and not self.is_query_func(func):
            self.consumer_calls.append((node, name))
        elif self.is_wrapper_func(func):
            self.query_calls.append(QueryCall(node, "query", func, 0, result, wrapper=True))
        elif isinstance(func, cst.Attribute) and name in self.row_wrappers and node.args:
            self.query_calls.append(QueryCall(node, "query", func, 0, result, wrapper=True, rows=True))
        elif name in ("to_thread", "partial") and node.args and self.is_query_func(node.args[0].value):
            target = node.args[0].value
            self.query_calls.append(QueryCall(node, target.attr.value, target, 1, result))
        elif name in ("to_thread", "partial") and node.args and self.is_wrapper_func(node.args[0].value):
            target = node.args[0].value
            self.query_calls.append(QueryCall(node, "query", target, 1, result, wrapper=True))
        elif name == "run_in_executor" and len(node.args) >= 2:
            target = node.args[1].value
            if self.is_query_func(target):
                self.query_calls.append(QueryCall(node, target.attr.value, target, 2, node))
            elif isinstance(target, cst.Call):  # functools.partial(api.query, q)
                self._outer[id(target)] = node
            elif isinstance(target, cst.Lambda) and isinstance(target.body, cst.Call):
                self._outer[id(target.body)] = node

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.assignments.setdefault(target.target.value, []).append(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:  # `query: str = f"..."`
        if isinstance(node.target, cst.Name) and node.value is not None:
            self.assignments.setdefault(node.target.value, []).append(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.augmented[node.target.value] = True


# --- result handling (IX-13) ------------------------------------------------------------------------


class _ResultPlanner:
    """Record loops and accessors over the result of one translated query."""

    def __init__(
        self,
        planner: QueryPlanner,
        body: cst.CSTNode,
        query: QueryCall,
        result: Translation,
        holes: list[str],
        mode: str,
    ):
        self.p, self.body, self.call, self.result, self.holes, self.mode = (
            planner,
            body,
            query.node,
            result,
            holes,
            mode,
        )
        self.value_node = query.result or query.node
        self.plan = planner.plan

    def field_expr(self) -> str | None:
        if self.result.value_column:  # long rows (several or run-time fields): `_value` is a column
            return repr(self.result.value_column)
        if len(self.result.fields) != 1 or self.result.pivoted:
            return None
        return self.p.code(_name_expr(self.result.fields[0], self.holes))

    def run(self) -> None:
        uses = _Uses(self.value_node)
        walk(self.body, uses)
        if uses.result_var is None and not uses.direct_loops and not uses.comp_loops:
            self.plan.marks.append(
                (
                    self.call,
                    "IX-13",
                    "the result is an Arrow table (pandas frame with "
                    'mode="pandas"), not Flux tables; rewrite its consumers (time, tags, one '
                    "column per field)",
                )
            )
            return
        if self.mode == "pandas":
            self.plan_frame(uses)
            return
        claimed: set[int] = set()
        for loop in uses.direct_loops + uses.var_loops:
            self.plan_loop(loop)
            claimed.add(id(loop.iter))
        for comp, outer in uses.comp_loops:
            self.plan_comprehension(comp, outer, uses.fed_loops.get(id(comp)))
            claimed.add(id(outer.iter))
        for node in uses.other_uses:
            self.plan_other(node)
            claimed.add(id(node.func.value) if isinstance(node, cst.Call) else id(node))
        claimed |= uses.emptiness
        for name in uses.names:  # any other use of the result: never left as if it were Flux tables
            if id(name) not in claimed:
                self.plan.marks.append(
                    (
                        name,
                        "IX-13",
                        f"{name.value} is now an Arrow table (rows: {name.value}.to_pylist(); columns time, "
                        "tags, one per field), not a list of Flux tables: rewrite this use",
                    )
                )

    def plan_comprehension(self, comp: cst.BaseComp, outer: cst.CompFor, fed: cst.For | None = None) -> None:
        """`[f(r) for t in tables for r in t.records]` -> `[f(r) for r in _influxdb3_rows(tables)]`. A
        generator of the records themselves feeding a `for` (`fed`): that loop's reads are the records'."""
        inner = outer.inner_for_in
        if not (
            isinstance(outer.target, cst.Name)
            and not outer.ifs
            and inner is not None
            and isinstance(inner.target, cst.Name)
            and isinstance(inner.iter, cst.Attribute)
            and inner.iter.attr.value == "records"
            and isinstance(inner.iter.value, cst.Name)
            and inner.iter.value.value == outer.target.value
            and outer.asynchronous is None
        ):
            self.plan.marks.append(
                (outer, "IX-13", "comprehension over Flux tables: iterate _influxdb3_rows(result)")
            )
            return
        self.plan.flatten_comp.add(id(outer))
        self.plan.needs_rows = True
        self.plan.rewrites.append(
            (comp, "IX-13", "for t in tables for r in t.records -> for r in _influxdb3_rows()")
        )
        accessors = _Accessors(inner.target.value)
        walk(comp, accessors)
        passed = getattr(comp, "elt", None)
        if fed is not None and isinstance(fed.target, cst.Name) and isinstance(passed, cst.Name):
            self.plan_accessors(accessors, {id(inner.target), id(passed)})
            accessors = _Accessors(fed.target.value)
            walk(fed.body, accessors)
            self.plan_accessors(accessors, set())
            return
        self.plan_accessors(accessors, {id(inner.target)})

    def plan_loop(self, loop: cst.For) -> None:
        inner = _single_inner_for(loop)
        if inner is None or not isinstance(loop.target, cst.Name):
            self.plan.marks.append((loop, "IX-13", "loop over Flux tables: iterate table.to_pylist() rows"))
            return
        records = inner.iter
        if not (
            isinstance(records, cst.Attribute)
            and records.attr.value == "records"
            and isinstance(records.value, cst.Name)
            and records.value.value == loop.target.value
        ):
            self.plan.marks.append((loop, "IX-13", "loop over Flux tables: iterate table.to_pylist() rows"))
            return
        if not isinstance(inner.target, cst.Name):
            self.plan.marks.append((loop, "IX-13", "record loop target is not a name"))
            return
        self.plan.flatten[id(loop)] = loop.iter
        self.plan.needs_rows = True
        self.plan.rewrites.append(
            (loop, "IX-13", "for table/for record -> for row in _influxdb3_rows(table)")
        )
        accessors = _Accessors(inner.target.value)
        walk(inner.body, accessors)
        self.plan_accessors(accessors, set())

    def plan_accessors(self, accessors: _Accessors, targets: set[int]) -> None:
        for node, kind, arg in accessors.found:
            self.plan_accessor(node, kind, arg, accessors.row)
        for name in accessors.unclaimed(targets):
            self.plan.marks.append(
                (
                    name,
                    "IX-13",
                    f"{name.value} was a FluxRecord and is now a dict of SQL columns (time, tags, one per "
                    "field; no get_*(), .values or _value/_field keys): rewrite the code it is passed to",
                )
            )

    def time_expr(self, row: str) -> cst.BaseExpression:
        self.plan.needs_timezone = True  # v2 gave aware UTC datetimes; Arrow gives naive UTC
        return cst.parse_expression(f'{row}["time"].replace(tzinfo=timezone.utc)')

    def plan_accessor(self, node: cst.CSTNode, kind: str, arg: str | None, row: str) -> None:
        field_name = self.field_expr()
        measurement = self.p.code(_name_expr(self.result.measurement, self.holes))
        # long format (several fields without pivot, schema functions): rows carry these columns themselves
        value_column = getattr(self.result, "value_column", None)
        field_column = getattr(self.result, "field_column", None)
        new: str | cst.BaseExpression | None = None
        if kind in ("get_time", "_time"):
            new = self.time_expr(row) if self.result.has_time else None
        elif kind in ("get_value", "_value") and value_column:
            new = f'{row}["{value_column}"]'
        elif kind == "get_field" and field_column:
            new = f'{row}["{field_column}"]'
        elif kind in ("get_value", "_value"):
            new = f"{row}[{field_name}]" if field_name else None
        elif kind == "get_field":
            new = field_name
        elif kind == "get_measurement":
            new = measurement
        elif kind == "values_item":
            new = f"{row}[{arg}]"
        elif kind == "values_get":
            new = f"{row}.get({arg})"
        elif kind == "values":
            if field_name:
                new = (
                    f'{{**{{k: v for k, v in {row}.items() if k not in ("time", {field_name})}}, '
                    f'"_time": {row}["time"].replace(tzinfo=timezone.utc), "_value": {row}[{field_name}], '
                    f'"_field": {field_name}, "_measurement": {measurement}}}'
                )
                self.plan.needs_timezone = True
        if new is None:
            self.plan.marks.append((node, "IX-13", _no_counterpart(kind, arg)))
            return
        self.plan.replace[id(node)] = cst.parse_expression(new) if isinstance(new, str) else new
        self.plan.rewrites.append((node, "IX-13", f"record.{kind} -> row column"))

    def plan_other(self, node: cst.CSTNode) -> None:
        """`tables.to_values(columns=[...])` on the result variable."""
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "to_values"
            and len(node.args) == 1
        ):
            columns = node.args[0].value
            names = [
                e.value.evaluated_value
                for e in getattr(columns, "elements", [])
                if isinstance(e.value, cst.SimpleString)
            ]
            if isinstance(columns, cst.List) and len(names) == len(columns.elements):
                items = []
                for name in names:
                    if name == "_time":
                        self.plan.needs_timezone = True
                        items.append('r["time"].replace(tzinfo=timezone.utc)')
                    elif name == "_value" and self.field_expr():
                        items.append(f"r[{self.field_expr()}]")
                    elif not name.startswith("_"):
                        items.append(f"r[{name!r}]")
                    else:
                        items = None
                        break
                if items is not None:
                    table = self.p.code(node.func.value)
                    self.plan.needs_rows = True
                    self.plan.replace[id(node)] = cst.parse_expression(
                        f"[[{', '.join(items)}] for r in _influxdb3_rows({table})]"
                    )
                    self.plan.rewrites.append((node, "IX-13", "to_values() -> rows"))
                    return
        self.plan.marks.append(
            (
                node,
                "IX-13",
                "use of a Flux result: the result is an Arrow table (time, tags, one column per field)",
            )
        )

    def plan_frame(self, uses: _Uses) -> None:
        field_name = self.field_expr()
        for node in uses.frame_strings:
            value = node.evaluated_value
            if value == "_time":
                self.plan.replace[id(node)] = cst.SimpleString('"time"')
            elif value == "_value" and field_name:
                self.plan.replace[id(node)] = cst.parse_expression(field_name)
            else:
                self.plan.marks.append(
                    (
                        node,
                        "IX-13",
                        "SQL frames have time, tags and one column per field: no _field, _measurement, "
                        "_start, _stop, result or table column (_value only for a one-field query)",
                    )
                )
                continue
            self.plan.rewrites.append((node, "IX-13", f"frame column {value}"))


def _single_inner_for(loop: cst.For) -> cst.For | None:
    body = loop.body.body if isinstance(loop.body, cst.IndentedBlock) else []
    if len(body) == 1 and isinstance(body[0], cst.For) and body[0].orelse is None and loop.orelse is None:
        return body[0]
    return None


class _Uses(LightVisitor):
    """How the result of `call` is used: assigned to a name, looped over, other uses of that name."""

    def __init__(self, call: cst.Call):
        self.call = call
        self.result_var: str | None = None
        self.direct_loops: list[cst.For] = []
        self.var_loops: list[cst.For] = []
        self.other_uses: list[cst.CSTNode] = []
        self.frame_strings: list[cst.SimpleString] = []
        self.comp_loops: list[tuple[cst.BaseComp, cst.CompFor]] = []
        self.names: list[cst.Name] = []  # every read of the result variable
        self._comps: list[cst.BaseComp] = []
        self._in_loop_iter = 0
        # id(generator) -> the `for` it feeds: `for record in (rec for t in tables for rec in t.records):`
        self.fed_loops: dict[int, cst.For] = {}
        self._frame_statement: list[bool] = []  # per enclosing simple statement: it uses the result
        self._quiet: set[int] = set()  # column names a drop(errors="ignore") may not find
        self._bound: set[int] = set()  # id of annotated assignments' target names
        # id of reads that only test for rows (`if not tables:`, `len(tables) == 0`): an Arrow table is
        # falsy and has len 0 exactly when v2's table list was empty (Flux sends no table without rows)
        self.emptiness: set[int] = set()

    def _enter(self, node: cst.BaseComp) -> None:
        self._comps.append(node)

    def _leave(self, node: cst.BaseComp) -> None:
        self._comps.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _enter
    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if self._comps and (
            self.is_result(node.iter)
            or (isinstance(node.iter, cst.Name) and node.iter.value == self.result_var)
        ):
            self.comp_loops.append((self._comps[-1], node))

    def visit_Name(self, node: cst.Name) -> None:
        if self.result_var and node.value == self.result_var and id(node) not in self._bound:
            self.names.append(node)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        return not (isinstance(node.target, cst.Name) and node.target.value == self.result_var)

    def _tested(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            node = node.expression
        if isinstance(node, cst.Name) and self.result_var and node.value == self.result_var:
            self.emptiness.add(id(node))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._tested(node.test)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        """`len(tables) == 0` (or != 0, > 0, >= 1, < 1): a count of rows compared with none."""
        left = node.left
        if not (
            isinstance(left, cst.Call)
            and isinstance(left.func, cst.Name)
            and left.func.value == "len"
            and len(left.args) == 1
            and len(node.comparisons) == 1
        ):
            return
        target = node.comparisons[0]
        bound = target.comparator.value if isinstance(target.comparator, cst.Integer) else None
        op = type(target.operator)
        empty_tests = {
            "0": (cst.Equal, cst.NotEqual, cst.GreaterThan, cst.LessThanEqual),
            "1": (cst.GreaterThanEqual, cst.LessThan),
        }
        if bound in empty_tests and op in empty_tests[bound]:
            self._tested(left.args[0].value)

    def is_result(self, node: cst.BaseExpression) -> bool:
        return node is self.call or (isinstance(node, cst.Await) and node.expression is self.call)

    def visit_Assign(self, node: cst.Assign) -> None:
        if (
            self.is_result(node.value)
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            self.result_var = node.targets[0].target.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:  # `tables: TableList = api.query(q)`
        if node.value is not None and self.is_result(node.value) and isinstance(node.target, cst.Name):
            self.result_var = node.target.value
        if isinstance(node.target, cst.Name) and node.target.value == self.result_var:
            self._bound.add(id(node.target))  # binding the name is no read of it (as an AssignTarget)

    def visit_For(self, node: cst.For) -> None:
        self._frame_header(node.iter)
        if isinstance(node.iter, cst.GeneratorExp):
            self.fed_loops[id(node.iter)] = node
        if self.is_result(node.iter):
            self.direct_loops.append(node)
        elif isinstance(node.iter, cst.Name) and node.iter.value == self.result_var:
            self.var_loops.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if _drops_quietly(node):  # `df.drop(columns=["result", "table"], errors="ignore")`: fine on SQL
            names = _FrameColumns([])
            walk(node, names)
            self._quiet.update(id(n) for n in names.found)
        if (
            self.result_var
            and isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == self.result_var
        ):
            if func.attr.value == "to_values":
                self.other_uses.append(node)
            elif func.attr.value == "rename":
                for arg in node.args:
                    if arg.keyword and arg.keyword.value == "columns" and isinstance(arg.value, cst.Dict):
                        self.frame_strings += [
                            e.key
                            for e in arg.value.elements
                            if isinstance(e, cst.DictElement)
                            and isinstance(e.key, cst.SimpleString)
                            and e.key.evaluated_value
                            in ("_time", "_value", "_field", "_measurement", "_start", "_stop")
                        ]

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.result_var and isinstance(node.value, cst.Name) and node.value.value == self.result_var:
            for element in node.slice:
                index = getattr(element.slice, "value", None)
                if isinstance(index, cst.SimpleString) and index.evaluated_value.startswith("_"):
                    self.frame_strings.append(index)

    # Any Flux column name written in a statement that uses the frame (`df.drop(columns=["result",
    # "table"])`, `df[["_time", "room"]]`, `df.set_index("_time")`) names a column of the v2 frame.
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._frame_statement.append(self._uses_result(node))

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._frame_statement.pop()

    # ... and so does one in a compound statement's header (`if "_value" in df.columns:`,
    # `for t in df.set_index("_time").index:`, `with ...`), which is no simple statement
    def visit_If(self, node: cst.If) -> None:
        self._frame_header(node.test)
        self._tested(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._frame_header(node.test)
        self._tested(node.test)

    def visit_With(self, node: cst.With) -> None:
        self._frame_header(*(item.item for item in node.items))

    def _frame_header(self, *parts: cst.BaseExpression) -> None:
        for part in parts:
            if self._uses_result(part):
                walk(part, _FrameColumns(self.frame_strings))

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if (
            self._frame_statement
            and self._frame_statement[-1]
            and node.evaluated_value in FLUX_FRAME_COLUMNS
            and id(node) not in self._quiet
            and all(n is not node for n in self.frame_strings)
        ):
            self.frame_strings.append(node)

    def _uses_result(self, node: cst.CSTNode) -> bool:
        if not self.result_var:
            return False
        return any(n.value == self.result_var for n in name_nodes(node))


# The columns of a v2 query_data_frame() frame that an SQL frame names otherwise or lacks.
FLUX_FRAME_COLUMNS = frozenset({"_time", "_value", "_field", "_measurement", *V2_ONLY_KEYS})


def _drops_quietly(call: cst.Call) -> bool:
    return (
        isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "drop"
        and any(
            a.keyword is not None
            and a.keyword.value == "errors"
            and isinstance(a.value, cst.SimpleString)
            and a.value.evaluated_value == "ignore"
            for a in call.args
        )
    )


class _FrameColumns(LightVisitor):
    def __init__(self, found: list[cst.SimpleString]) -> None:
        self.found = found

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if node.evaluated_value in FLUX_FRAME_COLUMNS and all(n is not node for n in self.found):
            self.found.append(node)


class _Accessors(RowNameUses):
    """FluxRecord accessors on the loop variable `row`, and the uses of `row` that are none: a record
    passed on (`f(row)`, `rows.append(row)`) reaches code written for a FluxRecord, which the dict row
    breaks (no get_time(), `.values` is a method, no `_value` key), so each is marked."""

    METHODS = {"get_time", "get_value", "get_field", "get_measurement", "get_start", "get_stop"}

    def __init__(self, row: str):
        super().__init__(row)
        self.found: list[tuple[cst.CSTNode, str, str | None]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and self._is_row(func.value) and func.attr.value in self.METHODS:
            self._claim(func.value)
            self.found.append((node, func.attr.value, None))
        elif (
            isinstance(func, cst.Attribute)
            and func.attr.value == "get"
            and self._is_values(func.value)
            and node.args
        ):
            self._claim(func.value)
            key = _literal(node.args[0].value)
            self.found.append((node, _KEY_KINDS.get(key, "values_get"), self._code(node.args[0].value)))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if len(node.slice) != 1 or not (self._is_values(node.value) or self._is_row(node.value)):
            return
        index = getattr(node.slice[0].slice, "value", None)
        key = _literal(index)
        self._claim(node.value)
        # a key chosen at run time (`{k: r.values[k] for k in FIELDS}`) reads tag or field columns, as in SQL
        if key in _KEY_KINDS:
            self.found.append((node, _KEY_KINDS[key], self._code(index)))
        elif self._is_values(node.value):
            self.found.append((node, "values_item", self._code(index)))
        # row["tag"] / row["field"] (pivoted): the SQL row has the same column

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._is_values(node) and id(node.value) not in self._claimed:
            self._claim(node)
            self.found.append((node, "values", None))

    @staticmethod
    def _code(node: cst.CSTNode | None) -> str:
        return cst.Module(body=[]).code_for_node(node) if node is not None else "None"


# Flux record keys read as `record["key"]`/`record.values["key"]`, as the accessor each stands for (those
# with no SQL column at all: v2_only, always marked)
_KEY_KINDS = {
    "_time": "_time",
    "_value": "_value",
    "_field": "get_field",
    "_measurement": "get_measurement",
    **{key: "v2_only" for key in V2_ONLY_KEYS},
}


def _no_counterpart(kind: str, key: str | None) -> str:
    if kind == "v2_only":
        return (
            "_start, _stop, result and table are Flux-only columns (window bounds, result and table index): "
            "SQL rows have none; compute them or drop them"
        )
    return (
        f"record.{kind} has no single-column counterpart here (several fields or no time column): "
        "read the row's columns"
    )


def _literal(node: cst.CSTNode | None) -> str | None:
    return node.evaluated_value if isinstance(node, cst.SimpleString) else None


def _sql_index(index: cst.BaseExpression) -> cst.BaseExpression:
    """data_frame_index names Flux columns; the SQL frame calls `_time` `time` (the other Flux-only
    columns, `_field`/`_value`/`_start`, have no SQL counterpart: IX-13 marks the line for them)."""
    if isinstance(index, cst.SimpleString) and index.evaluated_value == "_time":
        return index.with_changes(value=index.value.replace("_time", "time"))
    if isinstance(index, (cst.List, cst.Tuple)):
        return index.with_changes(
            elements=[e.with_changes(value=_sql_index(e.value)) for e in index.elements]
        )
    return index
