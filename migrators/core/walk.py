"""Walks of a libcst tree without libcst's rebuild of every node, and the visitor base they serve.

libcst walks a tree for a CSTVisitor exactly as for a transformer: every node it descends into is
rebuilt from its visited children (a dataclass construction and its validation per node) and the
copy thrown away; its own code says "TODO: provide traversal where children are not replaced".
That rebuild is three quarters of a visitor's walk. :func:`walk` calls the same hooks on the same
nodes in the same order (``on_visit``, the children in libcst's order, ``on_leave``) and builds
nothing; :func:`find_all` is ``libcst.matchers.findall`` (without metadata) over the same walk;
:func:`traverse` is a transformer's walk that rebuilds only the nodes whose children changed.
:class:`LightVisitor` is the base of the upgrades' visitors (no attribute hooks: the walk skips them).

The children of a node, in libcst's order, are read once per node class from the class's own
``_visit_and_replace_children`` (its source): one ``return Node(field=...)`` (or
``self.__class__(...)``) whose every field is passed as is or handed to one of libcst's ``visit_*``
helpers under its own name, or the two conditional forms libcst uses (``ImportFrom.names``, an
f-string's format spec). A class whose method has any other form falls back to libcst's own code.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst._nodes.base import BaseLeaf, CSTValidationError

# libcst's helpers of _visit_and_replace_children, by how the keyword they fill is rebuilt
_AS_IS, _REQUIRED, _OPTIONAL, _SENTINEL, _SEQUENCE, _BODY = range(6)
_NODE_OR_SEQUENCE = 6  # `visit_required(...) if isinstance(x, T) else visit_sequence(...)` (ImportFrom.names)
_SEQUENCE_OR_NONE = 7  # `visit_sequence(...) if x is not None else None` (an f-string's format_spec)
_MODES = {
    "visit_required": _REQUIRED,
    "visit_optional": _OPTIONAL,
    "visit_sentinel": _SENTINEL,
    "visit_sequence": _SEQUENCE,
    "visit_body_sequence": _BODY,
}
_MANY = (_SEQUENCE, _BODY, _SEQUENCE_OR_NONE)
_LIBCST_OWN = object()  # plan of a class whose rebuild (and children) only libcst's own code can do
_LEAF = ()  # a leaf: no child, and libcst's rebuild returns the node itself

Plan = tuple[tuple[str, int, Any], ...]


@functools.cache
def rebuild_plan(kind: type) -> Plan | object:
    """(keyword, mode, class) for each keyword libcst's _visit_and_replace_children passes when it
    rebuilds a node of `kind`, in its order (the order it visits the children in); `class` is the
    isinstance test of a _NODE_OR_SEQUENCE keyword. _LEAF for a leaf; _LIBCST_OWN where the method has
    another form than those (see the module doc)."""
    method = kind._visit_and_replace_children
    if method is BaseLeaf._visit_and_replace_children:
        return _LEAF
    try:
        function = ast.parse(textwrap.dedent(inspect.getsource(method))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return _LIBCST_OWN
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    aliases = {}  # `names = self.names` before the return
    while body and _alias(body[0]) is not None:
        local, field_name = _alias(body.pop(0))  # type: ignore[misc]
        aliases[local] = field_name
    if (  # `ret = Kind(...)` then `return ret` (TypeParam)
        len(body) == 2
        and isinstance(body[0], ast.Assign)
        and len(body[0].targets) == 1
        and isinstance(body[0].targets[0], ast.Name)
        and isinstance(body[1], ast.Return)
        and isinstance(body[1].value, ast.Name)
        and body[1].value.id == body[0].targets[0].id
    ):
        body = [ast.Return(body[0].value)]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
        return _LIBCST_OWN
    call = body[0].value
    if call.args or not _builds_own_class(call.func, kind):
        return _LIBCST_OWN
    namespace = vars(inspect.getmodule(method))
    plan = []
    for keyword in call.keywords:
        entry = _keyword_plan(keyword, aliases, namespace) if keyword.arg is not None else None
        if entry is None:
            return _LIBCST_OWN
        plan.append(entry)
    return tuple(plan)


def _alias(stmt: ast.stmt) -> tuple[str, str] | None:
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Attribute)
        and isinstance(stmt.value.value, ast.Name)
        and stmt.value.value.id == "self"
    ):
        return stmt.targets[0].id, stmt.value.attr
    return None


def _keyword_plan(
    keyword: ast.keyword, aliases: dict[str, str], namespace: dict
) -> tuple[str, int, Any] | None:
    name, expr = keyword.arg, keyword.value
    if _reads_field(expr, name, aliases):
        return (name, _AS_IS, None)  # type: ignore[return-value]
    helper = _visited_field(expr, name, aliases)
    if helper is not None:
        return (name, _MODES[helper], None)  # type: ignore[return-value]
    if not isinstance(expr, ast.IfExp):
        return None
    test, then, other = expr.test, _visited_field(expr.body, name, aliases), expr.orelse
    if (  # visit_required(...) if isinstance(x, T) else visit_sequence(...)
        then == "visit_required"
        and _visited_field(other, name, aliases) == "visit_sequence"
        and isinstance(test, ast.Call)
        and isinstance(test.func, ast.Name)
        and test.func.id == "isinstance"
        and len(test.args) == 2
        and _reads_field(test.args[0], name, aliases)
        and isinstance(test.args[1], ast.Name)
        and isinstance(namespace.get(test.args[1].id), type)
    ):
        return (name, _NODE_OR_SEQUENCE, namespace[test.args[1].id])  # type: ignore[return-value]
    if (  # visit_sequence(...) if x is not None else None
        then == "visit_sequence"
        and isinstance(other, ast.Constant)
        and other.value is None
        and isinstance(test, ast.Compare)
        and _reads_field(test.left, name, aliases)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        return (name, _SEQUENCE_OR_NONE, None)  # type: ignore[return-value]
    return None


def _builds_own_class(func: ast.expr, kind: type) -> bool:
    """`Kind(...)` in the class's own method, or `self.__class__(...)` (the operators' shared method)."""
    if isinstance(func, ast.Name):
        return func.id == kind.__name__ and "_visit_and_replace_children" in vars(kind)
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__class__"
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    )


def _reads_field(expr: ast.expr, name: str, aliases: dict[str, str]) -> bool:
    """`self.name`, or a local the method assigned `self.name` to."""
    if isinstance(expr, ast.Name):
        return aliases.get(expr.id) == name
    return (
        isinstance(expr, ast.Attribute)
        and isinstance(expr.value, ast.Name)
        and expr.value.id == "self"
        and expr.attr == name
    )


def _visited_field(expr: ast.expr, name: str, aliases: dict[str, str]) -> str | None:
    """The helper's name where `expr` is `visit_X(self, "name", self.name, visitor)`, else None."""
    if not (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id in _MODES
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
        and _reads_field(value, name, aliases)
        and isinstance(visitor, ast.Name)
        and visitor.id == "visitor"
    ):
        return None
    return expr.func.id


def children(node: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """``node.children`` (libcst's order), without building a copy of `node` where the plan is known."""
    plan = rebuild_plan(type(node))
    if plan is _LIBCST_OWN:
        return node.children
    found: list[cst.CSTNode] = []
    for name, mode, kind in plan:  # type: ignore[union-attr]
        if mode == _AS_IS:
            continue
        value = getattr(node, name)
        if mode in _MANY or (mode == _NODE_OR_SEQUENCE and not isinstance(value, kind)):
            if value is not None:  # _SEQUENCE_OR_NONE
                found.extend(value)
        elif value is not None and value is not cst.MaybeSentinel.DEFAULT:  # those are not visited
            found.append(value)
    return found


_MATCHER_DECORATIONS = (
    "_call_if_inside_matcher",
    "_call_if_not_inside_matcher",
    "_visit_matcher",
    "_leave_matcher",
)


@functools.cache
def visitor_hooks(kind: type) -> frozenset[str] | None:
    """The visit_*/leave_* methods a codemod class really defines (not libcst's no-op stubs), or None
    when it uses libcst's matcher decorators (@m.visit, @m.call_if_inside, ...).

    libcst's transformer looks up a hook by name for every node and every child attribute and calls
    a stub when none is defined; libcst's matcher base also re-checks decorators on every call. For
    a class without decorators, knowing its hooks once gives the same calls for a fraction of the
    cost (the traversal is most of a codemod's time)."""
    hooks = set()
    for name in dir(kind):
        attr = getattr(kind, name, None)
        if any(hasattr(attr, mark) for mark in _MATCHER_DECORATIONS):
            return None
        if name.startswith(("visit_", "leave_")) and callable(attr) and not getattr(attr, "_is_no_op", False):
            hooks.add(name)
    return frozenset(hooks)


_ATTRIBUTE_HOOK = re.compile(r"^(?:visit|leave)_[A-Z][A-Za-z0-9]*_\w+$")


class LightVisitor(cst.CSTVisitor):
    """A CSTVisitor for a class whose hooks are visit_<Node>/leave_<Node> only (the same calls).

    libcst looks up a visit_<Node>_<field> and a leave_<Node>_<field> hook by name for every child
    field of every node it walks (two f-strings and two getattr each): about half of a visitor's own
    dispatch, spent for nothing by a class that defines none. A subclass that defines one is refused."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the names of the class's own namespace and of any base that is neither a LightVisitor
        # (checked when it was made) nor libcst's (whose attribute hooks are all no-op stubs): the
        # same verdict as a look at every name of dir(cls), which cost ~10 ms per class made (some
        # visitors are classes made inside a function, once per call)
        names = {
            name
            for klass in cls.__mro__
            if klass is cls or not (issubclass(klass, LightVisitor) or klass.__module__.startswith("libcst"))
            for name in vars(klass)
        }
        own = [
            name
            for name in sorted(names)
            if _ATTRIBUTE_HOOK.match(name) and not getattr(getattr(cls, name), "_is_no_op", False)
        ]
        if own:
            raise TypeError(f"{cls.__name__} defines attribute hooks ({', '.join(own)}): use cst.CSTVisitor")

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        return None

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        return None


@functools.cache
def has_attribute_hooks(hooks: frozenset[str]) -> bool:
    """Whether a codemod class's hooks (see visitor_hooks) include a visit_<Node>_<field>/leave_ one."""
    return any(_ATTRIBUTE_HOOK.match(name) for name in hooks)


def _walkable(kind: type) -> bool:
    """Whether a visitor class gets from :func:`walk` every call libcst's walk makes: the walk leaves
    out on_visit_attribute/on_leave_attribute, which only a visit_<Node>_<field> hook needs.

    Not cached per class: some visitors are classes made inside a function, a new one per call."""
    if issubclass(kind, LightVisitor):  # refuses attribute hooks when the class is made
        return (
            kind.on_visit_attribute is LightVisitor.on_visit_attribute
            and kind.on_leave_attribute is LightVisitor.on_leave_attribute
        )
    return _plain_visitor(kind)


@functools.cache
def _plain_visitor(kind: type) -> bool:
    """A CSTVisitor with libcst's attribute-hook entry points, no attribute hook and no matcher
    decorators (its hooks listed once per class: a class made per call should be a LightVisitor)."""
    if not issubclass(kind, cst.CSTVisitor):
        return False
    hooks = visitor_hooks(kind)
    return (
        hooks is not None
        and not has_attribute_hooks(hooks)
        and kind.on_visit_attribute is cst.CSTVisitor.on_visit_attribute
        and kind.on_leave_attribute is cst.CSTVisitor.on_leave_attribute
    )


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


# --- transformers -------------------------------------------------------------------------------------
def traverse(module: cst.Module, visitor: cst.CSTTransformer) -> cst.Module:
    """``module.visit(visitor)`` for a transformer without attribute hooks (see
    migrators.core.codemod._transformable): the same hook calls in the same order and the same tree,
    each changed node rebuilt as libcst rebuilds it (the same keywords, the same handling of removed
    and flattened children, the same checks). Two differences, neither in the text: a node whose
    children all come back unchanged is kept, not copied (so an untouched module comes back as the
    same object, and a hook's `updated_node` is then its `original_node`); libcst's per-field helper
    calls, attribute-hook lookups and ABC isinstance checks are left out."""
    result = _transform(module, visitor)
    if isinstance(result, cst.RemovalSentinel):  # what Module.visit does with a removed module
        return module.with_changes(body=(), header=(), footer=())
    return result  # type: ignore[return-value]


def _transform(node: cst.CSTNode, visitor: cst.CSTTransformer) -> Any:
    if visitor.on_visit(node):
        plan = rebuild_plan(type(node))
        if plan is _LEAF:
            updated = node
        elif plan is _LIBCST_OWN:
            updated = node._visit_and_replace_children(visitor)
        else:
            updated = _rebuild(node, plan, visitor)  # type: ignore[arg-type]
    else:
        updated = node
    result = visitor.on_leave(node, updated)
    if not _is_node_type(type(result)) and not isinstance(result, (cst.RemovalSentinel, cst.FlattenSentinel)):
        raise CSTValidationError(
            "Expected a node of type CSTNode or a RemovalSentinel, "
            + f"but got a return value of {type(result).__name__}"
        )
    return result


def _rebuild(node: cst.CSTNode, plan: Plan, visitor: cst.CSTTransformer) -> Any:
    """libcst's rebuild of `node` from its visited children; `node` itself where every child came
    back as the very object it holds (an equal node: libcst would build a copy nothing tells apart
    from it but its identity, and the copy's construction and validation are most of a traversal)."""
    values = {}
    same = True
    for name, mode, kind in plan:
        value = getattr(node, name)
        if mode == _AS_IS:
            values[name] = value
            continue
        if mode == _NODE_OR_SEQUENCE:
            mode = _REQUIRED if isinstance(value, kind) else _SEQUENCE
        elif mode == _SEQUENCE_OR_NONE:
            mode = _SEQUENCE if value is not None else _OPTIONAL
        new = _rebuilt(value, mode, visitor)
        values[name] = new
        if same and new is not value:
            # a sequence comes back as a new tuple: the same when it holds the same objects
            same = (
                mode in (_SEQUENCE, _BODY)
                and type(value) is tuple
                and len(new) == len(value)
                and all(a is b for a, b in zip(new, value, strict=True))
            )
    return node if same else type(node)(**values)


def _rebuilt(value: Any, mode: int, visitor: cst.CSTTransformer) -> Any:
    """What libcst's visit_<mode> helper returns for a field holding `value`."""
    if mode == _SEQUENCE:
        return tuple(_visit_items(value, visitor))
    if mode == _BODY:
        return tuple(_visit_body_items(value, visitor))
    if mode == _OPTIONAL and value is None:
        return None
    if mode == _SENTINEL and isinstance(value, cst.MaybeSentinel):
        return cst.MaybeSentinel.DEFAULT
    result = _transform(value, visitor)
    if _is_node_type(type(result)):  # the common case, without ABC isinstance checks
        return result
    if isinstance(result, cst.FlattenSentinel):
        raise TypeError(
            f"We got a FlattenSentinel while visiting a {type(value).__name__}. This "
            + "node's parent does not allow for it to be it to be replaced with a "
            + "sequence."
        )
    if isinstance(result, cst.RemovalSentinel):
        if mode == _REQUIRED:
            raise TypeError(
                f"We got a RemovalSentinel while visiting a {type(value).__name__}. This "
                + "node's parent does not allow it to be removed."
            )
        return None if mode == _OPTIONAL else cst.MaybeSentinel.DEFAULT
    return result


def _visit_items(children: Sequence[cst.CSTNode], visitor: cst.CSTTransformer) -> Iterator[cst.CSTNode]:
    """libcst's visit_iterable: the children's results, flattened, without the removed ones."""
    for child in children:
        result = _transform(child, visitor)
        if _is_node_type(type(result)):
            yield result
        elif isinstance(result, cst.FlattenSentinel):
            yield from result
        elif not isinstance(result, cst.RemovalSentinel):
            yield result


def _visit_body_items(children: Sequence[cst.CSTNode], visitor: cst.CSTTransformer) -> Iterator[cst.CSTNode]:
    """libcst's visit_body_iterable: as _visit_items, and a child left empty by a removal is dropped."""
    for child in children:
        result = _transform(child, visitor)
        if _is_node_type(type(result)):
            if child._is_removable() or not result._is_removable():
                yield result
            continue
        if isinstance(result, cst.RemovalSentinel):
            continue
        if isinstance(result, cst.FlattenSentinel):
            for item in result:
                if child._is_removable() or not item._is_removable():
                    yield item
        elif child._is_removable() or not result._is_removable():
            yield result


@functools.cache
def _is_node_type(kind: type) -> bool:
    return issubclass(kind, cst.CSTNode)
