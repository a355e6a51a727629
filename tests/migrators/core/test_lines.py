"""start_lines gives each node the start line libcst's PositionProvider gives it."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migrators.core.lines import start_lines
from tests.migrators.helpers import dedent

ROOT = Path(__file__).resolve().parents[3]

MODULE = dedent('''
    """Doc."""
    # a comment above the first import
    import os  # trailing

    x = (1,
         2)


    # two lines of comments
    # above a decorated function
    @decorator(
        arg=1,
    )
    async def f(a, b=2):  # c
        """Doc."""
        if a: return b
        while a:
            a -= 1
        else:
            pass
        s = """multi
    line"""
        return f"{a}\\r" + s


    class C(Base):
        pass
''')


def _all_nodes(module: cst.Module) -> list[cst.CSTNode]:
    found, stack = [], [module]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.children)
    return found


def _compare(code: str) -> int:
    module = cst.parse_module(code)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = _all_nodes(module)
    lines = start_lines(module, nodes)
    for node in nodes:
        assert lines[id(node)] == expected[node].start.line, (type(node).__name__, module.code_for_node(node))
    return len(nodes)


def test_every_node_of_a_module_gets_the_providers_start_line():
    assert _compare(MODULE) > 150


def test_crlf_and_lone_cr_line_breaks_count_as_the_provider_counts_them():
    assert _compare("import os\r\nx = 1\r\n\r\ndef f():\r\n    return 2\r\n")
    assert _compare("x = 1\ny = '''a\rb'''\nz = 3\n")


def test_the_fleet_files_get_the_providers_lines_for_every_node():
    files = sorted((ROOT / "services").rglob("*.py"))[:40]
    assert sum(_compare(path.read_text(encoding="utf-8")) for path in files) > 5000


def test_a_few_nodes_and_a_foreign_node_that_gets_no_line():
    module = cst.parse_module(MODULE)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    first, last = module.body[0], module.body[-1]
    foreign = cst.Name("elsewhere")
    lines = start_lines(module, [first, last, foreign])
    assert lines == {id(first): expected[first].start.line, id(last): expected[last].start.line}
    assert lines[id(last)] == 26
    # the render stops after the first statement: its line is the same
    assert start_lines(module, [first]) == {id(first): expected[first].start.line}
