"""Score the codemods on the real-shaped influxdb-client corpus (issue 11).

    .venv/bin/python bench/score_corpus.py [--details] [--json FILE]

Copies `tests/migrators/corpus/` to a temporary directory, runs `python -m migrators` per service (twice,
for idempotence) and once on a root holding every service, then prints translated / marked / silent per
kind and per shape tag, and the issue's targets. Exit 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.migrators import corpus_score  # noqa: E402  (the scorer the test suite uses too)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="list every failing site and file")
    parser.add_argument("--json", type=Path, help="also write every site's outcome to this file")
    args = parser.parse_args(argv)
    score = corpus_score.score()
    print(corpus_score.format_table(score))
    if args.details:
        print()
        print(corpus_score.format_details(score, limit=1000))
    if args.json:
        rows = [
            {**asdict(r.site), "outcome": r.outcome, "located_by": r.located_by, "detail": r.detail}
            for r in score.sites
        ]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(t.ok for t in corpus_score.targets(score)) else 1


if __name__ == "__main__":
    sys.exit(main())
