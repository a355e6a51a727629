"""Worker processes for ``python -m migrators -j N``: the units of a monorepo root, or the files of
one service, spread over N processes, the results put back in the order a single process gives.

Workers are forked after the parent has done the work they share (a unit's analysis and sweepers,
the registry): a forked child inherits them as they are, so nothing big is pickled and nothing is
analysed twice; only file names go out and results come back. A platform without ``fork`` runs
serially. The states an upgrade's ``analyze`` returns must not be changed by its codemod (a change
made in a worker would not reach the others, nor the parent's rewriters).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from migrators.core.profile import Profile
from migrators.core.tree import ProjectTree

if TYPE_CHECKING:
    from migrators.core.results import CheckFailure, FileResult, TreeResult


class UnitWork(Protocol):
    """What the workers of one unit share (the runner's unit after its analysis)."""

    def migrate(
        self, rel: str, names: Sequence[str], sweeping: Sequence[str], profile: Profile | None
    ) -> tuple[FileResult, list[CheckFailure]]: ...


# the runner's `migrate_unit(root, plan, progress, jobs, profile)`, handed in (no import cycle)
MigrateUnit = Callable[[Path, Any, "Callable[[str], None] | None", int, "Profile | None"], "TreeResult"]

# Files per task sent to a worker: small enough to balance uneven files, large enough that the
# round trip (a pickled result per file) stays small next to a parse.
CHUNK = 4
# Below this many files per worker a pool costs more (fork, start, collect) than it saves.
MIN_FILES_PER_WORKER = 6

# What a worker process inherits from the parent at fork time, set once by the pool's initializer
# (the pool API gives a worker no other way to hold what every task of it needs).
_inherited: dict[str, Any] = {}


@dataclass(frozen=True)
class FileTask:
    """One file that passed a pre-check: its slot in the unit's results and what runs on it."""

    slot: int
    rel: str
    names: tuple[str, ...]  # upgrades whose pre-check passed
    sweeping: tuple[str, ...]  # sweepers whose pre-check passed


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _pool(jobs: int, state: dict[str, Any]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_inherit,
        initargs=(state,),
    )


def _inherit(state: dict[str, Any]) -> None:
    _inherited.clear()
    _inherited.update(state)


def run_files(
    work: UnitWork, tasks: Sequence[FileTask], jobs: int, profile: Profile | None
) -> list[tuple[FileResult, list[CheckFailure]]]:
    """Each task's (result, check failures), in the order of `tasks`."""
    if jobs <= 1 or len(tasks) < 2 * MIN_FILES_PER_WORKER or not can_fork():
        return [work.migrate(t.rel, t.names, t.sweeping, profile) for t in tasks]
    chunks = [list(tasks[i : i + CHUNK]) for i in range(0, len(tasks), CHUNK)]
    outcomes: list[tuple[FileResult, list[CheckFailure]]] = []
    with _pool(jobs, {"work": work, "profiled": profile is not None}) as pool:
        for done, spent in pool.map(_migrate_files, chunks):  # map keeps the order of `chunks`
            outcomes.extend(done)
            if profile is not None and spent is not None:
                profile.merge(spent)
    return outcomes


def _migrate_files(chunk: list[FileTask]) -> tuple[list, Profile | None]:
    work: UnitWork = _inherited["work"]
    spent = Profile() if _inherited["profiled"] else None
    return [work.migrate(t.rel, t.names, t.sweeping, spent) for t in chunk], spent


def run_units(
    migrate_unit: MigrateUnit,
    root: Path,
    units: Sequence[str],
    plan: Any,
    progress: Callable[[str], None] | None,
    jobs: int,
    profile: Profile | None,
) -> list[TreeResult]:
    """Each unit's result (`migrate_unit` on it), in the order of `units`; with jobs > 1 the units
    run in workers, the biggest first (a big unit started last would leave the others idle at the end)."""
    if jobs <= 1 or len(units) < 2 or not can_fork():
        return [migrate_unit(root / unit, plan, progress, 1, profile) for unit in units]
    sizes = {unit: len(ProjectTree(root / unit).python_files()) for unit in units}
    order = sorted(units, key=lambda unit: (-sizes[unit], unit))
    state = {"migrate_unit": migrate_unit, "root": root, "plan": plan, "profiled": profile is not None}
    with _pool(min(jobs, len(units)), state) as pool:
        futures = {unit: pool.submit(_migrate_unit, unit) for unit in order}
        results = []
        for unit in units:
            result, spent = futures[unit].result()
            results.append(result)
            if profile is not None and spent is not None:
                profile.merge(spent)
    return results


def _migrate_unit(unit: str) -> tuple[TreeResult, Profile | None]:
    spent = Profile() if _inherited["profiled"] else None
    migrate_unit = _inherited["migrate_unit"]
    return migrate_unit(_inherited["root"] / unit, _inherited["plan"], None, 1, spent), spent
