"""Qualified names of imported names without libcst's scope analysis, where the module proves it safe.

libcst's ScopeProvider answers "which import is `retry` here?" by a scope analysis of the whole
module (an expression-context pass, a scope pass and the resolution of every access): most of what
a codemod costs on a file that only needs to know where `pytest` or `retry` comes from. For a name
whose first part (its head) the module binds ONLY by imports at module level, and uses only after
the last of them, the scope analysis can only find those imports: the answer follows from them.

:class:`ImportNames` proves that per head, once per module, from CPython's own view of the same
text (its symbol table and its AST, both built in C), and otherwise says "ask the scope analysis":

* the symbol table: the head is imported at module level and bound nowhere else, in no scope (no
  assignment, def, class, parameter, for/with/except/comprehension/walrus/match target, del,
  global or nonlocal of it);
* the AST: every occurrence of the head as an identifier is an evaluated name (never the name after
  a dot, a keyword argument's name, a name inside an import statement below module level, a match
  keyword), each on a line after the last import that binds it, and none is the first argument of a
  TypeVar/NewType call (libcst's scope pass skips that argument);
* the node asked about is not part of a module-level import statement (libcst gives those no scope).

The answer is then what libcst's ``Scope.get_qualified_names_for`` computes: the longest prefix of
the node's full name that an import records (``import a.b`` records ``a.b`` and ``a``), and libcst's
own ``ImportAssignment.get_qualified_names_for`` for each import recording it.
"""

from __future__ import annotations

import ast
import functools
import symtable
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ImportAssignment

# statements whose bodies stay in the module's scope (a def or class body opens a scope of its own)
_SAME_SCOPE_AST = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While, ast.Match)
_TRY_STAR_AST = tuple(t for t in (getattr(ast, "TryStar", None),) if t is not None)
_SCOPE_CST = (cst.FunctionDef, cst.ClassDef)
_Parsed = TypeVar("_Parsed")
# CPython's compound statements, one for each libcst BaseCompoundStatement in the same order
_COMPOUND_AST = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    *_SAME_SCOPE_AST,
    *_TRY_STAR_AST,
)


@dataclass
class _HeadFacts:
    """What the AST says about one identifier."""

    name_lines: list[int] = field(default_factory=list)  # lines of its evaluated occurrences
    last_import_line: int = 0  # end line of the last module-level import binding it
    odd: bool = False  # also occurs where libcst gives no scope to anything (an import below module level)
    odd_name: bool = False  # also occurs as a name that is not evaluated (after a dot, a keyword's name)


class ImportNames:
    """The imported qualified names of nodes of one module, without a scope analysis where provable.

    `source` must be the text `module` was parsed from (or renders to). Facts are computed on the
    first question and kept: one instance serves every upgrade that runs on the same tree."""

    def __init__(
        self, module: cst.Module, source: str, syntax: Callable[[str], ast.Module | None] | None = None
    ) -> None:
        self.module = module
        self.source = source
        # CPython's parse of a text, None where it rejects it: a unit's shared one (ProjectTree.syntax_of)
        self._syntax = syntax
        self._records: dict[str, list[ImportAssignment]] | None = None
        self._in_imports: set[int] = set()
        self._eligible: dict[str, bool] = {}
        self._heads: dict[str, _HeadFacts] | None = None
        self._table: symtable.SymbolTable | None = None
        self._ast: ast.Module | None | bool = False  # False: not parsed yet; None: CPython rejects it
        self._defs: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] | None = None
        self._classes: dict[int, ast.ClassDef] = {}
        self._lines: list[str] | None = None

    def names_for(self, node: cst.CSTNode, full: str) -> set[str] | None:
        """The qualified names from imports of `node`, whose full name is `full` (an expression of the
        module: a call's function, a decorator, an annotation, an argument's value), as libcst's scope
        analysis gives them; None where that cannot be proved without the analysis."""
        records = self._import_records()
        head = full.split(".", 1)[0]
        if id(node) in self._in_imports or not self._is_eligible(head):
            return None
        if isinstance(node, cst.Name) and self._head_facts()[head].odd_name:
            return None  # it may be the name after a dot or a keyword's name: libcst gives it no scope
        prefix: str | None = full
        while prefix:
            found = records.get(prefix)
            if found:
                return {q.name for a in found for q in a.get_qualified_names_for(full)}
            cut = prefix.rfind(".")
            prefix = prefix[:cut] if cut != -1 else None
        return None

    # --- libcst's records of the module-level imports ------------------------------------------------
    def _import_records(self) -> dict[str, list[ImportAssignment]]:
        """Recorded name -> the assignments libcst's scope pass makes for the module-level imports."""
        if self._records is None:
            self._records = {}
            for stmt in iter_imports(self.module, into_scopes=False):
                self._in_imports.update(_subtree_ids(stmt))
                if isinstance(stmt.names, cst.ImportStar):
                    continue  # libcst records nothing for a star import
                for alias in stmt.names:
                    target = alias.asname.name if alias.asname is not None else alias.name
                    if not isinstance(target, (cst.Name, cst.Attribute)):
                        continue
                    for recorded in _dotted_names(target):
                        assignment = ImportAssignment(recorded, None, stmt, 0, target)  # type: ignore[arg-type]
                        self._records.setdefault(recorded, []).append(assignment)
        return self._records

    # --- the proof per head -----------------------------------------------------------------------
    def _is_eligible(self, head: str) -> bool:
        known = self._eligible.get(head)
        if known is None:
            known = self._eligible[head] = self._prove(head)
        return known

    def _prove(self, head: str) -> bool:
        if head.startswith("__") and not head.endswith("__"):
            return False  # a private name is mangled inside classes: the symbol table hides it
        if head not in self._import_records():
            return False
        facts = self._head_facts().get(head)
        if facts is None or facts.odd or not facts.last_import_line:
            return False
        if any(line <= facts.last_import_line for line in facts.name_lines):
            return False  # a use at module level before the import does not see it
        table = self._symbol_table()
        return table is not None and _bound_only_by_module_imports(table, head)

    def _symbol_table(self) -> symtable.SymbolTable | None:
        if self._table is None:
            self._table = quietly_parsed(lambda: symtable.symtable(self.source, "<module>", "exec"))
        return self._table

    def _head_facts(self) -> dict[str, _HeadFacts]:
        """Per import head, from one walk of CPython's AST of the text ({} if CPython rejects it)."""
        if self._heads is None:
            heads = {name.split(".", 1)[0] for name in self._import_records()}
            tree = self._ast_tree()
            self._heads = _collect_head_facts(tree, heads) if tree is not None else {}
        return self._heads

    def _ast_tree(self) -> ast.Module | None:
        if self._ast is False:
            if self._syntax is not None:
                self._ast = self._syntax(self.source)
            else:
                self._ast = quietly_parsed(lambda: ast.parse(self.source))
        return self._ast  # type: ignore[return-value]

    def ast_def(self, node: cst.FunctionDef) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """CPython's node for `node`, a def of the module at its top or in the body of a def or class
        there (any depth of defs and classes); None for any other (a def inside an `if`, a module
        CPython rejects, a block whose statements do not pair up)."""
        if self._defs is None:
            tree = self._ast_tree()
            self._defs = {}
            if tree is not None:
                _pair_defs(self.module.body, tree.body, self._defs, self._classes)
        return self._defs.get(id(node))

    def statement_text(self, node: cst.FunctionDef | cst.ClassDef) -> str | None:
        """The source lines of a def or class of the module (decorators included, and everything below
        it), paired as :meth:`ast_def` pairs defs; None where it is not paired or the text cannot be cut
        by lines as CPython numbers them. A superset of what the node's own code holds (a line may
        also hold a neighbour's `;` statement): a test of "no word in it" on it is safe."""
        if "\r" in self.source:
            return None
        self.ast_def(node)  # pairs the defs and the classes
        found = self._defs.get(id(node)) if self._defs is not None else None
        stmt = found if found is not None else self._classes.get(id(node))
        if stmt is None:
            return None
        if self._lines is None:
            self._lines = self.source.split("\n")
        first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
        return "\n".join(self._lines[first - 1 : stmt.end_lineno])

    def top_level_texts(self) -> dict[int, str] | None:
        """id(statement) -> its source lines (decorators included), for each compound statement at the
        top of the module; None where the text cannot be cut by lines as CPython numbers them."""
        tree = self._ast_tree()
        if tree is None or "\r" in self.source:
            return None
        compound = [stmt for stmt in self.module.body if isinstance(stmt, cst.BaseCompoundStatement)]
        spans = [stmt for stmt in tree.body if isinstance(stmt, _COMPOUND_AST)]
        if len(compound) != len(spans):
            return None
        lines = self.source.split("\n")
        texts = {}
        for node, stmt in zip(compound, spans, strict=True):
            first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
            texts[id(node)] = "\n".join(lines[first - 1 : stmt.end_lineno])
        return texts


def _pair_defs(
    body: Sequence[cst.CSTNode],
    stmts: list[ast.stmt],
    found: dict[int, ast.FunctionDef | ast.AsyncFunctionDef],
    classes: dict[int, ast.ClassDef] | None = None,
) -> None:
    """id(libcst def) -> CPython def, for the defs of one block and, recursively, of the bodies of its
    defs and classes (and id(libcst class) -> CPython class into `classes`). The compound statements
    of a block come in the same order in both trees; a block where their count or a kind or name
    differs is left out, with everything below it."""
    compound = [node for node in body if isinstance(node, cst.BaseCompoundStatement)]
    spans = [stmt for stmt in stmts if isinstance(stmt, _COMPOUND_AST)]
    if len(compound) != len(spans) or not all(map(_same_def, compound, spans)):
        return
    for node, stmt in zip(compound, spans, strict=True):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and isinstance(node.body, cst.IndentedBlock):
            if isinstance(node, cst.FunctionDef):
                found[id(node)] = stmt  # type: ignore[assignment]
            elif classes is not None:
                classes[id(node)] = stmt  # type: ignore[assignment]
            _pair_defs(node.body.body, stmt.body, found, classes)  # type: ignore[attr-defined]
        elif isinstance(node, cst.FunctionDef):
            found[id(node)] = stmt  # type: ignore[assignment]  # a one-line def: no block below
        elif isinstance(node, cst.ClassDef) and classes is not None:
            classes[id(node)] = stmt  # type: ignore[assignment]


def _same_def(node: cst.CSTNode, stmt: ast.stmt) -> bool:
    """Whether a paired libcst and CPython compound statement are the same def or class (any other
    compound statement pairs with any other: nothing below one is paired)."""
    if isinstance(node, cst.FunctionDef):
        kind = ast.AsyncFunctionDef if node.asynchronous is not None else ast.FunctionDef
        return type(stmt) is kind and stmt.name == node.name.value
    if isinstance(node, cst.ClassDef):
        return isinstance(stmt, ast.ClassDef) and stmt.name == node.name.value
    return not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def quietly_parsed(parse: Callable[[], _Parsed]) -> _Parsed | None:
    """CPython's parse of the module's text (an AST or a symbol table); None where it rejects it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc.: the codemods report nothing
            return parse()
    except (SyntaxError, ValueError):
        return None


def _collect_head_facts(tree: ast.Module, heads: set[str]) -> dict[str, _HeadFacts]:
    facts = {head: _HeadFacts() for head in heads}
    top_imports: set[int] = set()
    for stmt in _ast_module_level_imports(tree.body):
        top_imports.add(id(stmt))
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".", 1)[0]
            if bound in facts and alias.name != "*":
                facts[bound].last_import_line = max(facts[bound].last_import_line, stmt.end_lineno or 0)
    for node in ast.walk(tree):
        for head in _odd_occurrences(node, top_imports):
            if head in facts:
                facts[head].odd = True
        for head in _unevaluated_names(node):
            if head in facts:
                facts[head].odd_name = True
        if isinstance(node, ast.Name) and node.id in facts:
            facts[node.id].name_lines.append(node.lineno)
    return facts


def _unevaluated_names(node: ast.AST) -> Iterator[str]:
    """Identifiers `node` holds as libcst Names that are not evaluated: the name after a dot and a
    keyword argument's name (no scope in libcst), a match keyword (an access the AST has no Name for).
    Only a question about such a Name itself is affected: a chain's first name is always evaluated."""
    if isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.keyword) and node.arg is not None:
        yield node.arg
    elif isinstance(node, ast.MatchClass):
        yield from node.kwd_attrs


def _odd_occurrences(node: ast.AST, top_imports: set[int]) -> Iterator[str]:
    """Identifiers in places where libcst gives no node any scope (whatever is asked about them)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top_imports:
        for alias in node.names:
            yield from alias.name.split(".")
            if alias.asname:
                yield alias.asname
        if isinstance(node, ast.ImportFrom) and node.module:
            yield from node.module.split(".")
    elif isinstance(node, ast.Call) and node.args and _callee_name(node.func) in ("TypeVar", "NewType"):
        yield from (n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name))


def _callee_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _ast_module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, _SAME_SCOPE_AST + _TRY_STAR_AST):
            for name in ("body", "orelse", "finalbody"):
                yield from _ast_module_level_imports(getattr(stmt, name, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _ast_module_level_imports(handler.body)
            for case in getattr(stmt, "cases", []):
                yield from _ast_module_level_imports(case.body)


def iter_imports(module: cst.Module, into_scopes: bool = True) -> Iterator[cst.Import | cst.ImportFrom]:
    """Every import statement of `module`, in any block, in source order (the order a visitor meets
    them); without `into_scopes`, only those in the module's own scope (not in a def or class).
    Imports are statements, so only statement lists are walked, never an expression: a fraction of a
    visitor's pass over every node."""
    stack: list[Iterator[Any]] = [iter(module.body)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        kind = _statement_kind(type(node))
        if kind == _IMPORT:
            yield node
        elif kind == _SCOPE and not into_scopes:
            continue
        elif kind == _LINE_OR_BLOCK:
            stack.append(iter(node.body))
        else:  # a compound statement or one of its clauses (else, except, finally, case)
            stack.append(iter(_clauses(node)))


_IMPORT, _SCOPE, _LINE_OR_BLOCK, _OTHER = range(4)


@functools.cache
def _statement_kind(kind: type) -> int:
    """iter_imports' isinstance tests, once per node type (ABC checks per statement were most of it)."""
    if issubclass(kind, (cst.Import, cst.ImportFrom)):
        return _IMPORT
    if issubclass(kind, _SCOPE_CST):
        return _SCOPE
    if issubclass(kind, (cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.IndentedBlock)):
        return _LINE_OR_BLOCK
    return _OTHER


def statement_parts(node: cst.CSTNode) -> list[cst.CSTNode]:
    """What a compound statement, one of its clauses (else, except, finally, case) or a block holds
    that can hold statements, in source order: the only places a def, a class or an import can be
    (a simple statement line holds none: a lambda is no def)."""
    return _clauses(node)


def _clauses(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    for field_name in _CLAUSE_FIELDS:
        child = getattr(node, field_name, None)
        if child is None:
            continue
        if type(child) is tuple or type(child) is list or isinstance(child, (list, tuple)):
            found.extend(child)
        elif _is_node(type(child)):
            found.append(child)
    return found


@functools.cache
def _is_node(kind: type) -> bool:
    return issubclass(kind, cst.CSTNode)


# the fields of compound statements and their clauses that hold statements or further clauses, in
# source order (try: body, except, else, finally)
_CLAUSE_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


def _subtree_ids(node: cst.CSTNode) -> Iterator[int]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield id(current)
        stack.extend(current.children)


def _dotted_names(node: cst.Name | cst.Attribute) -> list[str]:
    """The names libcst's scope pass records for an import alias: `a.b.c`, `a.b`, `a`."""
    full = get_full_name_for_node(node)
    if full is None:
        return []
    parts = full.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


_BINDING_FLAGS = ("is_imported", "is_assigned", "is_parameter", "is_declared_global", "is_nonlocal")


def _bound_only_by_module_imports(table: symtable.SymbolTable, head: str) -> bool:
    """The module imports `head` and binds it in no other way; no nested scope binds or declares it."""
    try:
        top = table.lookup(head)
    except KeyError:
        return False
    if not top.is_imported() or top.is_assigned() or top.is_namespace():
        return False
    return not any(
        symbol.is_namespace() or any(getattr(symbol, flag)() for flag in _BINDING_FLAGS)
        for symbol in nested_symbols(table, head)
    )


def nested_symbols(table: symtable.SymbolTable, name: str) -> Iterator[symtable.Symbol]:
    """`name`'s symbol in each scope nested in `table` (defs, classes, lambdas, comprehensions, any
    depth) that knows it."""
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        stack.extend(child.get_children())
        try:
            symbol = child.lookup(name)
        except KeyError:
            continue
        yield symbol
