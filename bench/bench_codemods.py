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

then the `-j 1` run's profile: seconds per phase (read, pre-check, analysis, parse, metadata,
transform, render, sweep, re-parse check, post-migrate check, rewriters), per upgrade and per
metadata provider. Targets: migrate <= 1.5x parse, migrate -j 2 <= 0.8x parse. Exit 1 if missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
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
