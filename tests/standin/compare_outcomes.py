"""Compare two junit reports of the same suites (the nightly fidelity job: the real
influxdb:3-core, then the stand-in): exit 1 unless every test passed on both sides.

A test that fails on both, is skipped, or ran on one side only counts as a difference too: the
suites are written to pass on the real server, so anything else needs a look.

usage: python tests/standin/compare_outcomes.py real.xml standin.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def outcomes(path: Path) -> dict[str, str]:
    out = {}
    for case in ET.parse(path).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        out[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return out


def differences(real: dict[str, str], standin: dict[str, str]) -> list[str]:
    names = sorted(real.keys() | standin.keys())
    return [
        f"{name}: real={real.get(name, 'missing')} standin={standin.get(name, 'missing')}"
        for name in names
        if real.get(name) != "passed" or standin.get(name) != "passed"
    ]


def main(argv: list[str]) -> int:
    real, standin = outcomes(Path(argv[1])), outcomes(Path(argv[2]))
    found = differences(real, standin)
    for line in found:
        print(line)
    print(f"{len(real)} tests on the real server, {len(standin)} on the stand-in; {len(found)} differ")
    return 1 if found or not real or not standin else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
