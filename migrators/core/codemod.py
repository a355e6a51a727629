"""The base of every upgrade's libcst transformer: rule bookkeeping and markers above statements."""

from __future__ import annotations

import ast
import functools
import re
import symtable
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar

import libcst as cst
from libcst.codemod import (
    Codemod,
    CodemodContext,
    ContextAwareTransformer,
    ContextAwareVisitor,
    VisitorBasedCodemodCommand,
)
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    MetadataWrapper,
    PositionProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
    ScopeProvider,
)

from migrators.core.bindings import ImportNames, iter_imports, nested_symbols, quietly_parsed
from migrators.core.lines import render, start_lines
from migrators.core.profile import Profile
from migrators.core.results import Change, marker_text, note_text
from migrators.core.tree import FileInfo
from migrators.core.versions import Versions
from migrators.core.walk import LightVisitor as LightVisitor  # the upgrades' visitors import it from here
from migrators.core.walk import has_attribute_hooks, traverse, visitor_hooks


def dotted(node: cst.CSTNode) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None (calls, subscripts, ...)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def can_lead(node: Any) -> bool:
    """A statement that owns leading lines: where a marker or note comment can be attached."""
    return _type_can_lead(type(node))


@functools.cache
def _type_can_lead(kind: type) -> bool:
    # asked twice per node of every traversal: an ABC isinstance check per node is slow, so the
    # answer is kept per node type (every node of a type has the same fields)
    return issubclass(kind, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) and any(
        "leading_lines" in getattr(klass, "__dataclass_fields__", {}) or "leading_lines" in vars(klass)
        for klass in kind.__mro__
    )


@functools.cache
def _type_is(kind: type, base: type) -> bool:
    """isinstance(node, base) asked of type(node) once per node type (an ABC check per node is slow)."""
    return issubclass(kind, base)


@functools.cache
def _transformable(kind: type) -> bool:
    """Whether migrators.core.walk.traverse makes every call libcst's traversal makes on a codemod of
    this class: one without matcher decorators and attribute hooks, whose attribute-hook entry points
    are MigrationCodemod's (which then do nothing: the traversal leaves those calls out)."""
    hooks = visitor_hooks(kind)
    return (
        hooks is not None
        and not has_attribute_hooks(hooks)
        and kind.on_visit_attribute is MigrationCodemod.on_visit_attribute
        and kind.on_leave_attribute is MigrationCodemod.on_leave_attribute
    )


class _WithoutMatcherSearch(ContextAwareTransformer):
    """ContextAwareTransformer's constructor minus libcst's search for matcher decorators, for a
    class that uses none: the search inspects every attribute of the instance, about 10 ms per
    construction here, more than a parse of a small file (a class with decorators keeps it)."""

    def __init__(self, context: CodemodContext) -> None:
        if visitor_hooks(type(self)) is None:
            super().__init__(context)
            return
        Codemod.__init__(self, context)
        cst.CSTTransformer.__init__(self)
        self._matchers = {}
        self._extra_visit_funcs = {}
        self._extra_leave_funcs = {}


try:  # libcst's gatherer of a module's leading imports (private: without it, the adder's own path)
    from libcst.codemod.visitors._add_imports import _GatherTopImportsBeforeStatements as _GatherTopImports
except ImportError:  # pragma: no cover - another libcst layout
    _GatherTopImports = None

_ABSENT = object()


class _WithoutMatcherSearchVisitor(ContextAwareVisitor):
    """ContextAwareVisitor's constructor minus the matcher-decorator search (see _WithoutMatcherSearch)."""

    def __init__(self, context: CodemodContext) -> None:
        Codemod.__init__(self, context)
        cst.CSTVisitor.__init__(self)
        self._matchers = {}
        self._extra_visit_funcs = {}
        self._extra_leave_funcs = {}


if _GatherTopImports is not None:

    class _LightTopImports(_GatherTopImports, _WithoutMatcherSearchVisitor):
        """libcst's leading-imports gatherer; the MRO puts the light constructor under its own."""


# the MRO puts _WithoutMatcherSearch between AddImportsVisitor and ContextAwareTransformer, so
# AddImportsVisitor's own set-up runs unchanged and calls the constructor above
class TopLevelAddImports(AddImportsVisitor, _WithoutMatcherSearch):
    """libcst's AddImportsVisitor, minus its walks through everything below the module's top level.

    It reads only the imports at the top of the module (a first pass over the whole tree that looks
    at the leading statements when it leaves the Module) and changes only top-level import lines and
    the Module: so the gathering pass gets the leading simple statements alone, and the traversal
    stops at every node that cannot be one of those. Same edits, without two walks over each
    function body (they were a fifth of the run on files that gain an import)."""

    def visit_Module(self, node: cst.Module) -> None:
        # the gatherer stops at the first top-level statement that is not an import line (after a
        # docstring): a compound statement always stops it, so what follows one is never read
        leading = []
        for stmt in node.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                break
            leading.append(stmt)
        if _GatherTopImports is None:
            super().visit_Module(node.with_changes(body=leading))
            return
        # libcst's own gatherer of the leading imports, built without its matcher-decorator search
        # (it has no decorators; the search was ~20 ms per file, most of what the adder cost) and
        # given the module directly: leave_Module is its only hook, so a walk would add nothing
        gatherer = _LightTopImports(self.context)
        gatherer.leave_Module(node.with_changes(body=leading))
        self._drop_present(gatherer)

    def _drop_present(self, gatherer: Any) -> None:
        """What AddImportsVisitor.visit_Module does with its gatherer's findings (libcst 1.x): keep
        the leading imports, and drop from the work every import they already make."""
        self.all_imports = gatherer.all_imports
        self.module_imports = self.module_imports - gatherer.module_imports
        for module, alias in gatherer.module_aliases.items():
            if self.module_aliases.get(module, _ABSENT) == alias:
                del self.module_aliases[module]
        for module, pairs in gatherer.alias_mapping.items():
            wanted = self.alias_mapping.get(module)
            for pair in pairs:
                if wanted is not None and pair in wanted:
                    wanted.remove(pair)
                    if not wanted:
                        del self.alias_mapping[module]
                        wanted = None
        for module, names in gatherer.object_mapping.items():
            if module not in self.module_mapping:
                continue
            remaining = set() if "*" in names else self.module_mapping[module] - names
            if remaining:
                self.module_mapping[module] = remaining
            else:
                del self.module_mapping[module]

    def on_visit(self, node: cst.CSTNode) -> bool:
        descend = super().on_visit(node)
        # below a top-level simple statement line only its Import/ImportFrom are left (on_leave
        # still runs for a node whose children are skipped)
        return descend and isinstance(node, (cst.Module, cst.SimpleStatementLine))


# the helper transforms CodemodCommand.transform_module runs after a codemod that scheduled them
# (the import adder in its top-level form: the same edits, see TopLevelAddImports)
_IMPORT_EDITS = (
    (AddImportsVisitor.CONTEXT_KEY, TopLevelAddImports),
    (RemoveImportsVisitor.CONTEXT_KEY, RemoveImportsVisitor),
)


_STANDARD_TRANSFORM = VisitorBasedCodemodCommand.transform_module
_STANDARD_TRAVERSAL = VisitorBasedCodemodCommand.transform_module_impl


class LazyMetadata(Mapping):
    """A codemod's view of one shared :class:`MetadataWrapper`: a provider is resolved on first use.

    libcst resolves every declared provider before the traversal; most files need only some of them
    (positions only where a change is recorded, scopes only where a rule asks), and the wrapper
    keeps what it resolved, so the upgrades that run on the same module share it."""

    def __init__(self, wrapper: MetadataWrapper, providers: Iterator[type] | set[type]):
        self._wrapper = wrapper
        self._providers = frozenset(providers)
        self._resolved: dict[type, Mapping] = {}

    def __getitem__(self, key: type) -> Mapping:
        found = self._resolved.get(key)
        if found is None:
            if key not in self._providers:
                raise KeyError(key)
            found = self._resolved[key] = self._wrapper.resolve(key)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._providers

    def __iter__(self):
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)


def import_heads(module: cst.Module) -> frozenset[str]:
    """Every name an import statement of `module` binds, in any block."""
    return frozenset(name for node in iter_imports(module) for name in _bound_by(node))


def import_aliases(module: cst.Module) -> set[str]:
    """Every name an import of `module` binds with `as` (a codemod's rule may see it under that name)."""
    return {
        alias.asname.name.value
        for node in iter_imports(module)
        if not isinstance(node.names, cst.ImportStar)
        for alias in node.names
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
    }


def _bound_by(node: cst.Import | cst.ImportFrom) -> list[str]:
    if isinstance(node.names, cst.ImportStar):
        return []  # libcst binds nothing for a star import
    names = []
    for alias in node.names:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            names.append(alias.asname.name.value)
        full = get_full_name_for_node(alias.name)
        if full:  # with or without `as` (a superset is safe: it only costs a scope lookup)
            names.append(full.split(".", 1)[0])
    return names


def modules_already_imported(context: CodemodContext, tree: cst.Module) -> bool:
    """Whether every import the codemod asked AddImportsVisitor for is a plain `import M` that the
    module's leading import block already has, as libcst's adder reads that block (after a docstring
    or `__strict__` line, one import statement per line up to the first other statement): the adder
    then adds nothing and changes nothing."""
    requests = context.scratch.get(AddImportsVisitor.CONTEXT_KEY, ())
    if not requests or any(r.obj_name is not None or r.alias is not None or r.relative for r in requests):
        return False
    present = set()
    for stmt in tree.body[1 if _starts_with_docstring_or_strict(tree) else 0 :]:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            break
        node = stmt.body[0]
        if isinstance(node, cst.Import):
            present.update(get_full_name_for_node(a.name) for a in node.names if a.asname is None)
        elif not isinstance(node, cst.ImportFrom):
            break
    return all(r.module_name in present for r in requests)


def _starts_with_docstring_or_strict(tree: cst.Module) -> bool:
    """libcst's adder never reads or inserts above a leading docstring or `__strict__ = ...` line."""
    if not tree.body or not isinstance(tree.body[0], cst.SimpleStatementLine) or len(tree.body[0].body) != 1:
        return False
    first = tree.body[0].body[0]
    if isinstance(first, cst.Expr):
        return isinstance(first.value, cst.SimpleString)
    return (
        isinstance(first, cst.Assign)
        and len(first.targets) == 1
        and isinstance(first.targets[0].target, cst.Name)
        and first.targets[0].target.value == "__strict__"
    )


def remove_lone_unused_import(context: CodemodContext, tree: cst.Module) -> cst.Module | None:
    """RemoveImportsVisitor's result for one requested `from M import N` standing alone on a top-level
    line of its own, when N occurs nowhere else in the module's text (so no scope, `__all__` or string
    annotation can use it): that line goes, as libcst drops a line whose only statement it removed.
    None for any other request: libcst's visitor (a deep copy and a scope analysis) decides."""
    requests = set(context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY, ()))
    if len(requests) != 1:
        return None
    module, name, alias = next(iter(requests))
    if name is None or alias is not None or module == "__future__":  # libcst never removes those
        return None
    found = [i for i, stmt in enumerate(tree.body) if _is_lone_import(stmt, module, name)]
    if len(found) != 1 or len(re.findall(rf"\b{re.escape(name)}\b", render(tree))) != 1:
        return None
    return tree.with_changes(body=[*tree.body[: found[0]], *tree.body[found[0] + 1 :]])


def module_imports_in_use(context: CodemodContext, tree: cst.Module) -> bool:
    """Whether RemoveImportsVisitor, asked only to remove `import M` lines (plain, undotted M, no
    alias), keeps them all, proved without its deep copy and scope analysis: every `import M` is in
    the module's own scope (none in a def or class, whose scope is another) and CPython's symbol table
    of the text shows M read from the module's scope somewhere (at module level, or in a def or class
    where M is global). libcst's scope analysis then gives each `import M` a reference and the remover
    keeps it. False: the remover decides."""
    requests = set(context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY, ()))
    if not requests or any(
        name is not None or alias is not None or "." in mod for mod, name, alias in requests
    ):
        return False
    modules = {mod for mod, _, _ in requests}

    def plain_imports(into_scopes: bool) -> int:
        return sum(
            1
            for node in iter_imports(tree, into_scopes)
            if isinstance(node, cst.Import)
            for alias in node.names
            if alias.asname is None and get_full_name_for_node(alias.name) in modules
        )

    if plain_imports(True) != plain_imports(False):
        return False
    table = quietly_parsed(lambda: symtable.symtable(render(tree), "<module>", "exec"))
    return table is not None and all(_read_from_module_scope(table, mod) for mod in modules)


def _read_from_module_scope(table: symtable.SymbolTable, name: str) -> bool:
    try:
        if table.lookup(name).is_referenced():
            return True
    except KeyError:
        pass
    return any(symbol.is_referenced() and symbol.is_global() for symbol in nested_symbols(table, name))


def _is_lone_import(stmt: cst.CSTNode, module: str, name: str) -> bool:
    """`from module import name` (no alias, not relative) as the only statement of a line."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    node = stmt.body[0]
    return (
        isinstance(node, cst.ImportFrom)
        and not node.relative
        and node.module is not None
        and get_full_name_for_node(node.module) == module
        and not isinstance(node.names, cst.ImportStar)
        and len(node.names) == 1
        and node.names[0].asname is None
        and isinstance(node.names[0].name, cst.Name)
        and node.names[0].name.value == name
    )


class MigrationCodemod(VisitorBasedCodemodCommand):
    """Base of every upgrade's transformer: rule bookkeeping and markers above statements.

    Subclasses call ``self.rewrote(rule, node, msg)`` when they change something,
    ``self.mark(rule, node, instruction)`` for an impossible case (a ``# MIGRATION-BLOCKER``
    comment on the line above the statement that contains ``node``) and
    ``self.note_above(rule, node, text)`` for an informational comment. Comments are attached to
    the statement's ``leading_lines``, so they can never land inside a string or after a
    backslash continuation, and an identical comment already there is not added twice.
    """

    DESCRIPTION = "sandbox migration codemod"
    # resolved lazily (see LazyMetadata): qualified_names asks ScopeProvider only where an import
    # can be involved; QualifiedNameProvider stays declared for subclasses that ask it directly
    METADATA_DEPENDENCIES: ClassVar[tuple] = (PositionProvider, QualifiedNameProvider, ScopeProvider)
    # Words every rule of the codemod starts from in the source (a name it looks for, as written at
    # the use or in its import). A top-level compound statement whose text holds none of them, nor a
    # name an import binds with `as`, can hold nothing the codemod changes: its hooks still run, but
    # the traversal does not descend into it. Empty: every statement is traversed.
    TRIGGER_WORDS: ClassVar[tuple[str, ...]] = ()

    def inert_body(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Whether no hook of the codemod can change or mark anything below the def's body block, judged
        on CPython's tree of the def (see :meth:`ast_def`): the traversal then does not descend into
        that block (the def's own hooks still run, on the def as it is). False: always descend."""
        return False

    def ast_def(self, node: cst.FunctionDef) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """CPython's tree of a def of the module being transformed (see ImportNames.ast_def); None where
        it is not known (then every question about it must be answered the slow way)."""
        names = self._import_names
        if names is None or names.module is not self._module_node:
            return None
        return names.ast_def(node)

    # Whether a codemod may skip a def or class its own test finds inert (see statement_text); tests
    # turn it off to prove that a skip never hides a change or a marker
    SKIP_INERT: ClassVar[bool] = True

    def statement_text(self, node: cst.FunctionDef | cst.ClassDef) -> str | None:
        """The source lines of a def or class of the module being transformed (see
        ImportNames.statement_text), for a codemod's test "nothing in it can concern me"; None where
        skipping is off or the text is not known (then the statement must be traversed)."""
        names = self._import_names
        if not self.SKIP_INERT or names is None or names.module is not self._module_node:
            return None
        return names.statement_text(node)

    def __init__(
        self,
        context: CodemodContext,
        state: Any = None,
        versions: Versions | None = None,
        info: FileInfo | None = None,
    ) -> None:
        self._hooks = visitor_hooks(type(self))
        if self._hooks is None:
            super().__init__(context)
        else:
            # libcst's constructor minus the matcher-decorator search (none here): that search
            # inspects every attribute of the instance, once per file and upgrade
            Codemod.__init__(self, context)
            self._extra_visit_funcs = {}
            self._extra_leave_funcs = {}
            self._matchers = {}
        self.state = state
        self.versions = versions or Versions()
        self.info = info or FileInfo(rel=context.filename or "<string>", is_test=True, is_conftest=False)
        self.changes: list[Change] = []
        self._stmt_stack: list[cst.CSTNode] = []
        self._pending: dict[int, list[tuple[str, Change]]] = {}
        self._orphans: list[tuple[str, Change]] = []  # comments of removed top-level statements
        self._left: set[int] = set()  # statements already left: nothing would flush their comments
        self._module_node: cst.Module | None = None  # the module being transformed (import heads)
        self._untouched: set[int] = set()  # top-level statements the traversal does not descend into
        self._heads: frozenset[str] | None = None
        self._import_names: ImportNames | None = None  # qualified names without a scope analysis
        # changes whose line is found after the traversal, in one pass for all (see start_lines)
        self._unplaced: list[tuple[Change, cst.CSTNode]] | None = None

    def transform_shared(self, wrapper: MetadataWrapper, names: ImportNames | None = None) -> cst.Module:
        """Transform `wrapper.module` with metadata resolved lazily on the (shared) wrapper.

        The same result as :meth:`transform_module` on that module: the traversal and the metadata
        are the same, only which providers get computed, and by whom, differs. A codemod that wants
        libcst's full protocol (several passes) gets it. `names`: the module's :class:`ImportNames`
        (shared by the upgrades that run on the same wrapper), which spares most scope analyses."""
        if self.should_allow_multiple_passes() or type(self).transform_module is not _STANDARD_TRANSFORM:
            return self.transform_module(wrapper.module)
        self._import_names = names if names is not None and names.module is wrapper.module else None
        old_context = self.context
        self.context = replace(old_context, wrapper=wrapper)
        self.metadata = LazyMetadata(wrapper, self.get_inherited_dependencies())
        self._unplaced = []
        try:
            tree = self._traverse(wrapper.module)
            self._place_changes(wrapper)
        finally:
            self.metadata = {}
            self._import_names = None
            self._unplaced = None
            self.context = replace(self.context, wrapper=old_context.wrapper)
        # what CodemodCommand.transform_module runs after the traversal: scheduled import edits
        for key, transform in _IMPORT_EDITS:
            if key in self.context.scratch:
                tree = self._run_import_edit(transform, tree)
        return tree

    def _traverse(self, module: cst.Module) -> cst.Module:
        """transform_module_impl: libcst's `module.visit(self)`, or the same traversal without libcst's
        per-field dispatch where this class allows it (see migrators.core.walk.traverse)."""
        if type(self).transform_module_impl is _STANDARD_TRAVERSAL and _transformable(type(self)):
            return traverse(module, self)
        return self.transform_module_impl(module)

    def _run_import_edit(self, transform: type[Codemod], tree: cst.Module) -> cst.Module:
        if transform is TopLevelAddImports and modules_already_imported(self.context, tree):
            return tree  # libcst's adder would change nothing (its set-up alone costs ~10 ms)
        if transform is RemoveImportsVisitor:
            removed = remove_lone_unused_import(self.context, tree)
            if removed is not None:
                return removed
            if module_imports_in_use(self.context, tree):
                return tree  # libcst's remover would keep every import asked about
        if transform.get_inherited_dependencies():
            return self._instantiate_and_run(transform, tree)
        # no metadata (AddImportsVisitor): libcst's defensive deep copy of the module, made only
        # so that metadata keyed by node identity is sound, buys nothing here
        inst = transform(self.context)
        wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
        with inst.resolve(wrapper):
            inst.context = replace(inst.context, wrapper=wrapper)
            return inst.transform_module_impl(tree)

    def _place_changes(self, wrapper: MetadataWrapper) -> None:
        """Give the changes recorded during the traversal their lines: PositionProvider's start line
        of each recorded node in the module traversed, found in one partial render (timed as
        metadata:lines where the wrapper keeps a profile)."""
        if not self._unplaced:
            return
        timer = getattr(wrapper, "profile", None) or Profile()  # as the runner does without a profile
        with timer.timed("metadata:lines"):
            lines = start_lines(wrapper.module, [node for _, node in self._unplaced])
        for change, node in self._unplaced:
            change.line = lines.get(id(node), 0)  # 0: not in the module (the provider has no position)

    # bookkeeping
    def line_of(self, node: cst.CSTNode) -> int:
        try:
            return self.get_metadata(PositionProvider, node).start.line
        except KeyError:
            return 0

    def _change(self, rule: str, node: cst.CSTNode, message: str, kind: str) -> Change:
        """A change at `node`'s line: found after the traversal in a shared run, else now."""
        if self._unplaced is None:
            return Change(rule, self.line_of(node), message, kind)
        change = Change(rule, 0, message, kind)
        self._unplaced.append((change, node))
        return change

    def rewrote(self, rule: str, node: cst.CSTNode, message: str) -> None:
        self.changes.append(self._change(rule, node, message, "rewrite"))

    def info_only(self, rule: str, node: cst.CSTNode, message: str) -> None:
        self.changes.append(self._change(rule, node, message, "info"))

    def mark(self, rule: str, node: cst.CSTNode, instruction: str) -> None:
        self._attach(node, marker_text(rule, instruction), self._change(rule, node, instruction, "marker"))

    def note_above(self, rule: str, node: cst.CSTNode, text: str) -> None:
        self._attach(node, note_text(text), self._change(rule, node, text, "note"))

    def _attach(self, node: cst.CSTNode, comment: str, change: Change) -> None:
        target = self._statement_for(node)
        if id(target) in self._left:
            # marked after it was left (from an enclosing leave_*): the innermost open statement
            # carries it, or the module header; a comment kept for it would never be written
            if self._stmt_stack:
                target = self._stmt_stack[-1]
            else:
                self._orphans.append((comment, change))
                return
        self._pending.setdefault(id(target), []).append((comment, change))

    def _statement_for(self, node: cst.CSTNode) -> cst.CSTNode:
        if can_lead(node):
            return node
        # innermost statement on the stack (we are visiting inside it)
        if self._stmt_stack:
            return self._stmt_stack[-1]
        return node

    def qualified_names(self, node: cst.CSTNode, local: bool = False) -> set[str]:
        """Qualified names of `node` that come from an import (a local `class pytest` does not count).

        What QualifiedNameProvider gives, computed as it does (the node's scope, asked for the node's
        full name) without its pass over every node, and only where an import can be behind it: a
        name comes from an import only through an import binding the first part of its full name,
        so a node whose first part no import of the module binds (`self.x`, `foo().y`) has none and
        costs no scope analysis at all; where the module binds that first part only by module-level
        imports (see :class:`ImportNames`) they give the answer, and no scope analysis is run either.

        `node`: an expression of the module being transformed (a call's function, a decorator, an
        annotation, an argument's value): a node the traversal made is not in the scope analysis."""
        if not local:
            full = get_full_name_for_node(node)
            if full is None or full.split(".", 1)[0] not in self._import_heads():
                return set()
            if self._import_names is not None:
                found = self._import_names.names_for(node, full)
                if found is not None:
                    return found
        try:
            scope = self.get_metadata(ScopeProvider, node, None)
        except KeyError:
            return set()
        found = scope.get_qualified_names_for(node) if scope is not None else set()
        return {q.name for q in found if local or q.source == QualifiedNameSource.IMPORT}

    def _import_heads(self) -> frozenset[str]:
        """Names the module's imports bind (the first part of `import a.b`), at any depth."""
        if self._heads is None:
            self._heads = import_heads(self._module_node) if self._module_node is not None else None
        return self._heads if self._heads is not None else frozenset()

    # statement stack; markers flushed into leading_lines when the statement is left
    def on_visit(self, node: cst.CSTNode) -> bool:
        if _type_is(type(node), cst.Module):
            self._module_node, self._heads, self._left = node, None, set()
            self._untouched = self._statements_without_triggers(node)
            self._module_first = node.body[0] if node.body else None
            self._header_comments = {line.comment.value for line in node.header if line.comment is not None}
        if can_lead(node):
            self._stmt_stack.append(node)
        if self._hooks is None:
            return super().on_visit(node)
        name = "visit_" + type(node).__name__
        descend = name not in self._hooks or getattr(self, name)(node) is not False
        if descend and _type_is(type(node), cst.FunctionDef):
            fn = self.ast_def(node)
            if fn is not None and self.inert_body(fn):
                self._untouched.add(id(node.body))  # its hooks run, nothing below it is visited
        return descend and id(node) not in self._untouched

    def _statements_without_triggers(self, module: cst.Module) -> set[int]:
        """The top-level compound statements whose source holds none of TRIGGER_WORDS and no name an
        import binds with `as` (see TRIGGER_WORDS)."""
        names = self._import_names
        if not self.TRIGGER_WORDS or self._hooks is None or names is None or names.module is not module:
            return set()
        texts = names.top_level_texts()
        if texts is None:
            return set()
        words = {*self.TRIGGER_WORDS, *import_aliases(module)}
        return {key for key, text in texts.items() if not any(word in text for word in words)}

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        if self._hooks is None:
            result = super().on_leave(original_node, updated_node)
        else:
            name = "leave_" + type(original_node).__name__
            result = getattr(self, name)(original_node, updated_node) if name in self._hooks else updated_node
        if can_lead(original_node):
            if self._stmt_stack and self._stmt_stack[-1] is original_node:
                self._stmt_stack.pop()
            self._left.add(id(original_node))
            pending = self._pending.pop(id(original_node), None)
            if pending:
                if original_node is getattr(self, "_module_first", None):
                    # comments above a module's first statement live in Module.header
                    pending = [
                        (c, ch)
                        for c, ch in pending
                        if c not in self._header_comments or self.changes.append(ch)
                    ]
                result = self._flush(result, pending) if pending else result
        if _type_is(type(original_node), cst.Module):
            # whatever is still pending was attached to a node the traversal never left (not in
            # this tree): the header keeps it rather than dropping it silently
            for stranded in self._pending.values():
                self._orphans.extend(stranded)
            self._pending = {}
            if self._orphans:
                result = self._with_header(result, self._orphans)
                self._orphans = []
        return result

    def _with_header(self, module: cst.Module, pending: list[tuple[str, Change]]) -> cst.Module:
        existing = {line.comment.value for line in module.header if line.comment is not None}
        lines = list(module.header)
        for comment, change in pending:
            if comment not in existing:
                lines.append(cst.EmptyLine(whitespace=cst.SimpleWhitespace(""), comment=cst.Comment(comment)))
                existing.add(comment)
            self.changes.append(change)
        return module.with_changes(header=lines)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if self._hooks is None:
            super().on_visit_attribute(node, attribute)
            return
        if not has_attribute_hooks(self._hooks):
            return  # asked for every child field of every node: most codemods define no such hook
        name = f"visit_{type(node).__name__}_{attribute}"
        if name in self._hooks:
            getattr(self, name)(node)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        if self._hooks is None:
            super().on_leave_attribute(original_node, attribute)
            return
        if not has_attribute_hooks(self._hooks):
            return
        name = f"leave_{type(original_node).__name__}_{attribute}"
        if name in self._hooks:
            getattr(self, name)(original_node)

    def _flush(self, result, pending: list[tuple[str, Change]]):
        target = result
        if isinstance(result, cst.FlattenSentinel):
            nodes = list(result.nodes)
            if nodes and can_lead(nodes[0]):
                nodes[0] = self._with_comments(nodes[0], pending)
                return cst.FlattenSentinel(nodes)
            target = None
        elif isinstance(result, cst.RemovalSentinel) or not can_lead(result):
            target = None
        if target is None:
            # the statement went away: hand the comments to the enclosing statement
            if self._stmt_stack:
                self._pending.setdefault(id(self._stmt_stack[-1]), []).extend(pending)
            else:  # a removed top-level statement: the module header keeps them (never dropped silently)
                self._orphans.extend(pending)
            return result
        return self._with_comments(target, pending)

    def _with_comments(self, stmt, pending: list[tuple[str, Change]]):
        existing = {line.comment.value for line in stmt.leading_lines if line.comment is not None}
        lines = list(stmt.leading_lines)
        for comment, change in pending:
            if comment not in existing:
                lines.append(
                    cst.EmptyLine(
                        indent=True, whitespace=cst.SimpleWhitespace(""), comment=cst.Comment(comment)
                    )
                )
                existing.add(comment)
            self.changes.append(change)
        return stmt.with_changes(leading_lines=lines)
