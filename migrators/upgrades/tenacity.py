"""tenacity 8.x -> 9.x (docs/rules.md, TN-1 … TN-8), one traversal per file.

TN-5: this codemod never adds ``reraise=True`` (it would turn ``RetryError`` into the original
exception and break ``except RetryError`` handlers); nothing in 9.x requires it.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import ParentNodeProvider, ScopeProvider

from migrators.core.codemod import MigrationCodemod, dotted
from migrators.core.tree import is_test_file, module_name
from migrators.core.upgrade import Packages, Upgrade
from migrators.core.versions import Versions
from migrators.files.requirements import RequirementRule

RETRY = {"tenacity.retry"}
RETRYING = {
    "tenacity.Retrying",
    "tenacity.AsyncRetrying",
    "tenacity.asyncio.AsyncRetrying",
    "tenacity._asyncio.AsyncRetrying",
    "tenacity.TornadoRetrying",
}
RANDOM_EXP = {
    "tenacity.wait_random_exponential",
    "tenacity.wait_full_jitter",
    "tenacity.wait.wait_random_exponential",
    "tenacity.wait.wait_full_jitter",
}
EXP_JITTER = {"tenacity.wait_exponential_jitter", "tenacity.wait.wait_exponential_jitter"}
WAIT_CHAIN = {"tenacity.wait_chain", "tenacity.wait.wait_chain"}
ASYNC_SLEEPS = {"asyncio.sleep", "trio.sleep", "anyio.sleep", "curio.sleep"}
ASYNCIO_NAMES = {"AsyncRetrying"}
# What a rule of the codemod looks for, as text: TN-4 (tenacity._asyncio, iscoroutinefunction), TN-2
# (.retry.statistics), TN-3/TN-7 (the waits, by their qualified names) and TN-6 (a sleep= argument)
CODEMOD_WORDS = (
    "_asyncio",
    "iscoroutinefunction",
    "statistics",
    *sorted({name.rsplit(".", 1)[1] for name in RANDOM_EXP | EXP_JITTER | WAIT_CHAIN}),
    "sleep",
)


# a test that sees the waits: it names the random wait, or it replaces tenacity's sleep with a mock
# (`patch("tenacity.nap.time.sleep")`, `f.retry.sleep = mock`, `retry_with(sleep=...)`) and then
# asserts on the durations it was called with
_TIMES_WAITS = re.compile(
    r"wait_random_exponential|wait_full_jitter|(?:patch|setattr)\([^)\n]*sleep|\.retry\.sleep\s*=|retry_with\([^)]*\bsleep\s*="
)
_ASYNCIO_MODULE = re.compile(r"(?<!\w)_asyncio")
# `a.b.retry.statistics` read through a dotted receiver of two or more names (the start of the chain
# not after a dot): TN-2 resolves only a plain name or `self.x`/`cls.x` to an @retry function, so a
# target >= 9.2 (which marks nothing) leaves this shape alone; group 1 is the receiver
_DOTTED_STATISTICS = re.compile(r"(?<![\w.])(\w+(?:\.\w+)+)\.retry\.statistics")


def _attr_fromdotted(dotted_name: str) -> cst.BaseExpression:
    parts = dotted_name.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def _sleep_retry_names(module: cst.Module) -> list[str]:
    """Names a module-level `name = <call with a sleep= argument>` binds (a retry decorator kept in a
    variable, TN-6)."""
    names = []
    for stmt in module.body:
        if m.matches(stmt, m.SimpleStatementLine(body=[m.Assign(value=m.Call())])):
            assign = stmt.body[0]
            if any(arg.keyword is not None and arg.keyword.value == "sleep" for arg in assign.value.args):
                names += [t.target.value for t in assign.targets if isinstance(t.target, cst.Name)]
    return names


# TN-6 across modules: `RETRY_KW = {"sleep": asyncio.sleep, ...}` spread by `@retry(**RETRY_KW)`, and
# `slow = retry(sleep=asyncio.sleep)` used as `@slow` in another module of the service
_SLEEP_KEY = re.compile(r"[\"']sleep[\"']\s*:|\bsleep(?:[\s\\]|#[^\n]*)*=")
_TOP_ASYNC_DEF = re.compile(r"^async\s+def\s+(\w+)", re.M)  # a module-level coroutine function
_ASYNC_SLEEP_MODULES = {s.rsplit(".", 1)[0] for s in ASYNC_SLEEPS}


def _async_sleeps_of(module: ast.Module) -> set[str]:
    """The names an async sleep goes by in `module`: `asyncio.sleep`, a `from trio import sleep`,
    a module-level `async def`."""
    names = set(ASYNC_SLEEPS)
    for node in module.body:
        if isinstance(node, ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module in _ASYNC_SLEEP_MODULES:
            names |= {a.asname or a.name for a in node.names if a.name == "sleep"}
    return names


def _sleep_value(value: ast.expr) -> ast.expr | None:
    """The sleep a retry call (`retry(sleep=x)`), a kwargs dict (`{"sleep": x}`) or `dict(sleep=x)` holds."""
    if isinstance(value, ast.Call):
        return next((k.value for k in value.keywords if k.arg == "sleep"), None)
    if isinstance(value, ast.Dict):
        return next(
            (
                v
                for k, v in zip(value.keys, value.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == "sleep"
            ),
            None,
        )
    return None


def async_sleep_bindings(rel: str, text: str) -> tuple[set[str], set[str]]:
    """(retry decorators, kwargs dicts) with an async sleep bound at the module level of `rel`, as
    dotted names (`app.policies.slow`)."""
    try:
        module = ast.parse(text)
    except SyntaxError:
        return set(), set()
    sleeps = _async_sleeps_of(module)
    decorators, kwargs = set(), set()
    prefix = module_name(rel)
    for node in module.body:
        if not isinstance(node, ast.Assign):
            continue
        sleep = _sleep_value(node.value)
        if sleep is None or ast.unparse(sleep) not in sleeps:
            continue
        is_retry = isinstance(node.value, ast.Call) and ast.unparse(node.value.func).split(".")[-1] == "retry"
        names = {f"{prefix}.{t.id}" for t in node.targets if isinstance(t, ast.Name)}
        (decorators if is_retry else kwargs).update(names)
    return decorators, kwargs


def _named(qualified: set[str], dotted_names: frozenset[str]) -> bool:
    """A qualified name (`app.policies.slow`, `.policies.slow` from a relative import) is one of
    `dotted_names`, which may carry a source folder in front (`src.app.policies.slow`)."""
    for name in qualified:
        bare = name.lstrip(".")
        if any(d == bare or d.endswith("." + bare) for d in dotted_names):
            return True
    return False


class TenacityCodemod(MigrationCodemod):
    DESCRIPTION = "tenacity 8 -> 9"
    # every rule starts from one of these words (see CODEMOD_WORDS): statements without one are skipped
    TRIGGER_WORDS = CODEMOD_WORDS
    METADATA_DEPENDENCIES = (*MigrationCodemod.METADATA_DEPENDENCIES, ScopeProvider, ParentNodeProvider)

    def __init__(self, context, state=None, versions=None, info=None):
        super().__init__(context, state, versions, info)
        self._classes: list[cst.ClassDef] = []
        self._module: cst.Module | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Module):
            # a def decorated with `@slow` (`slow = retry(sleep=...)` at module level) holds no trigger
            # word of its own: the names such an assignment binds are trigger words of this module
            self.TRIGGER_WORDS = (*CODEMOD_WORDS, *_sleep_retry_names(node), *self._imported_sleep_words())
        return super().on_visit(node)

    def _imported_sleep_words(self) -> tuple[str, ...]:
        """The last parts of the service's async-sleep retries and kwargs (TN-6 across modules)."""
        state = self.state if isinstance(self.state, dict) else {}
        names = state.get("async_sleep_retries", frozenset()) | state.get("async_sleep_kwargs", frozenset())
        return tuple(sorted({n.rsplit(".", 1)[1] for n in names}))

    # --- helpers ---------------------------------------------------------------------------------
    def _is_retry_decorator(self, deco: cst.Decorator) -> bool:
        expr = deco.decorator
        target = expr.func if isinstance(expr, cst.Call) else expr
        if self.qualified_names(target) & RETRY:
            return True
        if isinstance(target, cst.Attribute) and target.attr.value == "wraps":
            inner = target.value
            inner_target = inner.func if isinstance(inner, cst.Call) else inner
            return bool(self.qualified_names(inner_target) & RETRYING) or isinstance(inner, cst.Name)
        return False

    def _resolve_receiver(self, receiver: cst.BaseExpression) -> str:
        """'function' (decorated with retry), 'retrying' (a Retrying instance) or 'unknown'."""
        if isinstance(receiver, cst.Name):
            try:
                scope = self.get_metadata(ScopeProvider, receiver)
            except KeyError:
                return "unknown"
            if scope is None:
                return "unknown"
            kinds = set()
            for assignment in scope[receiver.value]:
                node = getattr(assignment, "node", None)
                if isinstance(node, cst.FunctionDef):
                    kinds.add(
                        "function" if any(self._is_retry_decorator(d) for d in node.decorators) else "other"
                    )
                elif isinstance(node, cst.Name):
                    parent = self.get_metadata(ParentNodeProvider, node, None)
                    if isinstance(parent, cst.AssignTarget):
                        assign = self.get_metadata(ParentNodeProvider, parent, None)
                        value = getattr(assign, "value", None)
                        if isinstance(value, cst.Call) and self.qualified_names(value.func) & RETRYING:
                            kinds.add("retrying")
                            continue
                        if (
                            isinstance(value, cst.Call)
                            and isinstance(value.func, cst.Call)
                            and self.qualified_names(value.func.func) & RETRY
                        ):
                            kinds.add("function")  # fetch = retry(...)(fn)
                            continue
                    kinds.add("unknown")
                else:
                    kinds.add("unknown")
            return kinds.pop() if len(kinds) == 1 else "unknown"
        if m.matches(receiver, m.Attribute(value=m.Name("self") | m.Name("cls"))) and self._classes:
            name = receiver.attr.value
            for stmt in self._classes[-1].body.body:
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                    return (
                        "function" if any(self._is_retry_decorator(d) for d in stmt.decorators) else "other"
                    )
        return "unknown"

    # --- traversal -------------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node)

    def leave_ClassDef(self, original_node, updated_node):
        self._classes.pop()
        return updated_node

    # TN-4: removed module paths
    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom):
        module = dotted(updated_node.module) if updated_node.module else None
        if updated_node.relative or module is None:
            return updated_node
        if module in ("tenacity._asyncio", "tenacity.asyncio") and module == "tenacity._asyncio":
            if isinstance(updated_node.names, cst.ImportStar):
                self.mark(
                    "TN-4", original_node, "tenacity._asyncio is gone; import AsyncRetrying from tenacity"
                )
                return updated_node
            names = {a.name.value for a in updated_node.names if isinstance(a.name, cst.Name)}
            if names <= ASYNCIO_NAMES:
                self.rewrote("TN-4", original_node, "from tenacity._asyncio -> from tenacity")
                return updated_node.with_changes(module=cst.Name("tenacity"))
            self.mark(
                "TN-4",
                original_node,
                f"tenacity._asyncio is gone (moved to tenacity.asyncio in 8.4); "
                f"import {', '.join(sorted(names - ASYNCIO_NAMES))} from its new home",
            )
            return updated_node
        if module == "tenacity" and not isinstance(updated_node.names, cst.ImportStar):
            kept = [a for a in updated_node.names if not m.matches(a.name, m.Name("iscoroutinefunction"))]
            if len(kept) != len(updated_node.names):
                removed = next(
                    a for a in updated_node.names if m.matches(a.name, m.Name("iscoroutinefunction"))
                )
                asname = removed.asname.name.value if removed.asname else None
                AddImportsVisitor.add_needed_import(self.context, "inspect", "iscoroutinefunction", asname)
                self.rewrote(
                    "TN-4", original_node, "tenacity.iscoroutinefunction -> inspect.iscoroutinefunction"
                )
                if not kept:
                    return cst.RemoveFromParent()
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated_node.with_changes(names=kept)
        return updated_node

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import):
        names = list(updated_node.names)
        changed = False
        for i, alias in enumerate(names):
            if dotted(alias.name) == "tenacity._asyncio" and alias.asname is None:
                names[i] = alias.with_changes(name=cst.Name("tenacity"))
                changed = True
        if changed:
            self.rewrote("TN-4", original_node, "import tenacity._asyncio -> import tenacity")
            return updated_node.with_changes(names=names)
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute):
        dotted_name = dotted(original_node)
        if dotted_name and dotted_name.startswith("tenacity._asyncio.") and dotted_name.count(".") == 2:
            if self._inside_import(original_node):
                return updated_node
            self.rewrote("TN-4", original_node, f"{dotted_name} -> tenacity.{original_node.attr.value}")
            return _attr_fromdotted(f"tenacity.{original_node.attr.value}")
        if dotted_name == "tenacity.iscoroutinefunction" and not self._inside_import(original_node):
            AddImportsVisitor.add_needed_import(self.context, "inspect")
            self.rewrote("TN-4", original_node, "tenacity.iscoroutinefunction -> inspect.iscoroutinefunction")
            return _attr_fromdotted("inspect.iscoroutinefunction")
        # TN-2: f.retry.statistics -> f.statistics
        if original_node.attr.value == "statistics" and m.matches(
            original_node.value, m.Attribute(attr=m.Name("retry"))
        ):
            receiver = original_node.value.value
            kind = self._resolve_receiver(receiver)
            if kind == "function":
                self.rewrote(
                    "TN-2", original_node, f"{dotted(receiver) or 'f'}.retry.statistics -> .statistics"
                )
                return updated_node.with_changes(value=updated_node.value.value)
            if kind == "unknown" and self._retry_statistics_empty():
                self.mark(
                    "TN-2",
                    original_node,
                    f"read {dotted(receiver) or 'the function'}.statistics, not .retry.statistics "
                    "(empty on tenacity 8.4.2-9.1); receiver not resolvable to an @retry function",
                )
        elif original_node.attr.value == "statistics" and self._retry_statistics_empty():
            self._mark_statistics_of_a_held_retry(original_node)
        return updated_node

    def _retry_statistics_empty(self) -> bool:
        """`f.retry.statistics` stays empty from 8.4.2 up to 9.1 and is filled again from 9.2
        (git jd/tenacity@4c1b7bc): only a target below 9.2 needs a person where it is read."""
        return not self.versions.at_least("tenacity", "9.2")

    def _mark_statistics_of_a_held_retry(self, node: cst.Attribute) -> None:
        """TN-2: `r = f.retry` … `r.statistics` reads the same empty dict through a name."""
        if not isinstance(node.value, cst.Name):
            return
        value = self._assigned_value(node.value)
        if (
            m.matches(value, m.Attribute(attr=m.Name("retry")))
            and self._resolve_receiver(value.value) != "retrying"
        ):
            self.mark(
                "TN-2",
                node,
                f"{node.value.value} holds {dotted(value) or 'f.retry'}, whose .statistics is empty on "
                "tenacity 8.4.2-9.1: read the function's own .statistics instead",
            )

    def _assigned_value(self, name: cst.Name) -> cst.BaseExpression | None:
        """The value of the single `name = <value>` that binds `name` in its scope (else None)."""
        try:
            scope = self.get_metadata(ScopeProvider, name)
        except KeyError:
            return None
        if scope is None:
            return None
        values = []
        for assignment in scope[name.value]:
            node = getattr(assignment, "node", None)
            parent = self.get_metadata(ParentNodeProvider, node, None) if isinstance(node, cst.Name) else None
            assign = (
                self.get_metadata(ParentNodeProvider, parent, None)
                if isinstance(parent, cst.AssignTarget)
                else None
            )
            values.append(assign.value if isinstance(assign, cst.Assign) else None)
        return values[0] if len(values) == 1 else None

    def _inside_import(self, node: cst.CSTNode) -> bool:
        parent = self.get_metadata(ParentNodeProvider, node, None)
        while parent is not None:
            if isinstance(parent, (cst.Import, cst.ImportFrom)):
                return True
            if isinstance(parent, (cst.SimpleStatementLine, cst.Module)):
                return False
            parent = self.get_metadata(ParentNodeProvider, parent, None)
        return False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        names = self.qualified_names(original_node.func)
        self._mark_getattr_statistics(original_node)
        self._mark_sync_function_retried_by_call(original_node)
        if names & RANDOM_EXP:
            self._note_random_wait_min(original_node)
        elif names & EXP_JITTER and self.versions.at_least("tenacity", "9.2"):
            return self._jitter_initial_to_multiplier(original_node, updated_node)
        elif names & WAIT_CHAIN and not original_node.args and self.versions.at_least("tenacity", "9.2"):
            self.mark(
                "TN-7",
                original_node,
                "wait_chain() with no arguments raises ValueError on tenacity>=9.2; "
                "pass at least one wait strategy",
            )
        return updated_node

    def _note_random_wait_min(self, call: cst.Call) -> None:
        """TN-3: a note (or a marker when tests time waits) on a random wait with a non-zero min."""
        minimum = None
        positional = [a for a in call.args if a.keyword is None and a.star == ""]
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "min":
                minimum = arg.value
        if minimum is None and len(positional) >= 4:
            minimum = positional[3].value
        if minimum is None:
            return
        if isinstance(minimum, (cst.Integer, cst.Float)) and float(minimum.value.replace("_", "")) == 0:
            return
        # a blocker only when tests assert on the durations of this (non-test) code's waits; a wait
        # built inside a test file shows its own failure in the test stage, so it gets the note
        if isinstance(self.state, dict) and self.state.get("tests_assert_waits") and not self.info.is_test:
            self.mark(
                "TN-3",
                call,
                "tenacity>=9: wait never below min (was uniform(0, high)); the tests assert "
                "on wait durations: check them against the new range",
            )
        else:
            self.note_above("TN-3", call, "tenacity>=9: wait never below min (was uniform(0, high))")

    def _jitter_initial_to_multiplier(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """TN-7: wait_exponential_jitter(initial=) becomes multiplier= for a 9.2 target."""
        keywords = {a.keyword.value for a in updated.args if a.keyword is not None}
        if "multiplier" in keywords:
            return updated
        order = ["multiplier", "max", "exp_base", "jitter", "min"]
        args = []
        changed = False
        position = 0
        for arg in updated.args:
            if arg.star:
                return updated
            if arg.keyword is None:
                if position >= len(order):
                    return updated
                args.append(
                    arg.with_changes(
                        keyword=cst.Name(order[position]),
                        equal=cst.AssignEqual(
                            whitespace_before=cst.SimpleWhitespace(""),
                            whitespace_after=cst.SimpleWhitespace(""),
                        ),
                    )
                )
                changed = changed or position == 0
                position += 1
            elif arg.keyword.value == "initial":
                args.append(arg.with_changes(keyword=cst.Name("multiplier")))
                changed = True
            else:
                args.append(arg)
        if not changed:
            return updated
        self.rewrote("TN-7", original, "wait_exponential_jitter(initial=...) -> multiplier=...")
        return updated.with_changes(args=args)

    def _mark_getattr_statistics(self, call: cst.Call) -> None:
        """TN-2: `getattr(f.retry, "statistics")` is `f.retry.statistics` spelled another way."""
        if (
            m.matches(call.func, m.Name("getattr"))
            and len(call.args) >= 2
            and m.matches(call.args[0].value, m.Attribute(attr=m.Name("retry")))
            and m.matches(call.args[1].value, m.SimpleString())
            and call.args[1].value.evaluated_value == "statistics"
            and self._retry_statistics_empty()
            and self._resolve_receiver(call.args[0].value.value) != "retrying"
        ):
            self.mark(
                "TN-2",
                call,
                "getattr(<f>.retry, 'statistics') is empty on tenacity 8.4.2-9.1: read <f>.statistics",
            )

    # TN-6: sync function with an async sleep=
    def _async_sleep_retry(self, expr: cst.BaseExpression) -> bool:
        """`retry(..., sleep=<async callable>)`, written here or bound to a name (`slow = retry(...)`)."""
        names = self._import_names
        words = self._imported_sleep_words()
        if (
            names is not None
            and not _SLEEP_KEY.search(names.source)
            and not any(w in names.source for w in words)
        ):
            # no `sleep=` anywhere in the text: spares the scope analysis a bound name would cost
            # every decorated def and one-argument call (a fifth of a run on the bench's corpus)
            return False
        state = self.state if isinstance(self.state, dict) else {}
        if words and _named(self.qualified_names(expr), state.get("async_sleep_retries", frozenset())):
            return True  # `@slow` / `@policies.slow`, bound in another module of the service
        if isinstance(expr, cst.Name):
            expr = self._assigned_value(expr)
        if not isinstance(expr, cst.Call) or not self.qualified_names(expr.func) & RETRY:
            return False
        return any(
            (arg.keyword is not None and arg.keyword.value == "sleep" and self._is_async_callable(arg.value))
            or (arg.star == "**" and self._async_sleep_kwargs(arg.value, state))
            for arg in expr.args
        )

    def _async_sleep_kwargs(self, expr: cst.BaseExpression, state: dict) -> bool:
        """`**KW` where KW holds an async sleep: `{"sleep": asyncio.sleep}` / `dict(sleep=...)` bound in
        this module, or a kwargs dict of another module of the service."""
        if _named(self.qualified_names(expr), state.get("async_sleep_kwargs", frozenset())):
            return True
        value = self._assigned_value(expr) if isinstance(expr, cst.Name) else expr
        if isinstance(value, cst.Dict):
            return any(
                isinstance(e, cst.DictElement)
                and isinstance(e.key, cst.SimpleString)
                and e.key.evaluated_value == "sleep"
                and self._is_async_callable(e.value)
                for e in value.elements
            )
        if isinstance(value, cst.Call) and dotted(value.func) == "dict":
            return any(
                a.keyword is not None and a.keyword.value == "sleep" and self._is_async_callable(a.value)
                for a in value.args
            )
        return False

    def _mark_sync_function_retried_by_call(self, call: cst.Call) -> None:
        """TN-6 without decorator syntax: `fetch = retry(sleep=asyncio.sleep)(sync_fetch)`."""
        if not self.versions.at_least("tenacity", "9.1.3") or len(call.args) != 1:
            return
        if not isinstance(call.func, (cst.Call, cst.Name)) or not self._async_sleep_retry(call.func):
            return
        target = call.args[0].value
        if isinstance(target, cst.Name) and self._sync_def(target):
            self.mark(
                "TN-6",
                call,
                f"sync {target.value}() retried with an async sleep=: tenacity>=9.1.3 makes the "
                "wrapper a coroutine; make the callers await it, or use a sync sleep",
            )

    def _sync_def(self, name: cst.Name) -> bool:
        try:
            scope = self.get_metadata(ScopeProvider, name)
        except KeyError:
            return False
        nodes = [getattr(a, "node", None) for a in scope[name.value]] if scope is not None else []
        return bool(nodes) and all(isinstance(n, cst.FunctionDef) and n.asynchronous is None for n in nodes)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef):
        if original_node.asynchronous is None and self.versions.at_least("tenacity", "9.1.3"):
            # `@retry(sleep=asyncio.sleep)` or `@slow` where `slow = retry(sleep=asyncio.sleep)`
            if any(self._async_sleep_retry(deco.decorator) for deco in original_node.decorators):
                self.mark(
                    "TN-6",
                    original_node,
                    f"sync {original_node.name.value}() has an async sleep=: tenacity>=9.1.3 makes "
                    "the wrapper a coroutine; make the caller await it, or use a sync sleep",
                )
        return updated_node

    def _is_async_callable(self, expr: cst.BaseExpression) -> bool:
        qualified = self.qualified_names(expr)
        if qualified & ASYNC_SLEEPS:
            return True
        state = self.state if isinstance(self.state, dict) else {}
        if _named(qualified, state.get("async_defs", frozenset())):
            return True  # `from app.util import nap` where `async def nap(...)` is there
        if isinstance(expr, cst.Name):
            try:
                scope = self.get_metadata(ScopeProvider, expr)
            except KeyError:
                return False
            if scope is not None:
                return any(
                    isinstance(a.node, cst.FunctionDef) and a.node.asynchronous is not None
                    for a in scope[expr.value]
                    if hasattr(a, "node")
                )
        return False


def _statistics_may_concern_tn2(text: str, state: Any) -> bool:
    """Whether a "statistics" in the text can be one TN-2 rewrites or marks. Below a 9.2 target (or
    without the analysis' answer) every one can (TN-2 marks what it cannot resolve); from 9.2 TN-2
    only rewrites `<f>.retry.statistics` with `<f>` a name or `self.x`/`cls.x`, so the file is
    spared when every occurrence of the word is in a `a.b.retry.statistics` with a longer receiver."""
    if not isinstance(state, dict) or state.get("retry_statistics_empty", True):
        return True
    receivers = [match[1] for match in _DOTTED_STATISTICS.finditer(text)]
    if any(r.count(".") == 1 and r.split(".", 1)[0] in ("self", "cls") for r in receivers):
        return True
    return text.count("statistics") != len(receivers)


class TenacityUpgrade(Upgrade):
    name = "tenacity"
    description = "tenacity 8.x -> 9.x (TN-1..TN-8)"
    rule_prefix = "TN"
    packages = Packages(old=("tenacity",), new="tenacity")
    target_version = "9.2.1"
    rules = {
        "TN-1": "pin the target release; mark a Python older than the target supports",
        "TN-2": "f.retry.statistics becomes f.statistics when f is a @retry-decorated function",
        "TN-3": "wait_random_exponential/wait_full_jitter min: a note, or a blocker if tests time waits",
        "TN-4": "removed module paths: tenacity._asyncio and tenacity.iscoroutinefunction",
        "TN-5": "reraise=True is never added: it changes behaviour and no release needs it",
        "TN-6": "a sync function retried with an async sleep= is a blocker",
        "TN-7": "target 9.2: wait_exponential_jitter(initial=) becomes multiplier=; bare wait_chain() blocks",
        "TN-8": "no change: RetryCallState, callbacks, retry_with, Retrying loops and RetryError stay",
    }
    # ".retry.statistics": a test file reading a retried function's statistics often never names
    # tenacity (it imports the function), and TN-2 must still see it
    tokens = ("tenacity", ".retry.statistics")
    modules = ("tenacity",)
    codemod = TenacityCodemod

    def needs_codemod(self, rel: str, text: str, state: Any = None) -> bool:
        # every rule of TenacityCodemod starts from one of these words in the source: a qualified
        # name ends with the attribute written at the use or the name written in its import
        # two words as their rule sees them: "sleep" only as TN-6's keyword argument (`sleep=`, with
        # any spaces, line continuations or comments before the `=`), not the `asyncio.sleep(...)` of
        # most async code; "_asyncio" only as TN-4's name (not the end of `pytest_asyncio`)
        # (and "sleep" as a kwargs dict's key, `{"sleep": asyncio.sleep}`, or the name of another
        # module's async-sleep retry or kwargs: TN-6 across modules)
        imported = state.get("sleep_words", ()) if isinstance(state, dict) else ()
        return (
            any(word in text for word in CODEMOD_WORDS if word not in ("sleep", "_asyncio", "statistics"))
            or bool(_SLEEP_KEY.search(text))
            or bool(_ASYNCIO_MODULE.search(text))
            or any(word in text for word in imported)
            or ("statistics" in text and _statistics_may_concern_tn2(text, state))
        )

    def python_floor(self, versions: Versions) -> tuple[str, str] | None:
        if versions.at_least("tenacity", "9.1.3"):
            return ("TN-1", "3.10")
        return ("TN-1", "3.9") if versions.at_least("tenacity", "9.1") else ("TN-1", "3.8")

    def analyze(self, tree, versions: Versions) -> dict[str, Any]:
        """TN-3 becomes a blocker when the project's tests assert on wait durations."""
        retries, kwargs, async_defs = set(), set(), set()
        for rel in tree.python_files():
            text = tree.read(rel)
            if not is_test_file(rel) and "async def" in text:
                async_defs |= {f"{module_name(rel)}.{n}" for n in _TOP_ASYNC_DEF.findall(text)}
            if not is_test_file(rel) and "sleep" in text and _SLEEP_KEY.search(text):
                found = async_sleep_bindings(rel, text)
                retries |= found[0]
                kwargs |= found[1]
        facts = {
            "async_sleep_retries": frozenset(retries),
            "async_sleep_kwargs": frozenset(kwargs),
            "async_defs": frozenset(async_defs),
            "sleep_words": tuple(sorted({n.rsplit(".", 1)[1] for n in retries | kwargs})),
        }
        asserting = False
        for rel in tree.python_files():
            if is_test_file(rel):
                text = tree.read(rel)
                if _TIMES_WAITS.search(text) and re.search(
                    r"assert.*(wait|sleep|idle_for|upcoming_sleep)", text
                ):
                    asserting = True
                    break
        # read by needs_codemod, which is not given the versions (the codemod asks them itself)
        return {
            "tests_assert_waits": asserting,
            "retry_statistics_empty": not versions.at_least("tenacity", "9.2"),
            **facts,
        }

    def requirement_rules(self, versions: Versions, state: Any) -> list[RequirementRule]:
        return [RequirementRule("TN-1", "tenacity", version=versions.target("tenacity"))]
