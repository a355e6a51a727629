"""Codemods on a realistic corpus vs a bare `libcst.parse_module` of the same files, in one run.

    .venv/bin/python bench/bench_codemods.py [--services 40] [--seed 16] [--jobs 2] [--corpus DIR]

The corpus (issue 16) is what users run the migrators on, copied into a temporary monorepo root:

* fleet/     — this repository's `services/`;
* corpus/    — the migration-power corpus, `tests/migrators/corpus/`;
* generated/ — `--services` services written by `bench/gen_services.py` (seeded, deterministic):
               many test files with async fixtures and pytest-asyncio marks, tenacity retries, MQTT
               clients and InfluxDB clients kept on `self`, wrappers, Flux builders.

Most of its files pass a pre-check, so the codemods, not the skip, are timed. Printed side by side:

* parse     — `libcst.parse_module` of every Python file once, one process;
* migrate   — `migrate_tree` over the root with detection, write=False, one process (`-j 1`);
* migrate -j N — the same with N worker processes; its output must equal the `-j 1` output;

and two floors, measured in the same run from the `-j 1` run's output:

* libcst floor — `libcst.parse_module` + one hook-less traversal + render of each changed file: the
  least a codemod that parses and traverses every file it changes can do;
* statement floor — the least a statement-level design can do: CPython's `ast.parse` of every file
  (the analysis' parse) + for each changed file, libcst only on the top-level statements its diff
  touches (by CPython's line ranges, decorators included; a changed import counts its whole import
  block; a marker line inserted between statements counts the statement below it, where libcst keeps
  it as a leading line): `libcst.parse_statement` + a hook-less traversal + render of each. It prints
  the share of the changed files' lines those statements hold and whether the floor itself is under
  each target (one process, and -j N divided evenly). Both floors hold no analysis, rule, sweep or
  check: a design meets a target only if its floor leaves room for them.

  Measured on 2026-11-26/27 (--services 10, 2 cores shared, load 3-15; six runs, CPU): the statement
  floor printed 1.19x-2.20x a parse of all (CPython's parse of every file 0.04x-0.07x of it), the
  libcst floor 1.38x-2.73x; in each run the statement floor was 0.70-0.86 of the libcst floor. The
  1434 changed top-level statements hold 52% of the changed files' lines: a marker or rewrite anywhere
  in a test function or class hands libcst all of it. So the floor of a statement-level redesign is
  about the one-process target (under it in two runs of six), and under the -j 2 target only if two
  workers halved it exactly, before the analyses, sweep and post-migrate check (together 1.5x-2x a
  parse in the same runs, without pytest-asyncio's libcst parses) do anything: a statement-level
  redesign alone does not reach 1.5x / 0.8x.

then the `-j 1` run's profile: seconds per phase (read, pre-check, analysis, parse, metadata,
transform, render, sweep, re-parse check, post-migrate check, rewriters), per upgrade and per
metadata provider. Targets: migrate <= 1.5x parse, migrate -j 2 <= 0.8x parse. Exit 1 if missed.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import libcst

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gen_services import generate  # noqa: E402
from migrators.core.profile import Profile  # noqa: E402
from migrators.core.runner import migrate_tree  # noqa: E402
from migrators.upgrades import default_registry  # noqa: E402

SINGLE_TARGET = 1.5
PARALLEL_TARGET = 0.8


def build_corpus(dest: Path, services: int, seed: int) -> Path:
    """The fleet, the corpus and `services` generated services under one monorepo root."""
    shutil.copytree(ROOT / "services", dest / "fleet", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    shutil.copytree(
        ROOT / "tests/migrators/corpus", dest / "corpus", ignore=shutil.ignore_patterns("__pycache__")
    )
    generate(dest / "generated", services, seed)
    return dest


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the -j workers): on a loaded machine
    the wall clock also counts the waits for a core, so both are printed."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def bare_parse(texts: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, parse errors) for one libcst.parse_module per text."""
    errors = 0
    started, cpu = time.perf_counter(), cpu_seconds()
    for text in texts:
        try:
            libcst.parse_module(text)
        except libcst.ParserSyntaxError:
            errors += 1
    return time.perf_counter() - started, cpu_seconds() - cpu, errors


class _NoOp(libcst.CSTTransformer):
    """Visits every node and changes none: the least a libcst codemod does to a file it rewrites."""


def libcst_floor(texts: list[str]) -> tuple[float, float]:
    """(wall, CPU seconds) of the least work any codemod built on libcst does to the files it changes:
    one parse, one traversal of the whole tree by a transformer with no hooks, one render. No
    metadata, no analysis, one upgrade instead of four: what no caching of analyses can go below."""
    started, cpu = time.perf_counter(), cpu_seconds()
    for text in texts:
        libcst.parse_module(text).visit(_NoOp()).code  # noqa: B018 - the render is the point
    return time.perf_counter() - started, cpu_seconds() - cpu


@dataclass(frozen=True)
class StatementFloor:
    """The least work of a statement-level design: CPython parses every file, libcst only the
    top-level statements a migration changes."""

    wall: float
    cpu: float
    ast_wall: float  # of which the CPython parse of every file
    ast_cpu: float
    statements: int  # top-level statements handed to libcst
    statement_lines: int  # their lines
    changed_lines: int  # all lines of the changed files


def _statement_spans(tree: ast.Module) -> list[tuple[int, int, bool]]:
    """(first line incl. decorators, last line, is an import) of each top-level statement; statements
    sharing a line (`a = 1; b = 2`) are one span, as libcst makes them one SimpleStatementLine."""
    spans: list[tuple[int, int, bool]] = []
    for stmt in tree.body:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        last = stmt.end_lineno or stmt.lineno
        is_import = isinstance(stmt, (ast.Import, ast.ImportFrom))
        if spans and first <= spans[-1][1]:
            start, end, was_import = spans.pop()
            spans.append((start, max(end, last), was_import and is_import))
        else:
            spans.append((first, last, is_import))
    return spans


def _owner(spans: list[tuple[int, int, bool]], line: int) -> int:
    """The span a line of the original belongs to: the statement holding it, else the next one (a
    comment or blank line above a statement is its leading line in libcst), else the last."""
    for i, (_, last, _) in enumerate(spans):
        if line <= last:
            return i
    return len(spans) - 1


def _import_block(spans: list[tuple[int, int, bool]], i: int) -> range:
    """The run of consecutive import statements around span i (an import block change counts all)."""
    start = end = i
    while start > 0 and spans[start - 1][2]:
        start -= 1
    while end + 1 < len(spans) and spans[end + 1][2]:
        end += 1
    return range(start, end + 1)


def changed_statements(before: str, after: str) -> list[str]:
    """The source of each top-level statement of `before` whose lines the diff to `after` touches
    (by CPython's line ranges, decorators included); a touched import touches its whole block. Lines
    inserted between statements go to the statement below them (libcst's leading lines: a marker
    comment), or, when they hold an import, to the statement above them (its import block)."""
    spans = _statement_spans(ast.parse(before))
    if not spans:
        return []
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    touched: set[int] = set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:  # replaced or deleted lines of the original (1-based i1+1 .. i2)
            touched |= {_owner(spans, line) for line in range(i1 + 1, i2 + 1)}
            continue
        if i1 and re.search(r"^\s*(from|import)\s", "".join(new[j1:j2]), re.M):
            touched.add(_owner(spans, i1))  # an inserted import: the statement above (its block)
        else:
            touched.add(_owner(spans, i1 + 1))  # a marker or note: the statement below
    blocks = set()
    for i in touched:
        blocks |= set(_import_block(spans, i)) if spans[i][2] else {i}
    return ["".join(old[spans[i][0] - 1 : spans[i][1]]) for i in sorted(blocks)]


def statement_floor(texts: list[str], changed: list[tuple[str, str]]) -> StatementFloor:
    """CPython `ast.parse` of every text (what the analysis already does), then for each changed
    file's (before, after) only the top-level statements the diff touches: `libcst.parse_statement`
    + a hook-less traversal + render of each. Finding the statements (difflib) is not timed: a
    statement-level design would know them from its CPython analysis."""
    statements = [s for before, after in changed for s in changed_statements(before, after)]
    empty = libcst.Module(body=[])
    started, cpu = time.perf_counter(), cpu_seconds()
    for text in texts:
        ast.parse(text)
    ast_wall, ast_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    for source in statements:
        empty.code_for_node(libcst.parse_statement(source).visit(_NoOp()))
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    statement_lines = sum(s.count("\n") for s in statements)
    changed_lines = sum(before.count("\n") for before, _ in changed)
    return StatementFloor(wall, cpu, ast_wall, ast_cpu, len(statements), statement_lines, changed_lines)


def statement_floor_summary(found: StatementFloor, parse: tuple[float, float], jobs: int) -> str:
    """What the statement floor says of the targets: whether a design that gives libcst only the
    changed top-level statements could meet them, by this run's numbers (wall and CPU)."""
    share = found.statement_lines / max(found.changed_lines, 1)
    wall, cpu = found.wall / parse[0], found.cpu / parse[1]

    def verdict(ratio: float, target: float) -> str:
        return f"{'below' if ratio <= target else 'ABOVE'} {target}x"

    return (
        f"  statement floor = CPython ast.parse of all ({found.ast_wall / parse[0]:.2f}x wall, "
        f"{found.ast_cpu / parse[1]:.2f}x CPU) + libcst parse_statement, hook-less traversal and render "
        f"of the {found.statements} top-level statements the diffs touch, which hold {share:.0%} of the "
        f"changed files' lines ({found.statement_lines:,} of {found.changed_lines:,}): {wall:.2f}x wall, "
        f"{cpu:.2f}x CPU a parse of all, {verdict(cpu, SINGLE_TARGET)} in one process; "
        f"{cpu / jobs:.2f}x if -j {jobs} divided it evenly, {verdict(cpu / jobs, PARALLEL_TARGET)}. "
        "No analysis, rule, sweep or check is in it: the work a rule does must fit in what is left"
    )


def timed_migrate(root: Path, jobs: int, profile: Profile | None = None):
    """(wall seconds, CPU seconds, result)."""
    registry = default_registry()
    started, cpu = time.perf_counter(), cpu_seconds()
    result = migrate_tree(root, registry=registry, write=False, jobs=jobs, profile=profile)
    return time.perf_counter() - started, cpu_seconds() - cpu, result


def fingerprint(result) -> str:
    """Everything a run reports (JSON report with diff, and every file's text), to compare runs."""
    report = result.to_json()
    report["texts"] = [(f.path, f.status, f.new) for f in result.files]
    return json.dumps(report, sort_keys=True)


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def row(label: str, seconds: float, cpu: float, files: int, lines: int, parse: tuple[float, float]) -> str:
    return (
        f"{label:26} {seconds:9.2f} {files / seconds:9.1f} {lines / seconds:11,.0f} "
        f"{seconds / parse[0]:8.2f}x {cpu:9.2f} {cpu / parse[1]:8.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=40, help="generated services (default 40)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2, help="workers of the parallel run (default 2)")
    parser.add_argument("--corpus", type=Path, help="time this tree instead of the generated corpus")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-codemods-") as tmp:
        root = args.corpus or build_corpus(Path(tmp) / "corpus", args.services, args.seed)
        files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
        lines = sum(t.count("\n") + 1 for t in texts)

        parse_s, parse_cpu, parse_errors = bare_parse(texts)
        profile = Profile()
        single_s, single_cpu, single = timed_migrate(root, 1, profile)
        parallel_s, parallel_cpu, parallel = timed_migrate(root, args.jobs)
        same = fingerprint(single) == fingerprint(parallel)
        changed = {f.path for f in single.changed}
        floor_s, floor_cpu = libcst_floor(
            [t for p, t in zip(files, texts, strict=True) if rel(p, root) in changed]
        )
        stmt_floor = statement_floor(
            texts, [(f.original, f.new) for f in single.changed if f.path.endswith(".py")]
        )

    py = [f for f in single.files if f.path.endswith(".py")]
    parsed = [f for f in py if f.status != "skipped"]
    print(
        f"corpus: {len(texts)} Python files, {lines:,} lines "
        f"({args.corpus or f'fleet + corpus + {args.services} generated services, seed {args.seed}'}); "
        f"{len(parsed)} of {len(py)} files passed a pre-check; {len(single.units or [''])} units"
    )
    print(
        f"result: {len(single.changed)} files changed, {len(single.markers)} markers, "
        f"{len(single.errors)} errors, {len(single.check.failures if single.check else [])} check "
        f"failures; parse errors in corpus: {parse_errors}"
    )
    print()
    parse = (parse_s, parse_cpu)
    print(
        f"{'':26} {'wall s':>9} {'files/s':>9} {'lines/s':>11} {'vs parse':>9} {'CPU s':>9} {'vs parse':>9}"
    )
    print(row("libcst.parse_module (all)", parse_s, parse_cpu, len(texts), lines, parse))
    print(row("migrate, 1 process", single_s, single_cpu, len(texts), lines, parse))
    print(row(f"migrate, -j {args.jobs}", parallel_s, parallel_cpu, len(texts), lines, parse))
    print(f"-j {args.jobs} output {'identical to' if same else 'DIFFERS from'} -j 1")
    print(row(f"libcst floor ({len(changed)} changed)", floor_s, floor_cpu, len(texts), lines, parse))
    floor = floor_s / parse_s
    print(
        f"  floor = parse + one hook-less traversal + render of each changed file: {floor:.2f}x a parse of "
        f"all ({floor / 2:.2f}x if -j 2 halved it); "
        "no codemod that traverses the files it changes goes lower"
    )
    print(row("statement floor", stmt_floor.wall, stmt_floor.cpu, len(texts), lines, parse))
    print(statement_floor_summary(stmt_floor, parse, args.jobs))
    print()
    print("profile of the 1-process run (CPU seconds):")
    print(profile.format())
    print()
    # the targets are wall-clock ratios measured side by side (CPU ratios above, for a loaded machine)
    single_ratio, parallel_ratio = single_s / parse_s, parallel_s / parse_s
    ok_single, ok_parallel = single_ratio <= SINGLE_TARGET, parallel_ratio <= PARALLEL_TARGET
    print(
        f"migrate / parse = {single_ratio:.2f}  "
        f"[{'OK' if ok_single else 'MISSED'}: target <= {SINGLE_TARGET}]"
    )
    print(
        f"migrate -j {args.jobs} / parse = {parallel_ratio:.2f}  "
        f"[{'OK' if ok_parallel else 'MISSED'}: target <= {PARALLEL_TARGET}]"
    )
    return 0 if ok_single and ok_parallel and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
