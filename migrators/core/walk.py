"""Read-only walks of a libcst tree without libcst's rebuild of every node.

libcst walks a tree for a CSTVisitor exactly as for a transformer: every node it descends into is
rebuilt from its visited children (a dataclass construction and its validation per node) and the
copy thrown away; its own code says "TODO: provide traversal where children are not replaced".
That rebuild is three quarters of a visitor's walk. :func:`walk` calls the same hooks on the same
nodes in the same order (``on_visit``, the children in libcst's order, ``on_leave``) and builds
nothing; :func:`find_all` is ``libcst.matchers.findall`` (without metadata) over the same walk.

The children of a node, in libcst's order, are read from each node class's own
``_visit_and_replace_children``: where it is the plain form (one ``return Node(field=...)`` whose
every field is either passed as is or handed to one of libcst's ``visit_*`` helpers under its own
name) its visited fields are kept once per class; a class whose method has any other form (a field
visited under a condition, as ``ImportFrom.names`` is) falls back to libcst's own ``children``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Iterator, Sequence

import libcst as cst
import libcst.matchers as m
from libcst._nodes.base import BaseLeaf

# libcst's helpers of _visit_and_replace_children: True where the field holds a sequence of nodes
_VISIT_HELPERS = {
    "visit_required": False,
    "visit_optional": False,
    "visit_sentinel": False,
    "visit_sequence": True,
    "visit_iterable": True,
    "visit_body_sequence": True,
    "visit_body_iterable": True,
}
_LIBCST_OWN = object()  # plan of a class whose children only libcst's `children` can say


@functools.cache
def child_fields(kind: type) -> tuple[tuple[str, bool], ...] | object:
    """(field, holds a sequence) for each field libcst visits on a node of `kind`, in its order; ()
    for a leaf; _LIBCST_OWN where the class's method is not of the plain form (see the module doc)."""
    method = kind._visit_and_replace_children
    if method is BaseLeaf._visit_and_replace_children:
        return ()
    try:
        source = textwrap.dedent(inspect.getsource(method))
        function = ast.parse(source).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return _LIBCST_OWN
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
        return _LIBCST_OWN
    call = body[0].value
    if call.args or not isinstance(call.func, ast.Name) or call.func.id != kind.__name__:
        return _LIBCST_OWN
    fields = []
    for keyword in call.keywords:
        if keyword.arg is None:
            return _LIBCST_OWN
        if _is_self_field(keyword.value, keyword.arg):
            continue  # passed as is: not visited
        helper = _visited_field(keyword.value, keyword.arg)
        if helper is None:
            return _LIBCST_OWN
        fields.append((keyword.arg, _VISIT_HELPERS[helper]))
    return tuple(fields)


def _is_self_field(expr: ast.expr, name: str) -> bool:
    return (
        isinstance(expr, ast.Attribute)
        and isinstance(expr.value, ast.Name)
        and expr.value.id == "self"
        and expr.attr == name
    )


def _visited_field(expr: ast.expr, name: str) -> str | None:
    """The helper's name where `expr` is `visit_X(self, "name", self.name, visitor)`, else None."""
    if not (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id in _VISIT_HELPERS
        and not expr.keywords
        and len(expr.args) == 4
    ):
        return None
    parent, label, value, visitor = expr.args
    if not (
        isinstance(parent, ast.Name)
        and parent.id == "self"
        and isinstance(label, ast.Constant)
        and label.value == name
        and _is_self_field(value, name)
        and isinstance(visitor, ast.Name)
        and visitor.id == "visitor"
    ):
        return None
    return expr.func.id


def children(node: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """``node.children`` (libcst's order), without building a copy of `node` where the plan is known."""
    fields = child_fields(type(node))
    if fields is _LIBCST_OWN:
        return node.children
    found: list[cst.CSTNode] = []
    for name, many in fields:  # type: ignore[union-attr]
        value = getattr(node, name)
        if many:
            found.extend(value)
        elif isinstance(value, cst.CSTNode):  # None or MaybeSentinel: nothing visited
            found.append(value)
    return found


@functools.cache
def _walkable(kind: type) -> bool:
    """Whether a visitor class gets from :func:`walk` every call libcst's walk makes: a CSTVisitor
    without matcher decorators and without attribute hooks (visit_<Node>_<field>), which are the only
    calls the walk leaves out (it calls no on_visit_attribute/on_leave_attribute)."""
    from migrators.core.codemod import LightVisitor, _has_attribute_hooks, visitor_hooks

    if not issubclass(kind, cst.CSTVisitor):
        return False
    hooks = visitor_hooks(kind)
    if hooks is None or _has_attribute_hooks(hooks):
        return False
    plain = (cst.CSTVisitor.on_visit_attribute, LightVisitor.on_visit_attribute)
    plain_leave = (cst.CSTVisitor.on_leave_attribute, LightVisitor.on_leave_attribute)
    return kind.on_visit_attribute in plain and kind.on_leave_attribute in plain_leave


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``node.visit(visitor)`` for a CSTVisitor: the same on_visit/on_leave calls in the same order,
    without rebuilding the tree (libcst's own walk for a visitor that needs attribute hooks)."""
    if not _walkable(type(visitor)):
        node.visit(visitor)
        return
    _walk(node, visitor)


def _walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    if visitor.on_visit(node):
        for child in children(node):
            _walk(child, visitor)
    visitor.on_leave(node)


def preorder(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`node` and every node below it, in the order libcst's walk visits them."""
    stack: list[Iterator[cst.CSTNode]] = [iter((node,))]
    while stack:
        current = next(stack[-1], None)
        if current is None:
            stack.pop()
            continue
        yield current
        stack.append(iter(children(current)))


# matchers libcst's matches() refuses at the top while findall() takes them: left to findall
_TOP_LEVEL_ONLY_IN_FINDALL = (m.MatchIfTrue, m.AtLeastN, m.AtMostN, m.MatchMetadata, m.MatchMetadataIfTrue)


def find_all(node: cst.CSTNode, matcher: m.BaseMatcherNode) -> Sequence[cst.CSTNode]:
    """``libcst.matchers.findall(node, matcher)`` (no metadata): the matching nodes in walk order."""
    if not isinstance(matcher, m.BaseMatcherNode) or isinstance(matcher, _TOP_LEVEL_ONLY_IN_FINDALL):
        return m.findall(node, matcher)
    return [found for found in preorder(node) if m.matches(found, matcher)]
