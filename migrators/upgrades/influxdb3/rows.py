"""Row wrappers of the influxdb3 upgrade (IX-11, IX-13): a service function that runs its caller's query and
returns the records as dicts, and the callers that read those dicts.

The wrapper (found by :func:`.flow.row_wrapper_param`)::

    def _execute_query(self, query):
        tables = self._query_api.query(query, org=self.org)
        rows = []
        for table in tables:
            for record in table.records:
                rows.append(dict(record.values))
        return rows

becomes a function sending SQL (``query(query, language="sql", **sql_options)``) and returning the Arrow rows
as dicts (``for record in _influxdb3_rows(tables): rows.append(dict(record))``). Its callers translate their
Flux where they build it and pass ``database=``/``query_parameters=``; the keys they read change with the
query each caller sends (``_value`` becomes the field's column, ``_time`` the ``time`` column), so every read
of a row is rewritten from that caller's translation, or marked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from migrators.core.codemod import LightVisitor
from migrators.core.walk import walk
from migrators.upgrades.influxdb3.flux_sql import Name, Translation

_ACCESSORS = {
    "get_value": "_value",
    "get_time": "_time",
    "get_field": "_field",
    "get_measurement": "_measurement",
}
# v2 record keys with no column in an SQL row
V2_ONLY_KEYS = ("_start", "_stop", "result", "table")
KEEP = ""  # RowColumns.key(): the row's key reads the same column in SQL


def plan_wrapper_loop(function: cst.FunctionDef, plan) -> bool:
    """`for table in tables: for record in table.records: rows.append(dict(record.values))` ->
    `for record in _influxdb3_rows(tables): rows.append(dict(record))`. False when not of that shape."""
    if _plan_wrapper_comprehension(function, plan):
        return True
    for stmt in function.body.body:
        if not isinstance(stmt, cst.For) or not isinstance(stmt.body, cst.IndentedBlock):
            continue
        if _yields_records(stmt):
            plan.yield_rows.add(id(stmt))
            plan.needs_rows = True
            plan.rewrites.append(
                (
                    stmt,
                    "IX-13",
                    "for table in result: yield from table.records -> yield from _influxdb3_rows()",
                )
            )
            return True
        inner = stmt.body.body[0] if len(stmt.body.body) == 1 else None
        if not isinstance(inner, cst.For) or not isinstance(inner.target, cst.Name):
            continue
        finder = _ValuesOf(inner.target.value)
        walk(inner.body, finder)
        if len(finder.found) != 1:
            return False
        plan.flatten[id(stmt)] = stmt.iter
        plan.replace[id(finder.found[0])] = cst.Name(inner.target.value)
        plan.needs_rows = True
        plan.rewrites.append(
            (stmt, "IX-13", "wrapper rows: dict(record.values) -> dict(row) of _influxdb3_rows(table)")
        )
        return True
    return False


def _plan_wrapper_comprehension(function: cst.FunctionDef, plan) -> bool:
    """`return [record.values for table in tables for record in table.records]` ->
    `return [record for record in _influxdb3_rows(tables)]` (the shape flow._comprehension_param checked)."""
    last = function.body.body[-1] if function.body.body else None
    if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[0], cst.Return)):
        return False
    comp = last.body[0].value
    if not isinstance(comp, cst.ListComp) or comp.for_in.inner_for_in is None:
        return False
    record = comp.for_in.inner_for_in.target
    if not isinstance(record, cst.Name):
        return False
    finder = _ValuesOf(record.value)
    walk(comp.elt, finder)
    if len(finder.found) != 1:
        return False
    plan.flatten_comp.add(id(comp.for_in))
    plan.replace[id(finder.found[0])] = cst.Name(record.value)
    plan.needs_rows = True
    plan.rewrites.append(
        (comp, "IX-13", "wrapper rows: [record.values ...] -> [record for record in _influxdb3_rows()]")
    )
    return True


def _yields_records(loop: cst.For) -> bool:
    body = loop.body.body
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    expr = body[0].body[0]
    value = expr.value if isinstance(expr, cst.Expr) else None
    return (
        isinstance(value, cst.Yield)
        and isinstance(value.value, cst.From)
        and isinstance(value.value.item, cst.Attribute)
        and value.value.item.attr.value == "records"
        and isinstance(value.value.item.value, cst.Name)
        and isinstance(loop.target, cst.Name)
        and value.value.item.value.value == loop.target.value
    )


class _ValuesOf(LightVisitor):
    def __init__(self, record: str):
        self.record = record
        self.found: list[cst.Attribute] = []

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if (
            node.attr.value == "values"
            and isinstance(node.value, cst.Name)
            and node.value.value == self.record
        ):
            self.found.append(node)


@dataclass
class RowColumns:
    """What a v2 record key is in the SQL row of one translated query."""

    result: Translation
    measurement: str  # Python code of the measurement name
    field_name: str | None  # Python code of the single field's column, None when not one field

    def key(self, row: str, key: str, getter: bool) -> tuple[str | None, bool]:
        """(the expression reading `key` of `row`, whether it needs `timezone`), None when no column."""
        value_column = getattr(self.result, "value_column", None)
        field_column = getattr(self.result, "field_column", None)
        read = (lambda k: f"{row}.get({k})") if getter else (lambda k: f"{row}[{k}]")
        if key == "_time":
            if not self.result.has_time:
                return None, False
            return f'{row}["time"].replace(tzinfo=timezone.utc)', True  # v2 gave aware UTC datetimes
        if key == "_value":
            if value_column:
                return read(_quote(value_column)), False
            return (read(self.field_name), False) if self.field_name else (None, False)
        if key == "_field":
            if field_column:
                return read(_quote(field_column)), False
            return self.field_name, False
        if key == "_measurement":
            return self.measurement, False
        if key.startswith("_") or key in V2_ONLY_KEYS:
            return None, False
        return KEEP, False  # a tag, or a column the query named itself: the same key in the SQL row


def row_columns(result: Translation, holes: list[str], name_code) -> RowColumns:
    single = len(result.fields) == 1 and not result.pivoted
    return RowColumns(
        result,
        name_code(result.measurement, holes),
        name_code(result.fields[0], holes) if single else None,
    )


@dataclass
class RowUses(LightVisitor):
    """Reads of the row list a wrapper call returns, in the caller's function body."""

    call: cst.BaseExpression
    result_var: str | None = None
    loops: list[tuple[str, cst.CSTNode]] = field(default_factory=list)  # (row name, where it is read)
    indexed: list[tuple[cst.Subscript, str]] = field(default_factory=list)  # rows[0]["key"] -> key
    claimed: set[int] = field(default_factory=set)  # id of result-variable names read safely
    names: list[cst.Name] = field(default_factory=list)
    escapes: list[cst.CSTNode] = field(default_factory=list)  # the rows leave the function unread

    def __post_init__(self) -> None:
        super().__init__()

    def is_result(self, node: cst.BaseExpression | None) -> bool:
        if node is None:
            return False
        if isinstance(node, cst.Await):
            node = node.expression
        return node is self.call or (
            isinstance(node, cst.Name) and self.result_var is not None and node.value == self.result_var
        )

    def visit_Assign(self, node: cst.Assign) -> None:
        if (
            node.value is self.call
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            self.result_var = node.targets[0].target.value
            self.claimed.add(id(node.targets[0].target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:  # `tables: TableList = api.query(q)`
        if node.value is self.call and isinstance(node.target, cst.Name):
            self.result_var = node.target.value
            self.claimed.add(id(node.target))

    def visit_Return(self, node: cst.Return) -> None:
        if self.is_result(node.value):
            self.escapes.append(node)
            if isinstance(node.value, cst.Name):
                self.claimed.add(id(node.value))

    def visit_For(self, node: cst.For) -> None:
        if self.is_result(node.iter) and isinstance(node.target, cst.Name):
            self.loops.append((node.target.value, node.body))
            self._claim(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if self.is_result(node.iter) and isinstance(node.target, cst.Name) and self._comp is not None:
            self.loops.append((node.target.value, self._comp))
            self._claim(node.iter)

    _comp: cst.BaseComp | None = None

    def _enter(self, node: cst.BaseComp) -> None:
        self._stack = [*getattr(self, "_stack", []), self._comp]
        self._comp = node

    def _leave(self, node: cst.BaseComp) -> None:
        self._comp = self._stack.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _enter
    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave

    def visit_Subscript(self, node: cst.Subscript) -> None:
        # rows[0]["_value"]: one row read by position
        inner = node.value
        if (
            isinstance(inner, cst.Subscript)
            and self.is_result(inner.value)
            and len(node.slice) == 1
            and isinstance(getattr(node.slice[0].slice, "value", None), cst.SimpleString)
        ):
            self.indexed.append((node, node.slice[0].slice.value.evaluated_value))
            self._claim(inner.value)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._claim(node.test)  # `... if rows else 0.0`: only the truth of the list

    def visit_If(self, node: cst.If) -> None:
        self._claim(node.test)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._claim(node.expression)

    def visit_Name(self, node: cst.Name) -> None:
        if self.result_var is not None and node.value == self.result_var:
            self.names.append(node)

    def _claim(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name) and self.result_var is not None and node.value == self.result_var:
            self.claimed.add(id(node))

    def unclaimed(self) -> list[cst.Name]:
        return [n for n in self.names if id(n) not in self.claimed]


class RowNameUses(LightVisitor):
    """Every use of the row name `row`, and those a subclass claims (reads it understands): what is
    left unclaimed is the row handed on as a whole."""

    def __init__(self, row: str):
        self.row = row
        self._names: list[cst.Name] = []
        self._claimed: set[int] = set()

    def _is_row(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Name) and node.value == self.row

    def _is_values(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Attribute) and node.attr.value == "values" and self._is_row(node.value)

    def _claim(self, node: cst.CSTNode) -> None:
        """`node` is `row` or `row.values`, read by a use the subclass understands."""
        self._claimed.add(id(node.value) if isinstance(node, cst.Attribute) else id(node))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.row:
            self._names.append(node)

    def unclaimed(self, targets: frozenset[int] | set[int] = frozenset()) -> list[cst.Name]:
        """Uses of `row` no claimed read holds (the ids in `targets` aside)."""
        return [n for n in self._names if id(n) not in self._claimed and id(n) not in targets]


class RowReads(RowNameUses):
    """`row["key"]`, `row.get("key", ...)` and any other use of the row name `row` inside `scope`."""

    def __init__(self, row: str):
        super().__init__(row)
        # (node to replace, key, through get(), a read of the row itself: not `.values`/an accessor)
        self.reads: list[tuple[cst.CSTNode, str, bool, bool]] = []

    def visit_Subscript(self, node: cst.Subscript) -> None:
        index = getattr(node.slice[0].slice, "value", None) if len(node.slice) == 1 else None
        if (self._is_row(node.value) or self._is_values(node.value)) and isinstance(index, cst.SimpleString):
            self.reads.append((node, index.evaluated_value, False, self._is_row(node.value)))
            self._claim(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        first = node.args[0].value if node.args else None
        if not isinstance(func, cst.Attribute):
            return
        if func.attr.value in _ACCESSORS and self._is_row(func.value) and not node.args:
            # a FluxRecord's accessor (generator wrappers yield records): the same key of the row
            self.reads.append((node, _ACCESSORS[func.attr.value], False, False))
            self._claim(func.value)
        elif (
            func.attr.value == "get"
            and (self._is_row(func.value) or self._is_values(func.value))
            and len(node.args) == 1
            and isinstance(first, cst.SimpleString)
        ):
            self.reads.append((node, first.evaluated_value, True, self._is_row(func.value)))
            self._claim(func.value)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if self._is_row(node.target):
            self._claimed.add(id(node.target))

    def visit_For(self, node: cst.For) -> None:
        if self._is_row(node.target):
            self._claimed.add(id(node.target))


def plan_row_reads(body: cst.CSTNode, call: cst.BaseExpression, columns: RowColumns, plan, name: str) -> None:
    """Rewrite every read of the rows `call` returns (a row wrapper's), or mark it."""
    uses = RowUses(call)
    walk(body, uses)
    if uses.result_var is None and not uses.loops and not uses.indexed and not uses.escapes:
        plan.marks.append((call, "IX-13", _escape_text(name)))
        return
    for node in uses.escapes:
        plan.marks.append((node, "IX-13", _escape_text(name)))
    for row, scope in uses.loops:
        reads = RowReads(row)
        walk(scope, reads)
        for node, key, getter, direct in reads.reads:
            code, needs_timezone = columns.key(row, key, getter)
            if code == KEEP and not direct:  # `record.values.get("room")` -> `row.get("room")`
                code = f"{row}.get({_quote(key)})" if getter else f"{row}[{_quote(key)}]"
            _replace_key(node, key, (code, needs_timezone), plan)
        for other in reads.unclaimed():
            plan.marks.append(
                (
                    other,
                    "IX-13",
                    f"{row} is a row of SQL columns (time, tags, one per field): rewrite this use",
                )
            )
    for node, key in uses.indexed:
        row = cst.Module(body=[]).code_for_node(node.value)
        _replace_key(node, key, columns.key(row, key, False), plan)
    for other in uses.unclaimed():
        plan.marks.append(
            (other, "IX-13", f"{other.value} holds {name}() rows of SQL columns now: rewrite this use")
        )


def _replace_key(node: cst.CSTNode, key: str, new: tuple[str | None, bool], plan) -> None:
    code, needs_timezone = new
    if code == KEEP:
        return
    if code is None:
        plan.marks.append(
            (
                node,
                "IX-13",
                f'row key "{key}" has no SQL column here (time, tags, one per field): read the row',
            )
        )
        return
    plan.needs_timezone |= needs_timezone
    plan.replace[id(node)] = cst.parse_expression(code)
    plan.rewrites.append((node, "IX-13", f'row["{key}"] -> SQL column'))


def _escape_text(name: str) -> str:
    return (
        f"{name}() now returns rows of SQL columns (time, tags, one per field; no _value/_field/_time): "
        "rewrite what reads these rows"
    )


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def name_code(name: Name, holes: list[str]) -> str:
    if name.hole is not None:
        return holes[name.hole]
    return '"' + name.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
