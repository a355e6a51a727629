"""Spliced filter lines (IX-12): a Flux query assembled by concatenation where one piece is added only when a
Python condition holds::

    flux = (
        'from(bucket: "' + BUCKET + '")\\n'
        + '  |> filter(fn: (r) => r._measurement == "energy")\\n'
        + (PLANT_FILTER.format(plant=plant) if plant else "")      # or `_plant_filter(plant)`, see below
        + "  |> sum()\\n"
    )
    api.query(flux)

Both texts are translated, and the SQL and its parameters are chosen under the same condition:
`flux = (SQL_WITH if plant else SQL_WITHOUT)` and
`query_parameters=({..., "plant": plant} if plant else {...})`, so a parameter is bound only when its
fragment is present. Only taken when both variants give rows of the same columns (the result's consumers
are rewritten once) and the call is otherwise the same.

The piece may also be a call of a function of the same module shaped as::

    def _plant_filter(plant):
        if not plant:
            return ""
        return f'  |> filter(fn: (r) => r.plant == "{plant}")\\n'

called with a name of the same spelling as its parameter (`_plant_filter(plant)`): it reads as the
conditional expression above.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from migrators.core.codemod import LightVisitor
from migrators.core.walk import preorder, walk


@dataclass
class Splice:
    """The concatenation with the optional piece present (`on`) and absent (`off`), and its condition."""

    assigned: cst.BaseExpression  # the expression assigned to the query's name (replaced by the SQL)
    test: cst.Name
    on: cst.BaseExpression
    off: cst.BaseExpression


def concatenated(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The operands of `a + b + c`."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return concatenated(node.left) + concatenated(node.right)
    return [node]


def _is_empty(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString) and node.evaluated_value == ""


def find_splice(assigned: cst.BaseExpression, module: cst.Module, params: set[str]) -> Splice | None:
    """The one optional piece of a concatenation, guarded by a parameter of the function (its value at
    the query call is the value it had where the text was built: parameters reassigned are refused by
    the caller)."""
    if not (isinstance(assigned, cst.BinaryOperation) and isinstance(assigned.operator, cst.Add)):
        return None
    found = [s for s in (_piece(p, module) for p in concatenated(assigned)) if s is not None]
    if len(found) != 1:
        return None
    piece, test, body = found[0]
    if test.value not in params:
        return None
    on = assigned.deep_replace(piece, body)
    off = assigned.deep_replace(piece, cst.SimpleString('""'))
    if not isinstance(on, cst.BaseExpression) or not isinstance(off, cst.BaseExpression):
        return None
    return Splice(assigned, test, on, off)


def _piece(
    part: cst.BaseExpression, module: cst.Module
) -> tuple[cst.BaseExpression, cst.Name, cst.BaseExpression] | None:
    """(the operand, its condition, the text when the condition holds) of an optional operand."""
    if isinstance(part, cst.IfExp) and _is_empty(part.orelse) and isinstance(part.test, cst.Name):
        return part, part.test, _inline_constant_format(part.body, module)
    if isinstance(part, cst.Call) and isinstance(part.func, cst.Name):
        function = _module_function(module, part.func.value)
        guarded = _guarded_return(function) if function is not None else None
        if guarded is None or len(part.args) != 1:
            return None
        param, text = guarded
        arg = part.args[0]
        # the text names the parameter: the call must pass a name spelt the same, so it reads the same
        if arg.keyword is not None or not (isinstance(arg.value, cst.Name) and arg.value.value == param):
            return None
        return part, arg.value, text.with_changes(lpar=[], rpar=[])
    return None


def _inline_constant_format(node: cst.BaseExpression, module: cst.Module) -> cst.BaseExpression:
    """`CONST.format(...)` with CONST a string assigned once at module level -> `"...".format(...)`."""
    if not (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "format"
        and isinstance(node.func.value, cst.Name)
    ):
        return node
    values = [
        stmt.body[0].value
        for stmt in module.body
        if isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Assign)
        and len(stmt.body[0].targets) == 1
        and isinstance(stmt.body[0].targets[0].target, cst.Name)
        and stmt.body[0].targets[0].target.value == node.func.value.value
    ]
    if len(values) != 1 or not isinstance(values[0], cst.SimpleString):
        return node
    return node.with_changes(func=node.func.with_changes(value=values[0]))


def _module_function(module: cst.Module, name: str) -> cst.FunctionDef | None:
    found = [s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
    return found[0] if len(found) == 1 else None


def _guarded_return(function: cst.FunctionDef) -> tuple[str, cst.BaseExpression] | None:
    """(parameter, returned text) of `def f(p): if not p: return ""` then `return <text>`."""
    params = function.params
    # star_arg is a MaybeSentinel when absent (truthy): test for a parameter node
    extra = isinstance(params.star_arg, (cst.Param, cst.ParamStar)) or params.star_kwarg is not None
    if len(params.params) != 1 or extra or params.kwonly_params or params.posonly_params:
        return None
    param = params.params[0].name.value
    body = [s for s in function.body.body if not _is_docstring(s)]
    if len(body) != 2 or not isinstance(body[0], cst.If) or body[0].orelse is not None:
        return None
    guard, last = body
    test = guard.test
    if not (
        isinstance(test, cst.UnaryOperation)
        and isinstance(test.operator, cst.Not)
        and isinstance(test.expression, cst.Name)
        and test.expression.value == param
    ):
        return None
    if _returned(guard.body) is None or not _is_empty(_returned(guard.body)):
        return None
    text = _returned(cst.IndentedBlock([last]))
    return (param, text) if text is not None else None


def _returned(block: cst.BaseSuite) -> cst.BaseExpression | None:
    stmts = block.body if isinstance(block, cst.IndentedBlock) else [block]
    if len(stmts) != 1 or not isinstance(stmts[0], cst.SimpleStatementLine):
        return None
    ret = stmts[0].body[0]
    return ret.value if isinstance(ret, cst.Return) and len(stmts[0].body) == 1 else None


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


class _Binds(LightVisitor):
    """Whether a name is bound in a body (assignment, loop or `with` target, walrus, del, import)."""

    def __init__(self, name: str):
        self.name = name
        self.found = False

    def _targets(self, node: cst.CSTNode | None) -> None:
        if node is not None and any(
            isinstance(n, cst.Name) and n.value == self.name for n in name_nodes(node)
        ):
            self.found = True

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._targets(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._targets(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        pass  # a comprehension's own scope

    def visit_AsName(self, node: cst.AsName) -> None:
        self._targets(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._targets(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._targets(node.target)


def name_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    # every Name in walk order (what a visitor's visit_Name meets), without a visitor class per call
    return [n for n in preorder(node) if type(n) is cst.Name]


def rebinds(body: cst.CSTNode, name: str) -> bool:
    """`name` is bound somewhere in `body` (then its value at the query call may not be the one the text
    was built with)."""
    finder = _Binds(name)
    walk(body, finder)
    return finder.found


def same_rows(a, b) -> bool:
    """Both translations return rows of the same columns, so one rewrite of the consumers fits both."""
    return (
        a.database == b.database
        and a.measurement == b.measurement
        and a.fields == b.fields
        and a.tags == b.tags
        and a.has_time == b.has_time
        and a.pivoted == b.pivoted
        and a.value_column == b.value_column
        and a.field_column == b.field_column
        and a.sql.split("\nFROM")[0].split(" FROM ")[0] == b.sql.split("\nFROM")[0].split(" FROM ")[0]
    )
