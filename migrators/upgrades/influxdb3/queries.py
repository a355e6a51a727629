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

from migrators.core.codemod import dotted
from migrators.upgrades.influxdb3.flux import Unsupported
from migrators.upgrades.influxdb3.flux_sql import Name, Translation, translate

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


@dataclass
class Plan:
    replace: dict[int, cst.CSTNode] = field(default_factory=dict)  # id(original) -> new node
    flatten: dict[int, cst.BaseExpression] = field(default_factory=dict)  # id(outer For) -> new iter
    marks: list[tuple[cst.CSTNode, str, str]] = field(default_factory=list)
    notes: list[tuple[cst.CSTNode, str, str]] = field(default_factory=list)
    rewrites: list[tuple[cst.CSTNode, str, str]] = field(default_factory=list)
    needs_timezone: bool = False
    needs_rows: bool = False  # the module gets the _influxdb3_rows helper (Arrow rows, safe times)


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
        left, right = flux_text(node.left, module, holes), flux_text(node.right, module, holes)
        return None if left is None or right is None else left + right
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


def sql_expression(sql: str, holes: list[str]) -> cst.BaseExpression:
    """The SQL as a Python string (an f-string when identifier holes remain), a clause per line."""
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
    ):
        self.module = module
        self.is_query_api = is_query_api
        self.schema = schema
        self.plan = plan

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def plan_function(self, body: cst.CSTNode) -> None:
        calls = _Collector(self.is_query_api)
        body.visit(calls)
        for call, method in calls.query_calls:
            self.plan_call(body, call, method, calls)

    def plan_call(self, body: cst.CSTNode, call: cst.Call, method: str, calls: _Collector) -> None:
        mode = QUERY_METHODS[method]
        if mode is None:
            self.plan.marks.append(
                (
                    call,
                    "IX-11",
                    f"{method}() has no influxdb3 counterpart with the same result; "
                    'use client.query(sql, mode="reader"|"all") and rewrite the consumer',
                )
            )
            return
        args = [a for a in call.args if a.keyword is None]
        flux_arg = (
            args[0].value
            if args
            else next((a.value for a in call.args if a.keyword and a.keyword.value == "query"), None)
        )
        source = self.resolve(body, flux_arg, calls) if flux_arg is not None else None
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
        taken: set[str] = set()
        names = {i: hole_name(h, taken) for i, h in enumerate(source.holes)}
        try:
            result = translate(source.text, names, self.schema)
        except Unsupported as exc:
            self.plan.marks.append(
                (
                    call,
                    "IX-12",
                    f"translate Flux to SQL ({exc}; {FLUX_DOC}): " + " ".join(source.original.split()),
                )
            )
            return
        self.plan.replace[id(source.node)] = sql_expression(result.sql, source.holes)
        self.plan.replace[id(call)] = self.new_call(call, flux_arg, source, result, mode)
        self.plan.rewrites.append((call, "IX-11", f'{method}() -> query(language="sql")'))
        self.plan.rewrites.append((call, "IX-12", "Flux translated to SQL"))
        for note in result.notes:
            note = re.sub(r"\x00(\d+)\x00", lambda m: "{" + source.holes[int(m.group(1))] + "}", note)
            self.plan.notes.append((call, "IX-12", note))
        _ResultPlanner(self, body, call, result, source.holes, mode).run()

    def resolve(self, body: cst.CSTNode, arg: cst.BaseExpression, calls: _Collector) -> FluxSource | None:
        holes: list[str] = []
        text = flux_text(arg, self.module, holes)
        if text is not None:
            return FluxSource(text, holes, arg, self.code(arg))
        if not isinstance(arg, cst.Name):
            return None
        assigns = calls.assignments.get(arg.value, [])
        if len(assigns) != 1 or calls.augmented.get(arg.value):
            return None  # assembled conditionally or in a loop: not followed
        value = assigns[0]
        text = flux_text(value, self.module, holes)
        return FluxSource(text, holes, value, self.code(value)) if text is not None else None

    def new_call(
        self, call: cst.Call, flux_arg: cst.BaseExpression, source: FluxSource, result: Translation, mode: str
    ) -> cst.Call:
        func = call.func
        receiver = func.value
        if (
            isinstance(receiver, cst.Call)
            and dotted(receiver.func)
            and dotted(receiver.func).endswith(".query_api")
        ):
            receiver = receiver.func.value
        query_arg = flux_arg if source.node is not flux_arg else self.plan.replace[id(source.node)]
        args = [cst.Arg(query_arg), _kw("language", cst.SimpleString('"sql"'))]
        if mode != "all":
            args.append(_kw("mode", cst.SimpleString(f'"{mode}"')))
        if result.database is not None:
            args.append(_kw("database", _name_expr(result.database, source.holes)))
        params = self.parameters(call, result, source.holes)
        if params is not None:
            args.append(_kw("query_parameters", params))
        index = next(
            (a.value for a in call.args if a.keyword and a.keyword.value == "data_frame_index"), None
        )
        new = cst.Call(func=cst.Attribute(receiver, cst.Name("query")), args=_commas(args))
        if index is not None:
            new = cst.Call(func=cst.Attribute(new, cst.Name("set_index")), args=[cst.Arg(index)])
        return new

    def parameters(self, call: cst.Call, result: Translation, holes: list[str]) -> cst.BaseExpression | None:
        flux_params = next((a.value for a in call.args if a.keyword and a.keyword.value == "params"), None)
        entries = [f'"{name}": {holes[i]}' for name, i in result.params.items()]
        if flux_params is None:
            return cst.parse_expression("{" + ", ".join(entries) + "}") if entries else None
        if not entries:
            return flux_params
        if isinstance(flux_params, cst.Dict):
            inner = self.code(flux_params).strip()[1:-1].strip().rstrip(",")
            return cst.parse_expression("{" + ", ".join([inner, *entries]) + "}")
        return cst.parse_expression("{**" + self.code(flux_params) + ", " + ", ".join(entries) + "}")


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


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


class _Collector(cst.CSTVisitor):
    """Query calls, and string assignments by name, in one function body (nested defs excluded)."""

    def __init__(self, is_query_api: Callable[[cst.BaseExpression], bool]):
        self.is_query_api = is_query_api
        self.query_calls: list[tuple[cst.Call, str]] = []
        self.assignments: dict[str, list[cst.BaseExpression]] = {}
        self.augmented: dict[str, bool] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested functions are planned on their own

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        already_v3 = any(
            a.keyword and a.keyword.value in ("language", "mode", "query_parameters") for a in node.args
        )
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in QUERY_METHODS
            and self.is_query_api(func.value)
            and not already_v3
        ):
            self.query_calls.append((node, func.attr.value))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.assignments.setdefault(target.target.value, []).append(node.value)

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
        call: cst.Call,
        result: Translation,
        holes: list[str],
        mode: str,
    ):
        self.p, self.body, self.call, self.result, self.holes, self.mode = (
            planner,
            body,
            call,
            result,
            holes,
            mode,
        )
        self.plan = planner.plan

    def field_expr(self) -> str | None:
        if len(self.result.fields) != 1 or self.result.pivoted:
            return None
        return self.p.code(_name_expr(self.result.fields[0], self.holes))

    def run(self) -> None:
        uses = _Uses(self.call)
        self.body.visit(uses)
        if uses.result_var is None and not uses.direct_loops:
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
        for loop in uses.direct_loops + uses.var_loops:
            self.plan_loop(loop)
        for node in uses.other_uses:
            self.plan_other(node)

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
        inner.body.visit(accessors)
        for node, kind, arg in accessors.found:
            self.plan_accessor(node, kind, arg, inner.target.value)

    def time_expr(self, row: str) -> cst.BaseExpression:
        self.plan.needs_timezone = True  # v2 gave aware UTC datetimes; Arrow gives naive UTC
        return cst.parse_expression(f'{row}["time"].replace(tzinfo=timezone.utc)')

    def plan_accessor(self, node: cst.CSTNode, kind: str, arg: str | None, row: str) -> None:
        field_name = self.field_expr()
        measurement = self.p.code(_name_expr(self.result.measurement, self.holes))
        new: str | cst.BaseExpression | None = None
        if kind in ("get_time", "_time"):
            new = self.time_expr(row) if self.result.has_time else None
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
            self.plan.marks.append(
                (
                    node,
                    "IX-13",
                    f"record.{kind} has no single-column counterpart here "
                    "(several fields or no time column): read the row's columns",
                )
            )
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
                        f"frame column {value}: SQL frames have time, tags and one column per field",
                    )
                )
                continue
            self.plan.rewrites.append((node, "IX-13", f"frame column {value}"))


def _single_inner_for(loop: cst.For) -> cst.For | None:
    body = loop.body.body if isinstance(loop.body, cst.IndentedBlock) else []
    if len(body) == 1 and isinstance(body[0], cst.For) and body[0].orelse is None and loop.orelse is None:
        return body[0]
    return None


class _Uses(cst.CSTVisitor):
    """How the result of `call` is used: assigned to a name, looped over, other uses of that name."""

    def __init__(self, call: cst.Call):
        self.call = call
        self.result_var: str | None = None
        self.direct_loops: list[cst.For] = []
        self.var_loops: list[cst.For] = []
        self.other_uses: list[cst.CSTNode] = []
        self.frame_strings: list[cst.SimpleString] = []
        self._in_loop_iter = 0

    def visit_Assign(self, node: cst.Assign) -> None:
        if (
            node.value is self.call
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            self.result_var = node.targets[0].target.value

    def visit_For(self, node: cst.For) -> None:
        if node.iter is self.call:
            self.direct_loops.append(node)
        elif isinstance(node.iter, cst.Name) and node.iter.value == self.result_var:
            self.var_loops.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
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


class _Accessors(cst.CSTVisitor):
    """FluxRecord accessors on the loop variable `row`."""

    METHODS = {"get_time", "get_value", "get_field", "get_measurement", "get_start", "get_stop"}

    def __init__(self, row: str):
        self.row = row
        self.found: list[tuple[cst.CSTNode, str, str | None]] = []
        self._claimed: set[int] = set()

    def _is_row(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Name) and node.value == self.row

    def _is_values(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Attribute) and node.attr.value == "values" and self._is_row(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and self._is_row(func.value) and func.attr.value in self.METHODS:
            self.found.append((node, func.attr.value, None))
        elif (
            isinstance(func, cst.Attribute)
            and func.attr.value == "get"
            and self._is_values(func.value)
            and node.args
        ):
            self._claimed.add(id(func.value))
            self.found.append((node, "values_get", self._code(node.args[0].value)))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if len(node.slice) != 1:
            return
        index = getattr(node.slice[0].slice, "value", None)
        if self._is_values(node.value):
            self._claimed.add(id(node.value))
            key = index.evaluated_value if isinstance(index, cst.SimpleString) else None
            self.found.append((node, key if key in ("_time", "_value") else "values_item", self._code(index)))
        elif (
            self._is_row(node.value)
            and isinstance(index, cst.SimpleString)
            and index.evaluated_value in ("_time", "_value")
        ):
            self.found.append((node, index.evaluated_value, None))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._is_values(node) and id(node) not in self._claimed:
            self.found.append((node, "values", None))

    @staticmethod
    def _code(node: cst.CSTNode | None) -> str:
        return cst.Module(body=[]).code_for_node(node) if node is not None else "None"
