"""walk/find_all make the calls libcst's own walk makes, in its order, on every node of real code."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import libcst.matchers as m
import pytest

from migrators.core.codemod import LightVisitor
from migrators.core.walk import _LIBCST_OWN, child_fields, children, find_all, preorder, walk
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


def test_a_conditional_field_falls_back_to_libcst() -> None:
    # ImportFrom visits `names` only when it is not `*`: its plan is libcst's own
    assert child_fields(cst.ImportFrom) is _LIBCST_OWN
    star = cst.parse_module("from a import *\n").body[0].body[0]
    assert children(star) == star.children


class _AttributeHook(cst.CSTVisitor):
    def __init__(self) -> None:
        self.fields: list[str] = []

    def visit_Call_func(self, node: cst.Call) -> None:
        self.fields.append("func")


def test_a_visitor_with_attribute_hooks_gets_them() -> None:
    visitor = _AttributeHook()
    walk(cst.parse_module("f(x)\ng(y)\n"), visitor)
    assert visitor.fields == ["func", "func"]
