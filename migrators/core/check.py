"""The post-migrate check: what the migrated tree must not contain, whatever the rules did.

Run by the runner after every upgrade (and its sweep) on each unit of the tree:

* names made undefined by the change: the undefined names of each rewritten module (pyflakes-level,
  from :mod:`symtable`) compared before and after — a value moved into a scope where it does not
  exist breaks at run time and often passes mocked tests; and module names read at import above the
  line binding them (:func:`early_reads`), which symtable cannot tell;
* whatever each upgrade's :class:`~migrators.core.upgrade.Sweeper` reports on the final text (calls
  the new library's signatures reject, old-API shapes left without a marker).

A failed check makes ``python -m migrators`` exit 1 and sets ``"check": {"ok": false}`` in the
JSON report, each failure with file:line and the next step.
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
from collections.abc import Callable, Sequence

from migrators.core.results import CheckFailure, CheckResult, FileResult
from migrators.core.upgrade import Sweeper

_MODULE_DUNDERS = {
    "__file__",
    "__name__",
    "__doc__",
    "__spec__",
    "__loader__",
    "__package__",
    "__path__",
    "__builtins__",
    "__annotations__",
}
_BUILTINS = frozenset(dir(builtins)) | _MODULE_DUNDERS
_STAR_IMPORT = re.compile(r"^\s*from\s+\S+\s+import\s+\*", re.M)
Syntax = Callable[[str], ast.Module | None]  # CPython's tree of a text, None where it rejects it


def undefined_names(source: str, filename: str = "<module>") -> dict[str, int]:
    """`scope:name` -> 1 for every name read that no enclosing scope, import or builtin defines.

    A module with a star import is skipped: its names cannot be known statically (pyflakes only
    says "may be undefined" there)."""
    if _STAR_IMPORT.search(source):
        return {}
    try:
        top = symtable.symtable(source, filename, "exec")
    except SyntaxError:
        return {}
    module_defined = _module_names(top)
    found: dict[str, int] = {}
    _walk(top, module_defined, found)
    return found


def _module_names(top: symtable.SymbolTable) -> set[str]:
    names = {
        s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    stack = list(top.get_children())
    while stack:  # `global x; x = ...` inside a function defines a module name too
        table = stack.pop()
        stack.extend(table.get_children())
        names |= {s.get_name() for s in table.get_symbols() if s.is_declared_global() and s.is_assigned()}
    return names


def _walk(table: symtable.SymbolTable, module_defined: set[str], found: dict[str, int]) -> None:
    is_module = table.get_type() == "module"
    for sym in table.get_symbols():
        if not sym.is_referenced():
            continue
        name = sym.get_name()
        if is_module:
            unresolved = not (sym.is_assigned() or sym.is_imported() or sym.is_namespace())
        else:
            unresolved = sym.is_global()
        if unresolved and name not in module_defined and name not in _BUILTINS:
            found[f"{table.get_name()}:{name}"] = table.get_lineno()
    for child in table.get_children():
        _walk(child, module_defined, found)


def _first_read(source: str, name: str, after_line: int) -> int:
    """Line of the first read of `name` at or after `after_line` (the scope's start)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return after_line
    lines = [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) and n.lineno >= after_line
    ]
    return min(lines, default=after_line)


def early_reads(source: str, syntax: Syntax | None = None) -> dict[str, int]:
    """Module names read at import before the module binds them: name -> line of the first such read.

    What symtable cannot tell (it knows that a module binds a name, not where): `client = Client(
    database=BUCKET)` above `BUCKET = "b"` is a NameError when the module is imported. Only code that
    runs at import is read (statements at module level, decorators, defaults, class bases), not
    function bodies; a name bound anywhere at module level and read above its first binding counts."""
    if _STAR_IMPORT.search(source):
        return {}
    if syntax is not None:
        tree = syntax(source)
        if tree is None:
            return {}
    else:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return {}
    statements = tree.body
    module_bound = set().union(*(_binds(stmt) for stmt in statements)) if statements else set()
    bound: set[str] = set()
    found: dict[str, int] = {}
    for stmt in statements:
        for name in _import_time_reads(stmt):
            if name.id in module_bound and name.id not in bound and name.id not in found:
                found[name.id] = name.lineno
        bound |= _binds(stmt)
    return found


def _binds(stmt: ast.stmt) -> set[str]:
    """Names a module-level statement binds (outside the functions and classes it defines)."""
    names: set[str] = set()
    for node in _import_time_nodes(stmt):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _import_time_reads(stmt: ast.stmt) -> list[ast.Name]:
    local: set[str] = set()  # comprehension variables: their own scope
    nodes = list(_import_time_nodes(stmt))
    for node in nodes:
        if isinstance(node, ast.comprehension):
            local |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return [n for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local]


def _import_time_nodes(stmt: ast.stmt):
    """The nodes of `stmt` evaluated when the module is imported: not the bodies of the functions,
    lambdas and classes it defines (a class body runs, but in its own namespace), nor annotations."""
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(node.decorator_list)
            stack.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None)
        elif isinstance(node, ast.ClassDef):
            stack.extend((*node.decorator_list, *node.bases, *(k.value for k in node.keywords)))
        elif isinstance(node, ast.Lambda):
            stack.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None)
        elif isinstance(node, ast.AnnAssign):
            stack.extend(n for n in (node.target, node.value) if n is not None)
        else:
            stack.extend(ast.iter_child_nodes(node))


def new_early_reads(rel: str, before: str, after: str, syntax: Syntax | None = None) -> list[CheckFailure]:
    """Reads at import of a name bound only further down that the change introduced."""
    now = early_reads(after, syntax)
    if not now:
        return []
    old = early_reads(before, syntax)
    return [
        CheckFailure(
            rel,
            line,
            "undefined-name",
            f"the migration reads `{name}` at module level above the line that binds it (a NameError "
            "when the module is imported)",
            f"move the binding of `{name}` above its first use, or give the value where it is read",
        )
        for name, line in sorted(now.items(), key=lambda item: item[1])
        if name not in old
    ]


def new_undefined(rel: str, before: str, after: str, syntax: Syntax | None = None) -> list[CheckFailure]:
    """Names undefined after the change that were defined before it (or did not exist). `syntax`:
    the unit's CPython parse of a text (ProjectTree.syntax_of), shared with the sweep."""
    failures = new_early_reads(rel, before, after, syntax)
    now = undefined_names(after, rel)
    if not now:
        return failures  # nothing undefined after: the text before need not be analysed
    old = undefined_names(before, rel)
    for key, scope_line in sorted(now.items()):
        if key in old:
            continue
        scope, name = key.split(":", 1)
        line = _first_read(after, name, scope_line)
        where = "module level" if scope == "top" else f"{scope}()"
        failures.append(
            CheckFailure(
                rel,
                line,
                "undefined-name",
                f"the migration made `{name}` undefined in {where}",
                f"define `{name}` in that scope (a parameter, a module constant or an environment read) "
                "or move the value back where it is defined",
            )
        )
    return failures


def check_file(
    fr: FileResult, sweepers: Sequence[Sweeper], syntax: Syntax | None = None
) -> list[CheckFailure]:
    """The check of one file's result (a parallel run checks each file in the worker that made it)."""
    if not fr.path.endswith(".py") or fr.status == "error":
        return []
    failures: list[CheckFailure] = []
    final = fr.new if fr.changed else fr.original
    if fr.changed:
        failures.extend(new_undefined(fr.path, fr.original, fr.new, syntax))
    for sweeper in sweepers:
        if final and sweeper.precheck(fr.path, final):
            failures.extend(sweeper.check(fr.path, final))
    return failures


def check_files(files: Sequence[FileResult], sweepers: Sequence[Sweeper]) -> CheckResult:
    """The check over one unit's results (paths relative to the unit)."""
    result = CheckResult()
    for fr in files:
        result.extend(check_file(fr, sweepers))
    return result
