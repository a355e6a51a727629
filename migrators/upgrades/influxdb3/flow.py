"""Per-service data flow of the influxdb3 upgrade: where the Flux of a query call is built.

Computed once per upgrade run over every Python file of the tree (the service and its shared paths),
with the standard ``ast`` module (a fraction of a libcst parse), before the per-file transforms:

* **builders** — functions whose body is ``return <Flux string expression>`` (an f-string, a
  concatenation, a literal), in the module of the call or in another one, that some query call of
  the service provably receives (``api.query(build(x))``, ``q = mod.build(x); api.query(q)``,
  also through ``asyncio.to_thread``/``functools.partial``/``run_in_executor``);
* **wrappers** — functions or methods of the service that pass one of their parameters straight to a
  v2 query call and return its result (``def query(self, flux): return self.query_api.query(flux)``):
  their callers' Flux is translated where the callers build it.

The codemod translates a used builder's Flux in place (value holes become ``$name`` parameters) and
binds the parameters at each call site, substituting the call's arguments for the builder's
parameters, so no value moves into a scope where its name is undefined.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from migrators.core.tree import ProjectTree, module_name
from migrators.upgrades.influxdb3.templates import unfilled

# Flux text: a pipeline, or a call of the schema package (`schema.tagValues(bucket: ...)` has no pipe)
FLUX_HINT = re.compile(
    r"from\(\s*bucket|\|>|\bschema\.(?:tagValues|tagKeys|measurements|measurementTagValues|fieldKeys)\("
)
QUERY_NAMES = {"query", "query_data_frame", "query_stream", "query_csv", "query_raw"}
EXECUTORS = {"to_thread", "partial", "run_in_executor"}


def visited_by_codemod(text: str) -> bool:
    """The upgrade's pre-check (Influxdb3Upgrade.precheck): only such files are rewritten, so only their
    calls may decide that a builder or a template elsewhere is translated."""
    return (
        "influxdb_client" in text
        or "from(bucket" in text
        or "influxdata/influxdb/schema" in text
        or (("query_api" in text or "write_api" in text or "delete_api" in text) and "influx" in text.lower())
    )


@dataclass(frozen=True)
class Builder:
    """A function returning Flux: enough to translate it at a call site in another module."""

    rel: str
    module: str  # dotted module name of `rel`
    name: str
    params: tuple[str, ...]  # positional-or-keyword parameter names, in order
    defaults: dict[str, str]  # parameter -> source of a constant default
    returned: str  # source of the returned string expression
    globals: frozenset[str]  # names bound at the builder's module level
    constant: bool = False  # a module constant (`QUERY = "from(bucket: ...)"`), not a function


@dataclass(frozen=True)
class Wrapper:
    """A service function/method forwarding its parameter `param` (at `index`) to a v2 query call."""

    rel: str
    name: str
    param: str
    index: int  # position among the call's positional arguments (self excluded)


@dataclass
class ServiceFlow:
    builders: dict[str, list[Builder]] = field(default_factory=dict)  # function name -> candidates
    used: set[tuple[str, str]] = field(default_factory=set)  # (rel, name) of builders a query receives
    wrappers: dict[str, Wrapper] = field(default_factory=dict)  # name -> wrapper (unique names only)
    # functions that send one of their parameters to a v2 query call but handle the result themselves
    # (`rows.append(dict(record.values))`, `yield from table.records`): not rewritten as wrappers;
    # the Flux their callers build is marked where it is built
    consumers: set[str] = field(default_factory=set)
    factories: set[str] = field(default_factory=set)  # functions returning a query API (`_query_api()`)
    # functions that run their parameter and return the records as dicts (`rows.append(dict(record.values))`,
    # see .rows): rewritten with their callers' Flux and the callers' row reads
    row_wrappers: dict[str, Wrapper] = field(default_factory=dict)
    # template constants (`Q = 'from(bucket: "{bucket}") ...'`) every use of which fills them for a query
    # call (`Q.format(...)`, `Q % {...}`): translated where written, see .templates
    templates: set[tuple[str, str]] = field(default_factory=set)
    # builders whose body is `return T.format(...)` of a template T of their module -> id of that T node
    template_fills: dict[tuple[str, str], int] = field(default_factory=dict)

    def builder(self, name: str, module: str | None, rel: str) -> Builder | None:
        """The builder `name` of dotted `module` (None: of the module `rel` itself)."""
        candidates = self.builders.get(name, [])
        if module is not None:
            candidates = [b for b in candidates if b.module == module or b.module.endswith("." + module)]
        else:  # not imported: a name of the module itself
            candidates = [b for b in candidates if b.rel == rel]
        if len(candidates) > 1:  # the same name in several services of a monorepo: the nearest one
            best = max(len(_common_prefix(b.rel, rel)) for b in candidates)
            candidates = [b for b in candidates if len(_common_prefix(b.rel, rel)) == best]
        return candidates[0] if len(candidates) == 1 else None


def _common_prefix(a: str, b: str) -> str:
    parts = []
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        parts.append(x)
    return "/".join(parts)


def analyze_flow(tree: ProjectTree) -> ServiceFlow:
    flow = ServiceFlow()
    parsed: list[tuple[str, ast.Module, str]] = []
    api_names: dict[str, frozenset[str]] = {}  # rel -> query_api_names of its module, worked out once
    for rel in tree.python_files():
        text = tree.read(rel)
        # only files that hold a query API or Flux are parsed (a call site elsewhere that passes a
        # builder's result to a wrapper is not followed: the builder then stays Flux, and the call is marked)
        has_flux = "from(bucket" in text or "|>" in text or "schema." in text
        if "query_api" not in text and not has_flux:
            continue
        module = tree.syntax(rel)
        if module is None:
            continue
        parsed.append((rel, module, text))
        if has_flux:
            _collect_builders(rel, module, _Source(text), flow)
        api_names[rel] = query_api_names(module)
        _collect_wrappers(rel, module, flow, api_names[rel])
    templates = _template_names(flow)
    callees = set(templates) | set(flow.wrappers) | set(flow.row_wrappers) | set(flow.consumers)
    done = {rel for rel, _, _ in parsed}
    for rel in tree.python_files():  # modules calling a wrapper or filling a template, without Flux
        text = tree.read(rel) if rel not in done else ""
        # every mention of a template counts (an unfilled read keeps it Flux); calls count only where
        # the codemod rewrites them, so other files are not parsed for them
        wanted = any(name in text for name in templates) or (
            any(name in text for name in callees) and visited_by_codemod(text)
        )
        module = tree.syntax(rel) if text and wanted else None
        if module is not None:
            parsed.append((rel, module, text))
    fills: set[int] = set()
    for rel, module, text in parsed:
        if visited_by_codemod(text):  # a use in a file the codemod skips would never be rewritten
            names = api_names[rel] if rel in api_names else query_api_names(module)
            _collect_uses(module, flow, fills, names)
    if templates:
        _usable_templates(parsed, flow, templates, fills)
    return flow


def _template_names(flow: ServiceFlow) -> set[str]:
    names = set()
    for name, builders in flow.builders.items():
        for b in builders:
            if b.constant and template_text(b) is not None:
                names.add(name)
    return names


def template_text(builder: Builder) -> str | None:
    """The text of a constant builder that is a template (placeholders, no f-string hole)."""
    try:
        value = ast.literal_eval("(" + builder.returned + ")")
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) and unfilled(value) is not None else None


def _usable_templates(parsed, flow: ServiceFlow, names: set[str], fills: set[int]) -> None:
    """A template is translated only when every reference to it in the service is a fill sent to a query."""
    refs: dict[tuple[str, str], list[int]] = {}
    poisoned: set[str] = set()  # a reference not resolved to one constant: none of that name is changed
    for rel, module, _ in parsed:
        imported, modules = _imports(module)
        defined = _module_globals(module)
        for node in ast.walk(module):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
                name, source = node.id, imported.get(node.id)
                if source is None and node.id not in defined:
                    poisoned.add(name)
                    continue
            elif isinstance(node, ast.Attribute) and node.attr in names:
                name = node.attr
                source = modules.get(node.value.id) if isinstance(node.value, ast.Name) else None
                if source is None:
                    poisoned.add(name)
                    continue
            else:
                continue
            builder = flow.builder(name, source, rel)
            if builder is None or not builder.constant:
                poisoned.add(name)
                continue
            refs.setdefault((builder.rel, name), []).append(id(node))
    for (rel, name), ids in refs.items():
        if name not in poisoned and all(i in fills for i in ids):
            flow.templates.add((rel, name))


def _imports(module: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """(local name -> dotted module it is imported from, local name -> dotted module it denotes):
    `from app.q import T` gives T -> app.q; `from app import q` and `import app.q as q` give q -> app.q.
    Relative imports lose their dots (builders are matched by module suffix)."""
    imported: dict[str, str] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            for alias in node.names:
                local = alias.asname or alias.name
                imported[local] = base
                modules[local] = f"{base}.{alias.name}".strip(".")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
    return imported, modules


def _module_globals(module: ast.Module) -> frozenset[str]:
    names: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


class _Source:
    """Source text with line offsets computed once (ast.get_source_segment splits it on every call)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0]
        for line in text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))

    def segment(self, node: ast.expr) -> str | None:
        if node.end_lineno is None or node.end_col_offset is None:
            return None
        # col offsets count UTF-8 bytes: the library handles lines that are not ASCII
        first, last = self.line(node.lineno), self.line(node.end_lineno)
        if not (first.isascii() and last.isascii()):
            return ast.get_source_segment(self.text, node)
        start = self.starts[node.lineno - 1] + node.col_offset
        return self.text[start : self.starts[node.end_lineno - 1] + node.end_col_offset]

    def line(self, number: int) -> str:
        return self.text[self.starts[number - 1] : self.starts[number]]


def _collect_builders(rel: str, module: ast.Module, source: _Source, flow: ServiceFlow) -> None:
    names = _module_globals(module)
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = source.segment(stmt.value)
            if value and FLUX_HINT.search(value) and isinstance(stmt.value, (ast.Constant, ast.JoinedStr)):
                name = stmt.targets[0].id
                constant = Builder(rel, module_name(rel), name, (), {}, value, names, constant=True)
                flow.builders.setdefault(name, []).append(constant)
            continue
        if not isinstance(stmt, ast.FunctionDef):
            continue
        body = [s for s in stmt.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
            continue
        returned = source.segment(body[0].value)
        base = _filled_template(body[0].value, {})
        filled_here = isinstance(base, ast.Name) and base.id in names  # `return T.format(...)`, T of here
        if not returned or not (FLUX_HINT.search(returned) or filled_here):
            continue
        if filled_here:
            flow.template_fills[(rel, stmt.name)] = id(base)
        args = stmt.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            continue
        params = tuple(a.arg for a in args.args)
        defaults = {}
        with_defaults = args.args[len(args.args) - len(args.defaults) :]
        for arg, default in zip(with_defaults, args.defaults, strict=True):
            if isinstance(default, ast.Constant):
                defaults[arg.arg] = repr(default.value)
        builder = Builder(rel, module_name(rel), stmt.name, params, defaults, returned, names)
        flow.builders.setdefault(stmt.name, []).append(builder)


def _collect_wrappers(rel: str, module: ast.Module, flow: ServiceFlow, names: frozenset[str]) -> None:
    seen: dict[str, int] = {}
    row_seen: dict[str, int] = {}
    for node in ast.walk(module):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = [a.arg for a in node.args.args]
        own = params[1:] if params and params[0] in ("self", "cls") else params
        body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        call = body[-1].value if body and isinstance(body[-1], ast.Return) else None
        if call is not None and _looks_like_query_api(call, names):
            flow.factories.add(node.name)
        func = call.func if isinstance(call, ast.Call) else None
        first = None
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "query"
            and _looks_like_query_api(func.value, names)
        ):
            first = (
                call.args[0]
                if call.args
                else next((k.value for k in call.keywords if k.arg == "query"), None)
            )
        if isinstance(first, ast.Name) and first.id in own:
            seen[node.name] = seen.get(node.name, 0) + 1
            flow.wrappers[node.name] = Wrapper(rel, node.name, first.id, own.index(first.id))
        elif (param := row_wrapper_param(node, own, names)) is not None:
            row_seen[node.name] = row_seen.get(node.name, 0) + 1
            flow.row_wrappers[node.name] = Wrapper(rel, node.name, param, own.index(param))
        elif _sends_parameter(node, own, names) and node.name not in QUERY_NAMES:
            # a consumer called `query` could not be told from a client's own query() at a call site
            flow.consumers.add(node.name)
    for name, count in seen.items():
        if count > 1:  # two wrappers with one name: callers cannot be told apart
            flow.wrappers.pop(name, None)
    for name, count in row_seen.items():
        if count > 1 or name in flow.wrappers:
            flow.row_wrappers.pop(name, None)
            flow.consumers.add(name)  # its callers' Flux is marked where it is built


def row_wrapper_param(
    function: ast.FunctionDef | ast.AsyncFunctionDef, params: list[str], names: frozenset[str] = frozenset()
) -> str | None:
    """The parameter of a function shaped exactly like a row wrapper, before or after its rewrite::

    tables = <query api>.query(param, ...)      # (after: ..., language="sql", **sql_options)
    rows = []
    for table in tables:                        # (after: for record in _influxdb3_rows(tables):)
        for record in table.records:
            rows.append(dict(record.values))     # (after: dict(record)); `record.values` too
    return rows
    """
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    body = [s for s in body if not _is_log_call(s)]
    if not isinstance(function, ast.FunctionDef):
        return None
    if len(body) == 1:
        return _generator_param(body[0], params, names)
    if len(body) == 2:
        return _comprehension_param(body, params, names)
    if len(body) != 4:
        return None
    run, init, loop, ret = body
    found = _run_param(run, params, names)
    if found is None:
        return None
    tables, param = found
    if not (
        isinstance(init, ast.Assign)
        and len(init.targets) == 1
        and isinstance(init.targets[0], ast.Name)
        and isinstance(init.value, ast.List)
        and not init.value.elts
        and isinstance(ret, ast.Return)
        and isinstance(ret.value, ast.Name)
        and ret.value.id == init.targets[0].id
    ):
        return None
    rows = init.targets[0].id
    return param if _appends_records(loop, tables, rows) else None


def _generator_param(stmt: ast.stmt, params: list[str], names: frozenset[str]) -> str | None:
    """`for table in <query api>.query(param, ...): yield from table.records` (a generator of records), or
    its rewrite `yield from _influxdb3_rows(<client>.query(param, language="sql", ...))`."""
    if isinstance(stmt, ast.For) and not stmt.orelse and isinstance(stmt.target, ast.Name):
        body = stmt.body
        shaped = (
            len(body) == 1
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.YieldFrom)
            and ast.unparse(body[0].value.value) == f"{stmt.target.id}.records"
        )
        call = stmt.iter if shaped else None
    elif (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.YieldFrom)
        and isinstance(stmt.value.value, ast.Call)
        and ast.unparse(stmt.value.value.func) == "_influxdb3_rows"
        and len(stmt.value.value.args) == 1
    ):
        call = stmt.value.value.args[0]
    else:
        call = None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "query"
        and _looks_like_query_api(call.func.value, names)
        and call.args
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id in params
    ):
        return None
    return call.args[0].id


def _run_param(run: ast.stmt, params: list[str], names: frozenset[str]) -> tuple[str, str] | None:
    """(result name, query parameter) of `tables = <query api>.query(param, ...)`."""
    if not (
        isinstance(run, ast.Assign)
        and len(run.targets) == 1
        and isinstance(run.targets[0], ast.Name)
        and isinstance(run.value, ast.Call)
        and isinstance(run.value.func, ast.Attribute)
        and run.value.func.attr == "query"
        and _looks_like_query_api(run.value.func.value, names)
        and run.value.args
        and isinstance(run.value.args[0], ast.Name)
        and run.value.args[0].id in params
    ):
        return None
    return run.targets[0].id, run.value.args[0].id


def _comprehension_param(body: list[ast.stmt], params: list[str], names: frozenset[str]) -> str | None:
    """`tables = <query api>.query(param, ...)` then
    `return [record.values for table in tables for record in table.records]` (or `dict(record.values)`):
    the rows as dicts built in one comprehension (the migrated form is not a v2 wrapper any more)."""
    run, ret = body
    found = _run_param(run, params, names)
    if found is None or not (isinstance(ret, ast.Return) and isinstance(ret.value, ast.ListComp)):
        return None
    tables, param = found
    comp = ret.value
    if len(comp.generators) != 2 or any(g.ifs or g.is_async for g in comp.generators):
        return None
    outer, inner = comp.generators
    if not (isinstance(outer.target, ast.Name) and isinstance(inner.target, ast.Name)):
        return None
    record = inner.target.id
    shaped = (
        ast.unparse(outer.iter) == tables
        and ast.unparse(inner.iter) == f"{outer.target.id}.records"
        and ast.unparse(comp.elt) in (f"{record}.values", f"dict({record}.values)")
    )
    return param if shaped else None


def _is_log_call(stmt: ast.stmt) -> bool:
    """`logger.debug("flux: %s", query)`: reading the query for a log line does not use the result."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in ("debug", "info", "warning", "error", "exception", "log")
    )


def _appends_records(loop: ast.stmt, tables: str, rows: str) -> bool:
    if not (isinstance(loop, ast.For) and not loop.orelse and isinstance(loop.target, ast.Name)):
        return False
    if len(loop.body) == 1 and isinstance(loop.body[0], ast.For):  # v2: for table ... for record in .records
        inner = loop.body[0]
        shaped = (
            isinstance(loop.iter, ast.Name)
            and loop.iter.id == tables
            and not inner.orelse
            and isinstance(inner.target, ast.Name)
            and ast.unparse(inner.iter) == f"{loop.target.id}.records"
        )
        record, body, new = (inner.target.id, inner.body, False) if shaped else ("", [], False)
    else:  # migrated: for record in _influxdb3_rows(tables)
        shaped = ast.unparse(loop.iter) == f"_influxdb3_rows({tables})"
        record, body, new = loop.target.id, loop.body, True
    if not shaped or len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    appended = ast.unparse(body[0].value)
    allowed = (f"dict({record})",) if new else (f"dict({record}.values)", f"{record}.values")
    return any(appended == f"{rows}.append({a})" for a in allowed)


def _sends_parameter(function: ast.AST, params: list[str], names: frozenset[str]) -> bool:
    """A v2 query call inside `function` receives one of its parameters as the query."""
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr in QUERY_NAMES and _looks_like_query_api(node.func.value, names):
            args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "query"]
        elif node.func.attr in EXECUTORS and node.args and isinstance(node.args[0], ast.Attribute):
            args = list(node.args[1:2]) + [k.value for k in node.keywords if k.arg == "query"]
        else:
            continue
        if any(isinstance(a, ast.Name) and a.id in params for a in args):
            return True
    return False


def _looks_like_query_api(node: ast.expr, names: frozenset[str] = frozenset()) -> bool:
    """Named like a query API (`self.query_api`, `client.query_api()`), or a name the module binds to one
    (`names`, see query_api_names: `self.qapi = client.query_api()`)."""
    text = ast.unparse(node)
    return text.endswith("query_api") or text.endswith("query_api()") or _name(node) in names


def query_api_names(module: ast.Module) -> frozenset[str]:
    """Names (variables, attributes, parameters) a module binds to a v2 query API by assignment or
    annotation: `self.qapi = client.query_api()`, `self.qapi: QueryApi = ...`, `def f(q: QueryApi)`.
    A wrapper sending its parameter through one of them is a wrapper all the same."""
    names = set()
    for node in ast.walk(module):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            bound = (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr == "query_api"
            ) or (isinstance(node, ast.AnnAssign) and _annotated_query_api(node.annotation))
            names.update(_name(t) for t in targets if bound and _name(t))
        elif (
            isinstance(node, ast.arg)
            and node.annotation is not None
            and _annotated_query_api(node.annotation)
        ):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and property_of_query_api(node):
            # `self.reader` where `@cached_property def reader(self): return <client>.query_api()`
            names.add(node.name)
    return frozenset(names)


PROPERTY_DECORATORS = frozenset({"property", "cached_property"})


def property_of_query_api(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`@property` / `@cached_property` whose body returns `<client>.query_api()`."""
    decorated = any(_name(d) in PROPERTY_DECORATORS for d in function.decorator_list)
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    value = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
    return (
        decorated
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "query_api"
        and not value.args
    )


def _annotated_query_api(annotation: ast.expr) -> bool:
    return _name(annotation) == "QueryApi" or (
        isinstance(annotation, ast.Constant) and annotation.value == "QueryApi"
    )


def _collect_uses(module: ast.Module, flow: ServiceFlow, fills: set[int], names: frozenset[str]) -> None:
    for func in ast.walk(module):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        assigned: dict[str, list[ast.expr]] = {}
        calls: list[ast.Call] = []
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                assigned.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, ast.Call):
                calls.append(node)
        for node in calls:
            for arg in _query_arguments(node, flow, names):
                _mark_used(arg, assigned, flow, fills)
                base = _filled_template(arg, assigned)
                if base is not None:
                    fills.add(id(base))


def _filled_template(arg: ast.expr, assigned: dict[str, list[ast.expr]]) -> ast.expr | None:
    """`T.format(...)` / `T % ...` (or `mod.T`), given or assigned once: the node naming T."""
    if isinstance(arg, ast.Name) and len(assigned.get(arg.id, [])) == 1:
        arg = assigned[arg.id][0]
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format":
        base = arg.func.value
    elif isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod):
        base = arg.left
    else:
        return None
    return base if isinstance(base, (ast.Name, ast.Attribute)) else None


def _query_arguments(call: ast.Call, flow: ServiceFlow, names: frozenset[str]) -> list[ast.expr]:
    """The query text given to a call the codemod rewrites: a query API's query(), a wrapper or
    consumer of the service, or such a function handed to an executor."""
    func = call.func
    name = _name(func)
    keyword = [k.value for k in call.keywords if k.arg == "query"]
    if _is_query_function(func, flow, names):
        return list(call.args[:1]) + keyword
    if name in ("to_thread", "partial") and call.args and _is_query_function(call.args[0], flow, names):
        return list(call.args[1:2]) + keyword
    if name == "run_in_executor" and len(call.args) >= 3 and _is_query_function(call.args[1], flow, names):
        return list(call.args[2:3])
    return []


def _name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _is_query_function(node: ast.expr, flow: ServiceFlow, names: frozenset[str]) -> bool:
    name = _name(node)
    if name in flow.wrappers or name in flow.consumers or name in flow.row_wrappers:
        return True
    if not (isinstance(node, ast.Attribute) and name in QUERY_NAMES):
        return False
    receiver = node.value
    return _looks_like_query_api(receiver, names) or (
        isinstance(receiver, ast.Call) and _name(receiver.func) in flow.factories
    )


def _mark_used(
    arg: ast.expr, assigned: dict[str, list[ast.expr]], flow: ServiceFlow, fills: set[int]
) -> None:
    if isinstance(arg, ast.Name) and len(assigned.get(arg.id, [])) == 1:
        arg = assigned[arg.id][0]
    constant = not isinstance(arg, ast.Call)
    func = arg.func if isinstance(arg, ast.Call) else arg
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    for builder in flow.builders.get(name, []):
        if builder.constant == constant:
            flow.used.add((builder.rel, builder.name))
            fill = flow.template_fills.get((builder.rel, builder.name))
            if fill is not None:
                fills.add(fill)
