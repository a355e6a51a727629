"""Start lines of a few nodes of a module, as libcst's PositionProvider gives them, for a fraction of it.

PositionProvider renders the whole module while keeping a line and column and a range object for
every node: about three parses' worth of work per resolution, on every file a rule changed, only to
give each recorded change its line. :func:`start_lines` renders with libcst's own code generator
too (so every token, indent and newline is the one the provider counts), but keeps only a line
number, looks at the nodes asked about and nothing else, and stops once it has seen them all.

A node's line is the provider's ``start.line``: where its syntactic position starts (libcst's
``record_syntactic_position``, which leaves out a statement's leading comment lines; a node whose
position is hoisted from a child takes the child's), else where its code starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

_NEWLINE = re.compile(r"\r\n?|\n")  # what libcst's position states count as a line break
_NOTHING = nullcontext()  # reusable: it keeps no state


class _Done(Exception):
    """Every node asked about has its line: the rest of the module need not be rendered."""


@dataclass
class _LineState(CodegenState):
    """libcst's code generator state that counts lines instead of keeping tokens."""

    targets: set[int] = field(default_factory=set)
    line: int = 1
    left: int = 0  # targets whose line is not final yet
    opened: dict[int, int] = field(default_factory=dict)  # id -> line where its code starts
    syntactic: dict[int, int] = field(default_factory=dict)  # id -> line of its syntactic start

    def add_indent_tokens(self) -> None:
        pass  # indents hold no line break

    def add_token(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            self.line += len(_NEWLINE.findall(value))

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.targets:
            self.opened.setdefault(id(node), self.line)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.targets:
            self.left -= 1
            if self.left == 0:
                raise _Done

    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> AbstractContextManager[None]:
        # entered for most nodes the generator renders: a generator-based context for each was a
        # fifth of the render; only the nodes asked about need one
        if id(node) not in self.targets:
            return _NOTHING
        return self._record(node, start_node)

    @contextmanager
    def _record(self, node: cst.CSTNode, start_node: cst.CSTNode | None) -> Iterator[None]:
        start = self.line
        if start_node is not None and id(start_node) not in self.targets:
            # the provider hoists the start from that child: its line is needed too
            self.targets.add(id(start_node))
            self.left += 1
        yield
        if start_node is not None:
            start = self.syntactic.get(id(start_node), self.opened.get(id(start_node), start))
        self.syntactic[id(node)] = start


class _RenderState(CodegenState):
    """libcst's code generator state with a shared no-op context for record_syntactic_position (libcst's
    own is a generator-based context that does nothing, made and entered for most nodes rendered)."""

    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> AbstractContextManager[None]:
        return _NOTHING


def render(module: cst.Module) -> str:
    """``module.code``: the same code generator on the same state, minus its no-op contexts."""
    state = _RenderState(default_indent=module.default_indent, default_newline=module.default_newline)
    module._codegen(state)
    return "".join(state.tokens)


def start_lines(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, int]:
    """id(node) -> the line PositionProvider gives as the node's start, for each of `nodes` that is
    part of `module` (one that is not gets no entry, as the provider has none for it)."""
    targets = {id(node) for node in nodes}
    if not targets:
        return {}
    state = _LineState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        targets=set(targets),
        left=len(targets),
    )
    try:
        module._codegen(state)
    except _Done:
        pass
    found = {}
    for key in targets:
        line = state.syntactic.get(key, state.opened.get(key))
        if line is not None:
            found[key] = line
    return found
