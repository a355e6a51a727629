"""CPU weights of a fleet run (pure logic of sandbox.pipeline.run._Turn): a service prepared ahead of
its phase's turn runs its containers at a lower weight than the phase being checked, and the health
check beside the tests at a lower weight than the tests; a service alone keeps the engine's default."""

from __future__ import annotations

import threading
from pathlib import Path

from sandbox.config import ServiceConfig
from sandbox.engine.containers import AHEAD_CPU_SHARES, BESIDE_CPU_SHARES, CHAIN_CPU_SHARES, CPU_SHARES
from sandbox.pipeline import STAGES
from sandbox.pipeline.run import Options, Run, _Turn
from sandbox.pipeline.schedule import Schedule

STAGE = {stage.name: stage for stage in STAGES}


def config(name: str, priority: str) -> ServiceConfig:
    return ServiceConfig(name=name, path=Path("/nowhere"), priority=priority, needs=())


def fleet_run(tmp_path: Path) -> Run:
    run = Run("r", tmp_path, tmp_path, Options(), lambda *_: None)
    run.schedule = Schedule([("a", 1), ("b", 1)], 2, 0.2, threading.Event())
    return run


def test_a_service_alone_keeps_the_default_weight(tmp_path) -> None:
    turn = _Turn(Run("r", tmp_path, tmp_path, Options(), lambda *_: None), config("b1", "MEDIUM"))
    assert turn.cpu_shares(STAGE["migrate"]) == CPU_SHARES
    assert turn.beside_shares() == CPU_SHARES


def test_the_next_phase_prepares_at_a_lower_weight_until_its_turn_opens(tmp_path) -> None:
    run = fleet_run(tmp_path)
    first, ahead = _Turn(run, config("a1", "LOW")), _Turn(run, config("b1", "MEDIUM"))
    assert first.cpu_shares(STAGE["migrate"]) == CPU_SHARES  # phase A's preparation is on the path
    assert ahead.cpu_shares(STAGE["migrate"]) == AHEAD_CPU_SHARES
    assert ahead.cpu_shares(STAGE["build"]) == AHEAD_CPU_SHARES
    run.schedule.finish(first.config, success=True)  # phase A decided: B's checks may start
    assert ahead.cpu_shares(STAGE["build"]) == CPU_SHARES
    assert ahead.cpu_shares(STAGE["test"]) == CPU_SHARES


def test_the_checks_keep_the_default_weight_and_the_health_check_beside_them_a_lower_one(tmp_path) -> None:
    run = fleet_run(tmp_path)
    ahead = _Turn(run, config("b1", "MEDIUM"))
    assert ahead.cpu_shares(STAGE["test"]) == CPU_SHARES  # a check is never weighted down
    assert ahead.beside_shares() == BESIDE_CPU_SHARES < CPU_SHARES
    assert AHEAD_CPU_SHARES < BESIDE_CPU_SHARES


def test_the_one_at_a_time_phase_checks_at_a_higher_weight_in_a_fleet(tmp_path) -> None:
    # Phase D's checks chain one after another: the next D service waits for this one's tests and
    # its health check, so both outweigh the other phases' checks sharing the cores.
    run = Run("r", tmp_path, tmp_path, Options(), lambda *_: None)
    run.schedule = Schedule([("a", 1), ("d", 2)], 2, 1.0, threading.Event())
    critical, other = _Turn(run, config("d1", "CRITICAL")), _Turn(run, config("a1", "LOW"))
    assert critical.config.phase == "d"
    assert critical.cpu_shares(STAGE["test"]) == critical.beside_shares() == CHAIN_CPU_SHARES
    assert CHAIN_CPU_SHARES > other.cpu_shares(STAGE["test"]) == CPU_SHARES
    assert critical.cpu_shares(STAGE["migrate"]) == CPU_SHARES  # its preparation is no chain
    alone = _Turn(Run("r", tmp_path, tmp_path, Options(), lambda *_: None), config("d1", "CRITICAL"))
    assert alone.cpu_shares(STAGE["test"]) == alone.beside_shares() == CPU_SHARES
