"""Byte-identical guard for codemod speed work: record what a run reports, compare a later run to it.

    .venv/bin/python bench/compare_outputs.py record FILE [--services 6] [--seed 16]
    .venv/bin/python bench/compare_outputs.py check FILE [--services 6] [--seed 16]

Runs `migrate_tree` (detection, write=False, one process) over the bench's corpus (the fleet, the
migration-power corpus and `--services` generated services, see bench_codemods.build_corpus) and
keeps everything it reports: the JSON report with its diff and every file's status and new text. A
speed change must leave that identical; `check` prints the first differing files and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_codemods import build_corpus  # noqa: E402
from migrators.core.runner import migrate_tree  # noqa: E402
from migrators.upgrades import default_registry  # noqa: E402


def outputs(services: int, seed: int) -> dict[str, object]:
    """The run's report (root made relative) and each file's (status, new text), by path."""
    with tempfile.TemporaryDirectory(prefix="compare-outputs-") as tmp:
        root = build_corpus(Path(tmp) / "corpus", services, seed)
        result = migrate_tree(root, registry=default_registry(), write=False, jobs=1)
        report = json.loads(json.dumps(result.to_json()).replace(str(root), "<root>"))
    texts = {f.path: [f.status, f.new] for f in result.files}
    return {"report": report, "texts": texts}


def differences(old: dict, new: dict) -> list[str]:
    found = []
    for path in sorted(set(old["texts"]) | set(new["texts"])):
        if old["texts"].get(path) != new["texts"].get(path):
            found.append(f"text/status differs: {path}")
    for key in sorted(set(old["report"]) | set(new["report"])):
        if old["report"].get(key) != new["report"].get(key):
            found.append(f"report field differs: {key}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "check"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--services", type=int, default=6)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    now = outputs(args.services, args.seed)
    if args.action == "record":
        args.file.write_text(json.dumps(now, sort_keys=True), encoding="utf-8")
        print(f"recorded {len(now['texts'])} files to {args.file}")
        return 0
    found = differences(json.loads(args.file.read_text(encoding="utf-8")), now)
    for line in found[:30]:
        print(line)
    print(f"{len(now['texts'])} files: {'IDENTICAL' if not found else f'{len(found)} differences'}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
