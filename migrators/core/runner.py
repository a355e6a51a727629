"""Running upgrades over a tree: pre-checks, one parse and one shared metadata wrapper per file for
all upgrades, the re-parse safety net, then the non-Python rewriters; and the blocker scan of the result.

Every rewritten Python file is re-parsed (``compile``); if the output does not parse, the
original is kept and an internal error reported. A rule that crashes costs only its file: the error
and its traceback go into the results and the other files are still processed. With ``jobs`` > 1 the
units, or one unit's files, run in forked workers (:mod:`migrators.core.parallel`), same output.
"""

from __future__ import annotations

import ast
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext

from migrators.core.bindings import ImportNames
from migrators.core.check import check_file
from migrators.core.codemod import MigrationCodemod
from migrators.core.lines import render
from migrators.core.parallel import FileTask, run_files, run_units
from migrators.core.profile import Profile, TimedWrapper
from migrators.core.registry import Registry
from migrators.core.results import (
    MARKER_PREFIX,
    MARKER_RULE,
    Change,
    CheckFailure,
    CheckResult,
    FileResult,
    MarkerRecord,
    TreeResult,
    iter_markers,
    rule_prefix,
)
from migrators.core.tree import EditSet, FileInfo, ProjectTree, find_units, is_test_file
from migrators.core.upgrade import Sweeper, Upgrade
from migrators.core.versions import Versions
from migrators.core.walk import preorder
from migrators.files.requirements import (
    PythonFloor,
    RequirementRule,
    mark_declarations,
    mark_unrewritten_declarations,
    rewrite_python_floor,
    rewrite_requirements,
)


class MigrationError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def transform_source(
    code: str,
    upgrades: Sequence[Upgrade],
    states: dict[str, Any],
    versions: Versions,
    info: FileInfo,
    sweepers: Sequence[tuple[str, Sweeper]] = (),
    profile: Profile | None = None,
    module: cst.Module | None = None,
) -> tuple[str, list[Change], list[str]]:
    """Run the given upgrades' codemods over one file's text, then the sweeps (after every rule, so
    they see what the rules left): (new code, changes, upgrades applied).

    One parse and one metadata wrapper serve every upgrade until one of them changes the text;
    each later upgrade sees the text the earlier ones left (a new wrapper, as before). Raises
    MigrationError for a parse error of the input (with its line) or an output that does not
    re-parse (the caller keeps the original). `module`: the text's tree if an analysis parsed it.
    """
    timer = profile or Profile()
    syntax = _unit_syntax(info)
    if not upgrades:
        with timer.timed("parse"):
            # the unit's parse, where there is a unit: the sweep reads the same tree
            valid = syntax(code) is not None if syntax is not None else _compiles(code, info.rel)
        if valid:  # only sweeps, which work on text: no libcst tree is needed
            return _sweep_all(code, code, sweepers, info, [], [], timer)
    try:
        with timer.timed("parse"):
            module = module if module is not None else cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        raise _parse_error(code, info.rel, exc) from None
    # a freshly parsed module holds no node twice: no defensive deep copy needed
    wrapper = TimedWrapper(module, unsafe_skip_copy=True, profile=profile)
    names = ImportNames(wrapper.module, code, syntax)
    current = code
    changed: cst.Module | None = None  # a transformed tree the next codemod has not been given yet
    changes: list[Change] = []
    applied: list[str] = []
    for upgrade in upgrades:
        context = CodemodContext(filename=info.rel, full_module_name=None)
        codemod = upgrade.make_codemod(context, states.get(upgrade.name), versions, info)
        if codemod is None:
            continue
        if changed is not None:
            # a transformed tree may hold one node twice (metadata is keyed by node): libcst's wrapper
            # copies it whole; a walk that finds every node once (a seventh of a copy) spares that
            with timer.timed("metadata:copy"):
                unique = nodes_are_unique(changed)
                wrapper, changed = TimedWrapper(changed, unsafe_skip_copy=unique, profile=profile), None
            names = ImportNames(wrapper.module, current, syntax)
        after, after_code = _run_codemod(codemod, wrapper, names, current, upgrade.name, timer)
        if codemod.changes or after_code != current:
            applied.append(upgrade.name)
        else:  # the pre-check let a file through that the codemod had nothing to do in
            timer.add(f"idle:{upgrade.name}", 0.0)
        changes.extend(codemod.changes)
        if after_code != current:
            changed, current = after, after_code
    return _sweep_all(code, current, sweepers, info, changes, applied, timer)


def _unit_syntax(info: FileInfo) -> Callable[[str], ast.Module | None] | None:
    """The unit's CPython parse of a text of this file (shared with the analyses, the sweep and the
    check: see ProjectTree.syntax_of); None without a tree (a codemod's own parse then)."""
    return info.tree.syntax_of if info.tree is not None else None


def nodes_are_unique(module: cst.Module) -> bool:
    """Whether no node object occurs twice in the tree: what libcst's defensive copy of a module
    guarantees, so that metadata keyed by node is sound; the copy is needed only where this is False.
    The nodes are those a traversal (and so a metadata provider) visits, as libcst's walk finds them."""
    seen: set[int] = set()
    for node in preorder(module):
        key = id(node)
        if key in seen:
            return False
        seen.add(key)
    return True


def _compiles(code: str, rel: str) -> bool:
    """Whether CPython parses the text (C, a fraction of a libcst parse). A file it rejects takes the
    libcst path, whose parser gives the error the report has always shown."""
    try:
        compile(code, rel, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _sweep_all(
    code: str,
    current: str,
    sweepers: Sequence[tuple[str, Sweeper]],
    info: FileInfo,
    changes: list[Change],
    applied: list[str],
    timer: Profile,
) -> tuple[str, list[Change], list[str]]:
    """The sweeps over the text the rules left, then the re-parse check of a changed file."""
    new_code = current
    for name, sweeper in sweepers:
        with timer.timed(f"sweep:{name}"):
            new_code, swept = sweeper.sweep(info, new_code)
        if swept and name not in applied:
            applied.append(name)
        changes.extend(swept)
    if new_code != code:
        with timer.timed("re-parse check"):
            check_parses(new_code, info.rel)
    return new_code, changes, applied


def _run_codemod(
    codemod: MigrationCodemod,
    wrapper: TimedWrapper,
    names: ImportNames,
    current: str,
    name: str,
    timer: Profile,
) -> tuple[cst.Module, str]:
    """One upgrade's traversal of the wrapper's module: (tree after, its text), timed as
    transform:NAME (without the metadata it resolved) and render:NAME."""
    metadata_before = timer.phase("metadata")
    started = time.process_time()
    if isinstance(codemod, MigrationCodemod):
        after = codemod.transform_shared(wrapper, names)
    else:  # a codemod of another base: libcst's own protocol (it copies the module itself)
        after = codemod.transform_module(wrapper.module)
    elapsed = time.process_time() - started
    timer.add(f"transform:{name}", elapsed - (timer.phase("metadata") - metadata_before))
    if after is wrapper.module:
        # untouched (the traversal keeps a node whose children are unchanged): its text is the one it
        # was parsed from or rendered to, as libcst renders every tree back to its source exactly
        return after, current
    with timer.timed(f"render:{name}"):
        after_code = render(after)
        if _starts_with_new_blank_lines(current, after, after_code):
            after = strip_new_leading_blank_lines(wrapper.module, after)
            after_code = render(after)
    return after, after_code


def _starts_with_new_blank_lines(before_code: str, after: cst.Module, after_code: str) -> bool:
    """strip_new_leading_blank_lines' test, on texts already rendered."""
    return (
        bool(after.body)
        and not after.header
        and not before_code.startswith("\n")
        and after_code.startswith("\n")
    )


def strip_new_leading_blank_lines(before: cst.Module, after: cst.Module) -> cst.Module:
    """Removing a file's first statement (an unused import) must not leave blank lines on top."""
    if (
        not after.body
        or after.header
        or render(before).startswith("\n")
        or not render(after).startswith("\n")
    ):
        return after
    first = after.body[0]
    lines = list(first.leading_lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return after.with_changes(body=[first.with_changes(leading_lines=lines), *after.body[1:]])


def check_parses(code: str, rel: str) -> None:
    """The re-parse safety net: CPython's own compiler (C, a fraction of a libcst parse) on the text.

    It is the stricter test: besides the grammar it rejects what only the compiler sees (`return`
    outside a function, `await` outside async, a bad `nonlocal`). The text is libcst's rendering of
    a libcst tree, so a second libcst parse of it would add nothing but its cost."""
    try:
        compile(code, rel, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        line = getattr(exc, "lineno", None)
        raise MigrationError(
            f"internal error: rewritten code does not parse ({exc}); original kept", line
        ) from None


def select_upgrades(
    registry: Registry,
    upgrades: Iterable[Upgrade | str] | None,
    tree: ProjectTree,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
) -> list[Upgrade]:
    if upgrades is None:
        chosen = [registry.get(n) for n in only] if only else registry.detect(tree)
    else:
        chosen = [registry.get(u) if isinstance(u, str) else u for u in upgrades]
    return [u for u in chosen if u.name not in set(skip)]


def migrate_python_file(
    tree: ProjectTree,
    rel: str,
    chosen: Sequence[Upgrade],
    states: dict[str, Any],
    versions: Versions,
    sweepers: Sequence[tuple[str, Sweeper]] = (),
    profile: Profile | None = None,
) -> FileResult:
    """One Python file: the upgrades whose pre-check passes, then the sweeps, in one parse."""
    text = tree.read(rel)
    info = FileInfo(rel=rel, is_test=is_test_file(rel), is_conftest=rel.endswith("conftest.py"), tree=tree)
    result = FileResult(rel, original=text, new=text)
    try:
        parsed = tree.take_parsed(rel)
        new, changes, applied = transform_source(
            text, chosen, states, versions, info, sweepers, profile, parsed
        )
    except MigrationError as exc:
        result.status, result.error, result.error_line = "error", str(exc), exc.line
    except Exception as exc:  # a rule crashed: report it with its traceback, keep the file
        result.status = "error"
        result.error = f"internal error: {type(exc).__name__}: {exc}; original kept"
        result.traceback = traceback.format_exc()
    else:
        result.new, result.changes, result.upgrades = new, changes, applied
        result.status = "changed" if new != text else "unchanged"
    return result


def owned_requirement_rules(
    chosen: Sequence[Upgrade], states: dict[str, Any], versions: Versions
) -> list[tuple[str, RequirementRule]]:
    """(upgrade, row) of every requirements row the chosen upgrades contribute."""
    return [(u.name, rule) for u in chosen for rule in u.requirement_rules(versions, states.get(u.name))]


def rewrite_other_files(
    tree: ProjectTree, chosen: Sequence[Upgrade], states: dict[str, Any], versions: Versions
) -> EditSet:
    """Requirements (table-driven, all upgrades at once), then each upgrade's own rewriters."""
    edits = EditSet(tree)
    if chosen:
        owned_rules = owned_requirement_rules(chosen, states, versions)
        floors = [
            PythonFloor(u.name, *floor, versions.targets.get(u.packages.new, ""))
            for u in chosen
            if (floor := u.python_floor(versions))
        ]
        try:
            rewrite_requirements(tree, owned_rules, edits)
            mark_unrewritten_declarations(tree, owned_rules, edits)
            rewrite_python_floor(tree, floors, edits)
        except Exception as exc:  # keep going: Python results stand
            edits.error(
                "requirements", f"internal error: {type(exc).__name__}: {exc}", None, traceback.format_exc()
            )
    for upgrade in chosen:
        try:
            upgrade.rewrite_files(tree, states.get(upgrade.name), versions, edits)
        except Exception as exc:
            message = f"internal error in {upgrade.name} rewriter: {type(exc).__name__}: {exc}"
            edits.error(upgrade.name, message, None, traceback.format_exc())
    return edits


def edit_results(tree: ProjectTree, edits: EditSet) -> list[FileResult]:
    results = []
    for rel in sorted(set(edits.texts) | set(edits.changes) | set(edits.errors)):
        original = tree.read(rel) if tree.path(rel).is_file() else ""
        new = edits.texts.get(rel, original)
        fr = FileResult(
            rel,
            changes=edits.changes.get(rel, []),
            upgrades=edits.upgrades.get(rel, []),
            original=original,
            new=new,
        )
        if rel in edits.errors:
            fr.status, (fr.error, fr.error_line) = "error", edits.errors[rel]
            fr.traceback = edits.tracebacks.get(rel)
            fr.new = original
        else:
            fr.status = "changed" if new != original else "unchanged"
        results.append(fr)
    return results


def without_markers(text: str) -> str:
    """The text the pre-checks see: a marker a run left names the new API, and must not make the
    next run parse a file the first one skipped (idempotence)."""
    if MARKER_PREFIX not in text:
        return text
    return "\n".join(line for line in text.splitlines() if MARKER_PREFIX not in line)


def migrate_tree(
    root: Path | str,
    *,
    registry: Registry,
    upgrades: Iterable[Upgrade | str] | None = None,
    write: bool = False,
    versions: Versions | None = None,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
    profile: Profile | None = None,
) -> TreeResult:
    """Run upgrades over a tree. `upgrades=None` detects them (or uses `only`). Writes only if `write`.

    A monorepo root (a folder holding several services) is run one unit at a time (see
    :func:`migrators.core.tree.find_units`): each service learns its own facts and gets its own
    config, exactly as a run on that service alone; the root's own files are left alone.

    `jobs` > 1 spreads the work over worker processes: the units of a monorepo root, or the files of
    one service after its analysis. The result is the same as with `jobs=1`, in the same order."""
    root = Path(root)
    versions = versions or registry.versions()
    units = find_units(root)
    plan = UnitPlan(registry, upgrades, write, versions, tuple(only), tuple(skip))
    if units == [""]:
        return migrate_unit(root, plan, progress, jobs, profile)
    owners = registry.owners()
    result = TreeResult(str(root), [], versions.as_dict(), owners=owners, units=units)
    for unit, sub in zip(
        units, run_units(migrate_unit, root, units, plan, progress, jobs, profile), strict=True
    ):
        result.absorb(unit, sub)
    return result


@dataclass(frozen=True)
class UnitPlan:
    """What every unit of a run shares: the upgrades asked for, the versions, write or not."""

    registry: Registry
    upgrades: Iterable[Upgrade | str] | None
    write: bool
    versions: Versions
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()


@dataclass
class UnitWork:
    """One unit after its analysis: what each of its files' migration needs."""

    tree: ProjectTree
    chosen: list[Upgrade]
    states: dict[str, Any]
    versions: Versions
    sweepers: list[tuple[str, Sweeper]]

    def migrate(self, rel: str, names: Sequence[str], sweeping: Sequence[str], profile: Profile | None):
        """(result, check failures) of one file that passed a pre-check."""
        relevant = [u for u in self.chosen if u.name in names]
        sweeps = [(n, s) for n, s in self.sweepers if n in sweeping]
        result = migrate_python_file(self.tree, rel, relevant, self.states, self.versions, sweeps, profile)
        timer = profile or Profile()
        with timer.timed("post-migrate check"):
            failures = check_file(result, [s for _, s in self.sweepers], self.tree.syntax_of)
        return result, failures


def migrate_unit(
    root: Path,
    plan: UnitPlan,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
    profile: Profile | None = None,
) -> TreeResult:
    """One service (or shared folder): detection, analysis, rules, sweeps, rewriters, check."""
    timer = profile or Profile()
    tree = ProjectTree(root)
    with timer.timed("analysis:detect"):
        chosen = select_upgrades(plan.registry, plan.upgrades, tree, plan.only, plan.skip)
    versions = plan.versions
    owners = {**plan.registry.owners(), **{u.rule_prefix: u.name for u in chosen}}
    result = TreeResult(str(root), [u.name for u in chosen], versions.as_dict(), owners=owners)
    states = {}
    for upgrade in chosen:  # once per unit, before any file
        with timer.timed(f"analysis:{upgrade.name}"):
            states[upgrade.name] = upgrade.analyze(tree, versions)
    sweepers = []
    for upgrade in chosen:
        with timer.timed(f"analysis:{upgrade.name} sweeper"):
            sweeper = upgrade.make_sweeper(tree, versions)
        if sweeper is not None:
            sweepers.append((upgrade.name, sweeper))
    work = UnitWork(tree, chosen, states, versions, sweepers)

    tasks: list[FileTask] = []
    slots: list[tuple[FileResult, list[CheckFailure]] | None] = []
    for rel in tree.python_files():
        with timer.timed("read"):
            text = without_markers(tree.read(rel))
        with timer.timed("pre-check"):
            names = tuple(u.name for u in chosen if u.precheck(rel, text))
            sweeping = tuple(n for n, s in sweepers if s.precheck(rel, text))
        if not names and not sweeping:
            # nothing to check either: the check reads a skipped file's (empty) result text
            slots.append((FileResult(rel, "skipped", reason="pre-check: no token of any upgrade"), []))
            continue
        with timer.timed("pre-check"):
            # a precise test per upgrade: a codemod that cannot change the file costs no parse
            working = tuple(
                u.name for u in chosen if u.name in names and u.needs_codemod(rel, text, states.get(u.name))
            )
        for name in names:
            if name not in working:
                timer.add(f"spared:{name}", 0.0)
        if progress:
            progress(rel)
        tasks.append(FileTask(len(slots), rel, working, sweeping))
        slots.append(None)
    for task, outcome in zip(tasks, run_files(work, tasks, jobs, profile), strict=True):
        slots[task.slot] = outcome

    check = CheckResult()
    owned_rules = owned_requirement_rules(chosen, states, versions)
    for fr, failures in slots:
        if fr.path.rsplit("/", 1)[-1] == "setup.py":
            _mark_setup_py(fr, tree, owned_rules)
        result.files.append(fr)
        check.extend(failures)
    with timer.timed("rewriters"):
        edited = edit_results(tree, rewrite_other_files(tree, chosen, states, versions))
        for fr in edited:
            check.extend(check_file(fr, [s for _, s in sweepers]))
    result.files.extend(edited)
    result.check = check
    if plan.write:
        for fr in result.changed:
            tree.path(fr.path).write_text(fr.new, encoding="utf-8")
    return result


def _mark_setup_py(
    fr: FileResult, tree: ProjectTree, owned_rules: Sequence[tuple[str, RequirementRule]]
) -> None:
    """setup.py's requirement strings of a package a rule changes, marked on the text the codemods left
    (the requirements rewriter does not rewrite them: see mark_declarations)."""
    if fr.status == "error":
        return
    text = fr.new if fr.status == "changed" else tree.read(fr.path)
    new_text, changes = mark_declarations(fr.path, text, owned_rules)
    if not changes:
        return
    if fr.status != "changed":
        fr.original = text
    fr.new, fr.status, fr.reason = new_text, "changed", None
    for upgrade, found in changes.items():
        fr.changes.extend(found)
        if upgrade not in fr.upgrades:
            fr.upgrades.append(upgrade)


def find_blockers(result: TreeResult) -> list[MarkerRecord]:
    """Every blocker marker in the tree as the run leaves it (written or not), from any upgrade or
    left by an earlier run: the tree is not done while one remains, whatever was detected this time."""
    tree = ProjectTree(Path(result.root))
    new_texts = {f.path: f.new for f in result.changed}
    found = []
    for rel in tree.files():
        text = new_texts.get(rel)
        if text is None:
            text = tree.read(rel)
        for line, content in iter_markers(text):
            match = MARKER_RULE.search(content)
            rule = match["rule"] if match else ""
            message = content.split("):", 1)[-1].strip()
            found.append(MarkerRecord(rel, line, rule, result.owners.get(rule_prefix(rule)), message))
    return found


def _parse_error(code: str, rel: str, exc: cst.ParserSyntaxError) -> MigrationError:
    """The input's syntax error where CPython places it (libcst's parser may name a later line: at
    `def f(:` on line 3 it says 4); libcst's own message when CPython compiles the text."""
    try:
        compile(code, rel, "exec", dont_inherit=True)
    except SyntaxError as error:
        return MigrationError(f"parse error: {error.msg}", error.lineno or exc.raw_line)
    except ValueError:  # null bytes: libcst's message
        pass
    return MigrationError(f"parse error: {exc.message}", exc.raw_line)
