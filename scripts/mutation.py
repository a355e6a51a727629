#!/usr/bin/env python3
"""Mutation testing of the core promises with mutmut 3: the score per module and how long it took.

Each module group is mutated in a project of its own under `.sandbox/mutation/<group>` (a copy of
the sources and tests, with a generated `[tool.mutmut]`), so the worktree is never mutated and two
groups never share mutmut's state. Only fast in-process tests run per mutant (no Docker).

    .venv/bin/python scripts/mutation.py                  # every group
    .venv/bin/python scripts/mutation.py --module promote # one group (repeatable)
    .venv/bin/python scripts/mutation.py --list           # the groups and what they mutate
    .venv/bin/python scripts/mutation.py --named          # the hand-written mutants of issue 17
    .venv/bin/python scripts/mutation.py --module report --resume  # only the last run's survivors
    .venv/bin/python scripts/mutation.py --score-only     # the stored results again, nothing run
    .venv/bin/python scripts/mutation.py --module pipeline --names 'sandbox.pipeline.schedule.*'
                                                          # only these mutants of the group: run and score

The score is killed (or timed out) over every judged mutant, and a mutant that no selected test reaches
("no tests") counts as not killed: a group's mutant-name globs scope it to the functions that hold its
promise instead. Exit 1 when a group scores below --min-score (default 85%), did not finish, or a
surviving or unreached mutant is not listed in tests/mutation/equivalent.md; they are printed so each
gets a test or a one-line reason. mutmut runs only the tests that reached a mutant's function.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".sandbox" / "mutation"
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent.md"
STANDIN = ROOT / "images" / "influxdb3-lite" / "influxdb3_lite"


@dataclass(frozen=True)
class Group:
    """One mutation run: the files mutated, the mutant-name globs run, the fast tests that judge them."""

    name: str
    promise: str
    mutate: tuple[str, ...]  # paths inside the generated project
    tests: tuple[str, ...]
    names: tuple[str, ...] = ()  # mutant-name globs; empty: every mutant of `mutate`


GROUPS = (
    Group(
        "promote",
        "content hashing, verified records, the gate, promote/revert all or nothing",
        ("sandbox/workspace.py", "sandbox/records.py", "sandbox/promote.py"),
        (
            "tests/sandbox/test_promote.py",
            "tests/sandbox/test_promote_stale.py",
            "tests/sandbox/test_promote_edges.py",
            "tests/sandbox/test_gate_records.py",
            "tests/sandbox/test_mutation_kills_promote.py",
            "tests/sandbox/test_mutation_kills_records.py",
            "tests/sandbox/containment/test_hash.py",
            # not test_escapes_are_refused_and_the_fleet_goes_on: a Docker run of the CLI in a subprocess
            # (30 s in every clean run), which no mutant of this process can reach
            "tests/sandbox/containment/test_escape.py::test_the_workspace_refuses_escapes_whatever_the_parser_accepted",
            "tests/sandbox/containment/test_escape.py::test_links_inside_the_copied_tree_are_copied_as_links",
        ),
        (
            "sandbox.promote.*",
            "sandbox.records.*",
            # the workspace's content hash, its changes and markers; the copy's containment (check_tree,
            # _copy, ...) is another promise (tests/sandbox/containment), diff text and stats are report
            "sandbox.workspace.x_content_hash*",
            "sandbox.workspace.x__files*",
            "sandbox.workspace.x_changes*",
            "sandbox.workspace.x_find_markers*",
        ),
    ),
    Group(
        "pipeline",
        "a service's stages run until a blocking one fails; phases in order, the failure-rate stop",
        # schedule.py holds the slots and the wait for a phase's stop rule since the phases overlap
        ("sandbox/pipeline/run.py", "sandbox/pipeline/schedule.py"),
        (
            "tests/sandbox/pipeline/test_phase_stop.py",
            "tests/sandbox/pipeline/test_judgements.py",
            "tests/sandbox/pipeline/test_outcome_dict.py",
            "tests/sandbox/pipeline/test_schedule.py",
            "tests/sandbox/pipeline/test_mutation_kills_schedule.py",
            "tests/sandbox/test_mutation_kills_pipeline.py",
            "tests/sandbox/test_mutation_kills_interrupt.py",
        ),
        ("sandbox.pipeline.schedule.*",)
        + tuple(
            f"sandbox.pipeline.run.{name}*"
            for name in (
                # the stage loop and what a service's outcome reports
                "xǁServiceOutcomeǁ",
                "x_verify_service",
                "x__verify_stages",
                "x__start_next_deps",
                "x__run_stage",
                "x__add__",
                "x__accepted",
                "x__describe",
                # phases, -j, the failure-rate stop and an interrupted run's report and sweeps
                "x_verify_fleet",
                "x__phases",
                "x__later",
                "x__run_phase",
                "x__start_and_join",
                "x__worker",
                "x__join",
                "x__add_missing",
                "xǁFleetInterruptedǁ",
                "x__settle",
                "x__on_cancel",
                "x__reap",
                "x_new_run",
                # verify only what changed: a service's cache answer, reuse, remember or forget
                "x__inputs",
                "x__reuse",
                "x__update_cache",
                "xǁRunǁimages",
            )
        ),
    ),
    Group(
        "report",
        "report counting: nothing counted as verified that was not",
        ("sandbox/report/document.py",),
        (
            "tests/sandbox/pipeline/test_judgements.py",
            "tests/sandbox/test_report_counts.py",
            "tests/sandbox/report/test_document.py",
            "tests/sandbox/report/test_summary.py",
            "tests/sandbox/report/test_junit.py",
            # not test_history.py: its CLI tests run `python -m sandbox.cli` subprocesses (minutes each)
            "tests/sandbox/test_mutation_kills_report.py",
        ),
        (
            "sandbox.report.document.x_build_report*",
            "sandbox.report.document.x_merge_reports*",
            "sandbox.report.document.x_service_entry*",
            "sandbox.report.document.x_not_run_entry*",
            "sandbox.report.document.x_by_priority*",
            "sandbox.report.document.x_by_migration*",
        ),
    ),
    Group(
        "markers",
        "the migrators' blocker markers and the IX-13 record-loop guards",
        ("migrators/core/codemod.py", "migrators/core/results.py", "migrators/upgrades/influxdb3/queries.py"),
        (
            "tests/migrators/core",
            # its units run in worker processes, which no mutant of this process reaches (and it needs bench/)
            "--ignore=tests/migrators/core/test_parallel.py",
            # not test_flux_execution.py: it runs the stand-in image
            "tests/migrators/upgrades/influxdb3/test_influxdb3.py",
            "tests/migrators/upgrades/influxdb3/test_record_loop_guards.py",
        ),
        (
            # the marker bookkeeping of MigrationCodemod; not LazyMetadata, transform_shared,
            # _run_import_edit, on_visit_attribute/on_leave_attribute or qualified_names: the traversal's
            # speed-ups and name lookups, which give libcst's own result (test_framework.py and the
            # fleet's byte-identical migration hold them), not where a marker lands or how it is counted
            "migrators.core.codemod.x_dotted*",
            "migrators.core.codemod.x_can_lead*",
            *(
                f"migrators.core.codemod.xǁMigrationCodemodǁ{name}__mutmut_*"
                for name in (
                    "__init__",
                    "line_of",
                    "rewrote",
                    "info_only",
                    "mark",
                    "note_above",
                    "_attach",
                    "_statement_for",
                    "on_visit",
                    "on_leave",
                    "_with_header",
                    "_flush",
                    "_with_comments",
                )
            ),
            "migrators.core.results.*",
            "migrators.upgrades.influxdb3.queries.xǁ_ResultPlannerǁplan_loop*",
            "migrators.upgrades.influxdb3.queries.x__single_inner_for*",
        ),
    ),
    Group(
        "standin",
        "the stand-in's write path: line protocol parsing",
        ("influxdb3_lite/lineproto.py",),
        (
            "tests/standin/test_lpgrammar.py",
            "tests/standin/test_writepath_lineproto.py",
            # the deterministic cases only: the fuzz tests (300 examples each) compare the column-wise
            # path with this parser, which a mutant moves on both sides, and cost minutes per mutant
            "tests/standin/test_lineproto_paths.py::test_column_limit_agrees_with_reference",
            "tests/standin/test_lineproto_paths.py::test_common_batch_takes_the_column_path",
            "tests/standin/test_lineproto_paths.py::test_many_shapes_agree_with_reference",
        ),
    ),
)


@dataclass(frozen=True)
class Named:
    """A hand-written mutant that must be killed: one regex edit of one file, and the tests that judge it.

    These are the mutations a reviewer found surviving (issue 17) and a parser bug that only an execution
    test (not a frozen SQL string) may catch; mutmut's operators cannot write them.
    """

    name: str
    path: str
    pattern: str  # must match exactly once; no match means the source moved and the mutant is stale
    replacement: str
    tests: tuple[str, ...]


NAMED = (
    Named(
        "promote-folder-stale-check",
        "sandbox/promote.py",
        r"changed = \[rel for rel, state in content_states\(repo_root, record\)\.items\(\) if not state\]",
        "changed = []",
        ("tests/sandbox/test_promote_stale.py",),
    ),
    Named(
        "phase-stop",
        # the stop rule moved from run.py to the schedule (Schedule._over_limit) with the overlapping phases
        "sandbox/pipeline/schedule.py",
        r"if rate <= self\._max_rate or",
        "if True or",
        ("tests/sandbox/pipeline/test_phase_stop.py",),
    ),
    Named(
        "record-loop-guard",
        "migrators/upgrades/influxdb3/queries.py",
        r"if not \(\s*isinstance\(records, cst\.Attribute\)",
        "if False and (isinstance(records, cst.Attribute)",
        ("tests/migrators/upgrades/influxdb3/test_record_loop_guards.py",),
    ),
    Named(
        "flux-parser-not-equal-read-as-equal",
        "migrators/upgrades/influxdb3/flux.py",
        r"op = self\.take\(\)\.text\n(\s*)return Binary\(op, left, self\.additive\(\)\)",
        'op = self.take().text.replace("!=", "==")\n\\1return Binary(op, left, self.additive())',
        # execution only: the translated SQL run on the stand-in against the independent reference
        ("tests/migrators/upgrades/influxdb3/test_flux_execution.py", "tests/migrators/test_written_sql.py"),
    ),
)


# mutmut's statuses a score is made of; "not checked", "skipped" etc. are runs that did not finish
JUDGED = ("killed", "timeout", "survived", "no tests")


@dataclass
class Score:
    group: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def judged(self) -> int:
        # a mutant no selected test reaches ("no tests") is not caught: it counts like a survivor
        return sum(self.counts.get(status, 0) for status in JUDGED)

    @property
    def percent(self) -> float:
        caught = self.counts.get("killed", 0) + self.counts.get("timeout", 0)
        return 100.0 * caught / self.judged if self.judged else 0.0


# tests/migrators/corpus stays: test_check_and_units.py::test_find_units reads it
_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache")


def _project(group: Group) -> Path:
    """A fresh copy of the sources and tests with a [tool.mutmut] for this group."""
    root = WORK / group.name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for part in ("sandbox", "migrators", "tests", "docs", ".github"):
        shutil.copytree(ROOT / part, root / part, ignore=_IGNORE)
    # The stand-in is imported as the top-level package `influxdb3_lite`; mutmut names mutants by path,
    # so the package sits at the project root (and images/ is absent, so only the mutants import).
    shutil.copytree(STANDIN, root / "influxdb3_lite", ignore=_IGNORE)
    _configure(group, root)
    return root


def _refresh_tests(group: Group, root: Path) -> None:
    """--resume: the checkout's current tests in the group's project; the sources stay as mutated, so
    mutmut keeps every result and only the mutants named again are tested (with new tests found)."""
    shutil.rmtree(root / "tests")
    shutil.copytree(ROOT / "tests", root / "tests", ignore=_IGNORE)
    _configure(group, root)


def _configure(group: Group, root: Path) -> None:
    sources = sorted({path.split("/")[0] for path in group.mutate})
    tests = [t for t in group.tests if t.startswith("-") or (root / t.split("::")[0]).exists()]
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\][^\[]*", "\n", text)
    text += (
        "\n[tool.mutmut]\n"
        f"source_paths = {json.dumps(sources)}\n"
        f"only_mutate = {json.dumps(list(group.mutate))}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-q"]\n'
        'also_copy = ["tests", "docs", ".github", "sandbox", "migrators", "influxdb3_lite"]\n'
        "use_setproctitle = false\n"
    )
    (root / "pyproject.toml").write_text(text)


def _mutmut_path() -> Path:
    return Path(sys.executable).with_name("mutmut")


def _mutmut(root: Path, *args: str, timeout: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(_mutmut_path()), *args], cwd=root, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_group(group: Group, workers: int, resume: bool | str = False, only: tuple[str, ...] = ()) -> Score:
    """Every mutant of the group in a fresh project; with `resume`, only the last run's survivors again.
    `only` (--names) narrows the run and the score to the group's mutants matching one of these globs."""
    begin = time.monotonic()
    root = WORK / group.name
    if resume == "score":  # --score-only: what the last run stored, nothing run
        return _results(group, root, 0.0, only)
    with _group_lock(group):
        return _run_locked(group, root, workers, resume, only, begin)


@contextlib.contextmanager
def _group_lock(group: Group) -> Iterator[None]:
    """One run per group at a time: a second run would delete the project the first is mutating."""
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / f"{group.name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(
                f"mutation: another run of group {group.name} is in progress here; wait for it to end"
            ) from None
        yield


def _run_locked(
    group: Group, root: Path, workers: int, resume: bool | str, only: tuple[str, ...], begin: float
) -> Score:
    names: tuple[str, ...] = only or group.names
    if resume and (root / "mutants").is_dir():
        names = _not_killed(group, root, survivors_only=resume == "survivors", only=only)
        _refresh_tests(group, root)
    else:
        root = _project(group)
    if names or not resume:
        proc = _mutmut(root, "run", "--max-children", str(workers), *names)
        (root / "mutmut-run.log").write_text(proc.stdout + proc.stderr)
        # a clean run or the stats collection that failed leaves every mutant unjudged
        if proc.returncode != 0 and not _results(group, root, 0.0, only).judged:
            raise SystemExit(f"mutmut failed for {group.name}; see {root / 'mutmut-run.log'}")
    return _results(group, root, time.monotonic() - begin, only)


def _not_killed(
    group: Group, root: Path, survivors_only: bool = False, only: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The mutants an interrupted or earlier run left surviving, unreached or (unless `survivors_only`)
    never checked."""
    results = _mutmut(root, "results", "--all", "true").stdout.splitlines()
    pairs = [line.strip().rpartition(": ")[::2] for line in results]
    wanted = ("survived", "no tests") if survivors_only else ("survived", "no tests", "not checked")
    return tuple(name for name, status in pairs if status.strip() in wanted and _in_scope(name, group, only))


def _in_scope(name: str, group: Group, only: tuple[str, ...] = ()) -> bool:
    """Whether a mutant counts for the group: one of its globs, and one of `only` (--names) if given."""
    in_group = any(_matches(name, glob) for glob in group.names or ("*",))
    return in_group and (not only or any(_matches(name, glob) for glob in only))


def _results(group: Group, root: Path, seconds: float, only: tuple[str, ...] = ()) -> Score:
    """The group's mutants (those matching `only`, if given) and their status, from mutmut's results."""
    score = Score(group.name, seconds=seconds)
    if not (root / "mutants").is_dir():  # never run here
        return score
    results = _mutmut(root, "results", "--all", "true")
    for line in results.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name or not _in_scope(name, group, only):
            continue
        status = status.strip()
        score.counts[status] = score.counts.get(status, 0) + 1
        if status in ("survived", "no tests"):
            score.survivors.append(name)
    return score


def _matches(name: str, glob: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(name, glob)


def equivalent_names() -> list[str]:
    """Mutant-name globs listed in tests/mutation/equivalent.md: "- `name__mutmut_3/5/6`: reason"."""
    if not EQUIVALENT.is_file():
        return []
    names = []
    for token in re.findall(r"^- `([^`]+)`", EQUIVALENT.read_text(), re.MULTILINE):
        stem, _, numbers = token.rpartition("__mutmut_")
        names += [f"{stem}__mutmut_{n}" for n in numbers.split("/")] if stem else [token]
    return names


def explained(name: str, equivalent: list[str]) -> bool:
    return any(_matches(name, glob) for glob in equivalent)


def _named_project(mutant: Named) -> Path:
    """A copy of the checkout (sources, tests, the stand-in) with the one edit applied."""
    root = WORK / "named" / mutant.name
    shutil.rmtree(root, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "corpus", ".sandbox", ".venv", ".git")
    for part in ("sandbox", "migrators", "tests", "docs", "images", "pyproject.toml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(source, root / part)
    target = root / mutant.path
    text, count = re.subn(mutant.pattern, mutant.replacement, target.read_text())
    if count != 1:
        raise SystemExit(f"named mutant {mutant.name}: pattern found {count} times in {mutant.path} (stale)")
    target.write_text(text)
    return root


def run_named(mutant: Named) -> tuple[str, float]:
    """'killed' when a judging test fails on the mutant (pytest exit 1), 'survived' when all pass."""
    begin = time.monotonic()
    root = _named_project(mutant)
    # pythonpath = ["."] in pyproject puts the copy first on sys.path, before the editable install;
    # -p no:randomly etc. are not needed: the tests are deterministic
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-n", "0", *mutant.tests]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    (root / "pytest.log").write_text(proc.stdout + proc.stderr)
    status = {0: "survived", 1: "killed"}.get(proc.returncode, f"error (pytest exit {proc.returncode})")
    return status, time.monotonic() - begin


def main_named() -> int:
    failed = False
    for mutant in NAMED:
        status, seconds = run_named(mutant)
        print(f"{mutant.name:<40} {status:<10} {seconds:>5.0f}s  ({mutant.path})", flush=True)
        failed |= status != "killed"
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--module", action="append", choices=[g.name for g in GROUPS], help="a group to run")
    parser.add_argument(
        "--workers", type=int, default=1, help="mutants tested at once (the machine is shared)"
    )
    parser.add_argument("--min-score", type=float, default=85.0)
    parser.add_argument("--list", action="store_true", help="print the groups and exit")
    parser.add_argument("--json", type=Path, help="also write the scores to this file")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="test only the last run's survivors and unchecked mutants, with the current tests",
    )
    parser.add_argument("--named", action="store_true", help="run only the hand-written mutants (issue 17)")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="like --resume, but only the survivors and unreached mutants (new tests first, unchecked later)",
    )
    parser.add_argument(
        "--score-only", action="store_true", help="score what the last run of each group stored; run nothing"
    )
    parser.add_argument(
        "--names",
        action="append",
        default=[],
        metavar="GLOB",
        help="only the group's mutants whose names match (repeatable): run and score just these",
    )
    args = parser.parse_args(argv)
    if not args.list and not args.score_only and not _mutmut_path().is_file():
        # an environment error (exit 2) with the next step, not a traceback from the first group's run
        print(
            f"mutation: mutmut is not installed beside {sys.executable}; "
            f'install it with: {Path(sys.executable).with_name("pip")} install "mutmut>=3.3,<4"',
            file=sys.stderr,
        )
        return 2
    if args.named:
        return main_named()
    if args.list:
        for group in GROUPS:
            print(f"{group.name:<9} {group.promise}\n          mutates {', '.join(group.mutate)}")
        return 0
    chosen = [g for g in GROUPS if not args.module or g.name in args.module]
    equivalent = equivalent_names()
    begin = time.monotonic()
    scores = []
    for group in chosen:
        print(f"[mutation] {group.name}: {', '.join(group.mutate)}", flush=True)
        mode = "score" if args.score_only else "survivors" if args.survivors else args.resume
        score = run_group(group, args.workers, mode, tuple(args.names))
        scores.append(score)
        print(
            f"[mutation] {group.name}: {score.percent:.1f}% killed ({score.counts}) in {score.seconds:.0f}s",
            flush=True,
        )
    failed = False
    print(
        f"\n{'module':<10} {'killed':>7} {'timeout':>8} {'survived':>9} {'no tests':>9} {'unrun':>6} "
        f"{'score':>7} {'time':>7}"
    )
    for score in scores:
        if not score.counts:  # no project, or no mutant of the selection: no score, not 0% of something
            print(f"{score.group:<10} no results in {WORK / score.group} (never run here)")
            failed = True
            continue
        unrun = sum(v for k, v in score.counts.items() if k not in JUDGED)
        print(
            f"{score.group:<10} {score.counts.get('killed', 0):>7} {score.counts.get('timeout', 0):>8} "
            f"{score.counts.get('survived', 0):>9} {score.counts.get('no tests', 0):>9} {unrun:>6} "
            f"{score.percent:>6.1f}% {score.seconds:>6.0f}s"
        )
        unexplained = [name for name in score.survivors if not explained(name, equivalent)]
        for name in unexplained:
            print(f"  survived, no test and no reason in {EQUIVALENT.relative_to(ROOT)}: {name}")
        # a run that did not finish is no score: its unchecked mutants might all survive
        failed |= score.percent < args.min_score or bool(unexplained) or unrun > 0
    print(f"total time {time.monotonic() - begin:.0f}s")
    if args.json:
        args.json.write_text(
            json.dumps([{**s.__dict__, "percent": round(s.percent, 1)} for s in scores], indent=2)
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
