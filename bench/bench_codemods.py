"""Codemod throughput vs a bare `libcst.parse_module`, over the same >= 500 Python files, in one run.

    .venv/bin/python bench/bench_codemods.py [--files 600] [--corpus DIR]

The corpus defaults to a deterministic sample of this interpreter's site-packages (plus every file
of the packages the codemods target: tenacity, aiomqtt, pytest_asyncio, so some files really are
rewritten), copied into a temporary tree. Three numbers are printed side by side:

* parse  — `libcst.parse_module` on every file once (the cost of "just parsing the tree");
* migrate — `migrators.migrate_tree` with every upgrade forced on (no detection shortcut),
            write=False: pre-check, parse + one traversal per upgrade for files that pass it,
            requirements/config rewriters, diff;
* codemod — the same run's cost per file actually parsed and transformed.

Target (issue 5): migrate over the tree costs less than parsing every file once.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import libcst

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migrators import migrate_tree  # noqa: E402
from migrators.upgrades import default_registry  # noqa: E402

TARGET_PACKAGES = ("tenacity", "aiomqtt", "pytest_asyncio")


def rate(count: float, seconds: float, width: int = 10) -> str:
    """count/second, right-aligned; files with one decimal, lines with thousands separators."""
    return f"{count / seconds:{width}.1f}" if width == 10 else f"{count / seconds:{width},.0f}"


def build_corpus(count: int, dest: Path) -> list[Path]:
    site_dir = Path(sysconfig.get_paths()["purelib"])
    candidates = sorted(
        p for p in site_dir.rglob("*.py") if p.stat().st_size < 150_000 and "__pycache__" not in p.parts
    )
    chosen = [p for p in candidates if p.relative_to(site_dir).parts[0] in TARGET_PACKAGES]
    rest = [p for p in candidates if p not in set(chosen)]
    step = max(1, len(rest) // max(1, count - len(chosen)))
    chosen += rest[::step][: max(0, count - len(chosen))]
    files = []
    for path in chosen:
        rel = path.relative_to(site_dir)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        files.append(target)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--corpus", type=Path, help="use this tree instead of a site-packages sample")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-codemods-") as tmp:
        if args.corpus:
            root = args.corpus
            files = sorted(p for p in root.rglob("*.py"))
        else:
            root = Path(tmp) / "corpus"
            files = build_corpus(args.files, root)
        texts = []
        for path in files:
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue
        lines = sum(t.count("\n") + 1 for t in texts)

        started = time.perf_counter()
        parse_errors = 0
        for text in texts:
            try:
                libcst.parse_module(text)
            except libcst.ParserSyntaxError:
                parse_errors += 1
        parse_s = time.perf_counter() - started

        upgrades = list(default_registry().upgrades)
        started = time.perf_counter()
        result = migrate_tree(root, upgrades=upgrades, write=False)
        migrate_s = time.perf_counter() - started
        diff = result.diff()

    py = [f for f in result.files if f.path.endswith(".py")]
    parsed = [f for f in py if f.status != "skipped"]
    parsed_lines = sum(f.original.count("\n") + 1 for f in parsed)
    source = "site-packages sample" if not args.corpus else root
    print(
        f"corpus: {len(texts)} Python files, {lines:,} lines ({source}); "
        f"upgrades: {', '.join(u.name for u in upgrades)}"
    )
    print(f"{'':28} {'seconds':>9} {'files/s':>10} {'lines/s':>12}")
    for label, seconds in (("libcst.parse_module (all)", parse_s), ("migrate_tree (all)", migrate_s)):
        print(f"{label:28} {seconds:9.2f} {rate(len(texts), seconds)} {rate(lines, seconds, 12)}")
    if parsed:
        print(
            f"{'  codemod, parsed files only':28} {'':9} {rate(len(parsed), migrate_s)} "
            f"{rate(parsed_lines, migrate_s, 12)}   ({len(parsed)} of {len(py)} files passed the pre-check)"
        )
    print(
        f"result: {len(result.changed)} files would change, {len(result.markers)} markers, "
        f"{len(result.errors)} errors, diff {len(diff.splitlines())} lines; "
        f"parse errors in corpus: {parse_errors}"
    )
    ratio = migrate_s / parse_s if parse_s else float("inf")
    verdict = "OK" if ratio < 1 else "SLOWER"
    print(f"migrate / parse-once = {ratio:.2f}  [{verdict}: target < 1.00]")
    return 0 if ratio < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
