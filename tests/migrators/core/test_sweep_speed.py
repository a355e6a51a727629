"""Round-6 speed work in the influxdb3 sweep: each shortcut gives what the slower form gave.

* _Walked.of collects each def's returns in its one walk of the module, as a walk of each def did;
* a re-sweep of a text the sweep just marked reuses the data flow of the swept text and finds what a
  fresh sweep of it finds;
* (round 9) the data flow learn_getters works out for each file of the unit is the one file_flow gives
  the same text and aliases, and the sweep reuses it only for that text and those aliases.
"""

from __future__ import annotations

import ast
from pathlib import Path

from migrators.core.tree import ProjectTree, is_test_file
from migrators.core.versions import Versions
from migrators.upgrades.influxdb3 import sweep

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests/migrators/corpus"


def _modules() -> list[tuple[Path, str, ast.Module]]:
    found = []
    for path in sorted([*CORPUS.rglob("*.py"), *(ROOT / "services").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        try:
            found.append((path, text, ast.parse(text)))
        except SyntaxError:
            continue
    return found


def test_one_walk_collects_each_defs_returns_as_a_walk_per_def_did():
    compared = 0
    for path, _, module in _modules():
        walked = sweep._Walked.of(module)
        defs = [n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        assert [fn for fn, _ in walked.defs] == defs, path
        for fn, returns in walked.defs:
            assert returns == [n.value for n in ast.walk(fn) if isinstance(n, ast.Return)], path
            compared += len(returns)
    assert compared >= 100


def test_a_resweep_of_marked_text_with_the_reused_flow_finds_what_a_fresh_one_finds():
    resweeps = 0
    for path, text, _ in _modules():
        rel = path.relative_to(ROOT).as_posix()
        sweeper = sweep.InfluxSweeper(ProjectTree(path.parent), Versions())
        if not sweeper.precheck(rel, text):
            continue
        marked, _ = sweeper.swept(text, is_test_file(rel))
        if marked == text:
            continue
        reused = sweeper.swept(marked, is_test_file(rel))  # the flow of `text`, reused
        assert reused == sweep.sweep_code(sweeper, marked, is_test_file(rel)), path
        resweeps += 1
    assert resweeps >= 10


def _units() -> list[Path]:
    return sorted(
        {
            p.parent
            for p in [*CORPUS.rglob("requirements.txt"), *(ROOT / "services").rglob("requirements.txt")]
        }
    )


def test_the_flows_learn_getters_keeps_are_the_flows_of_the_same_texts():
    compared = 0
    for unit in _units():
        tree = ProjectTree(unit)
        sweeper = sweep.InfluxSweeper(tree, Versions())
        for text, flow in sweeper._flows.items():
            assert flow == sweep.file_flow(ast.parse(text), sweeper.aliases), unit
            module = ast.parse(text)
            assert sweeper.flow_of(text, module, sweeper.aliases) is flow  # the sweep takes it...
            other = sweeper.aliases | {"_another_alias"}
            assert sweeper.flow_of(text, module, other) is not flow  # ...only for the same aliases
            assert (
                sweeper.flow_of(text + "\nx = 1\n", ast.parse(text + "\nx = 1\n"), sweeper.aliases)
                is not flow
            )
            compared += 1
    assert compared >= 20, compared
