"""walk/find_all make the calls libcst's own walk makes, in its order, on every node of real code."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import libcst.matchers as m
import pytest

from migrators.core.codemod import LightVisitor
from migrators.core.walk import _LIBCST_OWN, children, find_all, preorder, rebuild_plan, traverse, walk
from tests.migrators.helpers import dedent

ROOT = Path(__file__).resolve().parents[3]

# every kind of node the grammar has, besides the real files below
EVERY_SHAPE = dedent('''
    """Doc."""
    from __future__ import annotations
    from . import a as b, c
    from .x import *
    import os.path as p, sys
    x: int = 1; y = z = (1, 2)
    x += 1
    del y
    assert x, "m"
    global g
    @dec(1, *a, k=2, **kw)
    async def f(a, /, b: int = 2, *args, c, d=3, **kw) -> None:
        nonlocal q
        async with a as (b, c), d:
            pass
        async for i in a:
            await b
            yield i
            yield from c
        return [i async for i in a if i]
    class C(B, metaclass=M):
        def g(self): return {k: v for k, v in self.items()}, {1, *s}, lambda x=1: x
    try:
        raise E from e
    except (A, B) as e:
        pass
    else:
        pass
    finally:
        pass
    try:
        pass
    except* C:
        pass
    while x:
        break
    else:
        continue
    if a: b
    elif c: d
    else: e
    match p:
        case [1, *rest] | {"k": v, **kw} if v:
            pass
        case Point(x=0, y=_) as q:
            pass
    s = f"{x!r:>{w}}" r"b" "c" u"d", rb"e"
    t = a[1:2, ::3] if not a else -b ** ~c @ d // e
    u = (yield)
    w = (n := 10)
    type X[T] = list[T]
    def h[T: int, *Ts, **P](x: T) -> T: ...
    print(*a, sep="", **k) ; x = ...
''')


def _sources() -> list[str]:
    paths = sorted((ROOT / "tests/migrators/corpus").rglob("*.py")) + sorted(
        (ROOT / "services").rglob("*.py")
    )
    return [EVERY_SHAPE, *(p.read_text(encoding="utf-8") for p in paths[:400])]


class _Record(LightVisitor):
    """Every on_visit/on_leave call, and a skip below every def named `skip_me` (hooks that stop)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.calls.append(("visit", id(node)))
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.calls.append(("leave", id(original_node)))
        super().on_leave(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node.name.value != "g"


@pytest.fixture(scope="module")
def modules() -> list[cst.Module]:
    return [cst.parse_module(text) for text in _sources()]


def test_children_are_libcsts_children_on_every_node(modules: list[cst.Module]) -> None:
    seen = 0
    for module in modules:
        for node in preorder(module):
            expected = node.children
            got = children(node)
            assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected, strict=True)), (
                type(node).__name__
            )
            seen += 1
    assert seen > 100_000


def test_walk_makes_libcsts_calls_in_order(modules: list[cst.Module]) -> None:
    for module in modules:
        ours, theirs = _Record(), _Record()
        walk(module, ours)
        module.visit(theirs)
        assert ours.calls == theirs.calls


def test_preorder_is_the_walk_order(modules: list[cst.Module]) -> None:
    module = modules[0]
    recorder = _Record()
    module.visit(recorder)
    visited = [key for kind, key in recorder.calls if kind == "visit"]
    # the recorder skips below `def g`: compare on a visitor that never skips
    everything = [id(node) for node in preorder(module)]
    assert visited == [key for key in everything if key in set(visited)]
    assert len(everything) > len(visited)


@pytest.mark.parametrize(
    "matcher",
    [
        m.Call(),
        m.Name("x"),
        m.Assign(value=m.Call()),
        m.With(asynchronous=m.Asynchronous()),
        m.OneOf(m.Name(), m.Integer()),
    ],
)
def test_find_all_is_libcsts_findall(modules: list[cst.Module], matcher: m.BaseMatcherNode) -> None:
    for module in modules[:60]:
        ours, theirs = find_all(module, matcher), m.findall(module, matcher)
        assert len(ours) == len(theirs) and all(a is b for a, b in zip(ours, theirs, strict=True))


def test_conditional_fields_are_read_as_libcst_visits_them() -> None:
    # ImportFrom visits `*` as one node and names as a sequence; a format spec may be None
    assert all(rebuild_plan(kind) is not _LIBCST_OWN for kind in (cst.ImportFrom, cst.TypeParam, cst.Comma))
    module = cst.parse_module('from a import *\nfrom b import (c, d)\nf"{x:>{w}} {y}"\n')
    for node in preorder(module):
        assert list(children(node)) == list(node.children)


class _Edits(cst.CSTTransformer):
    """Hook calls recorded by original node, with edits of every kind a parent must rebuild around:
    a renamed Name, a removed statement (a block left empty keeps libcst's `pass`), a statement
    flattened into two, a removed optional child (an annotation), a removed sentinel (a comma)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.calls.append(("visit", id(node)))
        return not (isinstance(node, cst.FunctionDef) and node.name.value == "skip_me")

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        self.calls.append(("leave", id(original_node)))
        return super().on_leave(original_node, updated_node)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return updated_node.with_changes(value="renamed") if original_node.value == "x" else updated_node

    def leave_Pass(self, original_node: cst.Pass, updated_node: cst.Pass):
        return cst.RemovalSentinel.REMOVE

    def leave_Del(self, original_node: cst.Del, updated_node: cst.Del):
        return cst.RemovalSentinel.REMOVE

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if isinstance(original_node.body[0], cst.Global):
            return cst.FlattenSentinel([updated_node, cst.parse_statement("added = 1\n")])
        return updated_node

    def visit_Param(self, node: cst.Param) -> None:
        self.optional = getattr(self, "optional", set()) | {id(node.annotation)}

    def leave_Annotation(self, original_node, updated_node):
        # a parameter's annotation is optional (an assignment's is required: libcst refuses that)
        return (
            cst.RemovalSentinel.REMOVE if id(original_node) in getattr(self, "optional", ()) else updated_node
        )

    def leave_Comma(self, original_node, updated_node):
        return cst.RemovalSentinel.REMOVE


EDITED = dedent("""
    def f(a: int, b) -> int:
        global g
        pass
    def skip_me(x):
        x = 1
    class C:
        pass
    del x
    y = [x, 1, 2]
    if x: pass
    else:
        del x
""")


def test_traverse_makes_libcsts_calls_and_tree() -> None:
    for text in (EDITED, *_sources()[:80]):
        module = cst.parse_module(text)
        ours, theirs = _Edits(), _Edits()
        assert traverse(module, ours).code == module.visit(theirs).code
        assert ours.calls == theirs.calls


def test_traverse_keeps_an_untouched_tree() -> None:
    module = cst.parse_module(EVERY_SHAPE)
    assert traverse(module, cst.CSTTransformer()) is module
    renamed = traverse(module, _Edits())
    assert renamed is not module and renamed.deep_equals(module.visit(_Edits()))


def test_a_removed_required_child_is_refused_as_libcst_refuses_it() -> None:
    class _RemoveCallee(cst.CSTTransformer):
        def leave_Call(self, original_node, updated_node):
            return updated_node.with_changes(func=cst.Name("g"))

        def leave_Name(self, original_node, updated_node):
            return cst.RemovalSentinel.REMOVE if original_node.value == "f" else updated_node

    module = cst.parse_module("f(x)\n")
    with pytest.raises(TypeError, match="does not allow it to be removed"):
        module.visit(_RemoveCallee())
    with pytest.raises(TypeError, match="does not allow it to be removed"):
        traverse(module, _RemoveCallee())


class _AttributeHook(cst.CSTVisitor):
    def __init__(self) -> None:
        self.fields: list[str] = []

    def visit_Call_func(self, node: cst.Call) -> None:
        self.fields.append("func")


def test_a_visitor_with_attribute_hooks_gets_them() -> None:
    visitor = _AttributeHook()
    walk(cst.parse_module("f(x)\ng(y)\n"), visitor)
    assert visitor.fields == ["func", "func"]


class _AttributeHookMixin:
    def visit_Call_func(self, node: cst.Call) -> None:
        pass


def test_a_light_visitor_refuses_attribute_hooks_from_itself_its_bases_and_mixins() -> None:
    # LightVisitor's walk leaves attribute hooks out: a class that would need one is refused
    with pytest.raises(TypeError, match="visit_Call_func"):
        type("Own", (LightVisitor,), {"visit_Call_func": lambda self, node: None})
    with pytest.raises(TypeError, match="visit_Call_func"):
        type("Mixed", (_AttributeHookMixin, LightVisitor), {})
    base = type("Base", (LightVisitor,), {"visit_Call": lambda self, node: None})
    with pytest.raises(TypeError, match="leave_Call_args"):
        type("Derived", (base,), {"leave_Call_args": lambda self, node: None})
    type("Fine", (base,), {"visit_Name": lambda self, node: None})  # node hooks are what it walks
