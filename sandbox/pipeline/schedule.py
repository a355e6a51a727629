"""The fleet's schedule: phases in order, the next phase prepared while this phase is checked.

A service's stages fall in two parts. Its preparation (resolve, copy, migrate, fix, build) is the
codemods and a `docker build`; its checks (test, health, gate) run containers against fresh
dependencies and decide whether it verified. Run in strict phase order, the cores sit idle at every
phase boundary: the last services of a phase are tested while nothing else builds. So:

- up to `jobs` services prepare at once and up to `jobs` are checked at once (phase D: one), so one
  service builds while another is tested;
- a service of the next phase may prepare while the current phase is checked (one phase ahead, never
  two), but its checks wait until the current phase's stop rule is decided;
- a phase whose failure rate is above the limit stops every later phase: their services never run a
  check, and the fleet drops them from its outcomes (the report lists them as not run), exactly as if
  they had never been prepared. Their prepared images go with the run's labelled objects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.config import ServiceConfig

SERIAL_PHASE = "d"  # its services are checked one at a time (the critical services)
POLL = 0.2  # seconds between looks at the cancel flag while waiting: an interrupt never waits long


@dataclass
class PhaseState:
    """One phase's progress: its services finished so far and, once all are, the stop rule's answer."""

    phase: str
    members: int
    finished: int = 0
    failed: int = 0
    decided: threading.Event = field(default_factory=threading.Event)
    go: bool = True  # after `decided`: may the next phase run its checks?
    checks: threading.Semaphore | None = None  # the phase's test slots


@dataclass
class Waits:
    """How long a service waited before its checks: for the previous phase's stop rule, for a slot."""

    previous_phase: float = 0.0
    check_slot: float = 0.0

    def to_details(self) -> dict[str, float]:
        return {
            "waited_for_previous_phase": round(self.previous_phase, 2),
            "waited_for_test_slot": round(self.check_slot, 2),
        }


class Schedule:
    """Slots and phase gates of one fleet run; each service's worker thread asks it before it acts."""

    def __init__(
        self,
        phases: list[tuple[str, int]],
        jobs: int,
        max_failure_rate: float,
        cancelled: threading.Event,
        on_stop: Callable[[str, float], None] = lambda phase, rate: None,
    ) -> None:
        empty = [phase for phase, count in phases if count < 1]
        if empty:  # nothing would ever finish in it, so it would never be decided: its successors wait
            raise ValueError(f"a fleet phase with no services: {', '.join(empty)}")
        jobs = max(1, jobs)  # no slot at all would make every service wait for ever
        self._order = [phase for phase, _ in phases]
        self._phases = {
            phase: PhaseState(phase, count, checks=threading.Semaphore(1 if phase == SERIAL_PHASE else jobs))
            for phase, count in phases
        }
        self._prepare = threading.Semaphore(jobs)
        self._held: dict[str, str] = {}  # service -> the slot it holds: "prepare" or "checks"
        self._lock = threading.Lock()
        self._max_rate = max_failure_rate
        self._cancelled = cancelled
        self._on_stop = on_stop
        self.stopped_after: str | None = None
        self._decide_ready()  # a limit no phase can exceed (--max-failure-rate 1) decides them all now

    # --- the launcher's side ---------------------------------------------------------------------

    def launch_order(self, phases: list[str]) -> list[int]:
        """The order to start the services of `phases` (one entry per service, in phase order).

        Phase order, unless every phase is decided before anything runs (a stop rule no failure can
        trip, e.g. --max-failure-rate 1): then phase D's services start first. D is checked one
        service at a time, so its checks form the run's longest chain; started last, that chain ran
        alone on a machine whose other services were done (critical path first)."""
        indices = list(range(len(phases)))
        if not all(state.decided.is_set() for state in self._phases.values()):
            return indices
        return sorted(indices, key=lambda index: phases[index] != SERIAL_PHASE)

    def may_launch(self, phase: str) -> bool:
        """Block until a service of `phase` may start preparing: the phase two before it is decided
        (one phase of look-ahead). False once the run is cancelled or an earlier phase stopped it."""
        index = self._order.index(phase)
        if index >= 2 and not self._wait(self._phases[self._order[index - 2]].decided):
            return False
        return not self._cancelled.is_set() and not self._stopped_before(index)

    def acquire_prepare(self, name: str) -> bool:
        """A preparation slot for `name`; False when the run is cancelled meanwhile."""
        while not self._prepare.acquire(timeout=POLL):
            if self._cancelled.is_set():
                return False
        with self._lock:
            self._held[name] = "prepare"
        return True

    # --- the service's side ----------------------------------------------------------------------

    def turn_open(self, config: ServiceConfig) -> bool:
        """Whether the service's checks would start without waiting for the previous phase."""
        previous = self._previous(config.phase)
        return previous is None or (previous.decided.is_set() and previous.go)

    def wait_turn(self, config: ServiceConfig) -> tuple[bool, Waits]:
        """Before the service's first check: give its preparation slot back, wait for the previous
        phase's stop rule and for a test slot. False: a phase before it stopped the run, so it must
        not be checked. A cancelled run returns True at once (the stage loop reports the interrupt)."""
        waits = Waits()
        self._release(config)
        previous = self._previous(config.phase)
        begin = time.monotonic()
        if previous is not None and not self._wait(previous.decided):
            return True, waits
        waits.previous_phase = time.monotonic() - begin
        if previous is not None and not previous.go:
            return False, waits
        begin = time.monotonic()
        slots = self._phases[config.phase].checks
        while not slots.acquire(timeout=POLL):
            if self._cancelled.is_set():
                return True, waits
        with self._lock:
            self._held[config.name] = "checks"
        waits.check_slot = time.monotonic() - begin
        return True, waits

    def finish(self, config: ServiceConfig, success: bool) -> None:
        """The service's outcome is final: free its slot, count it, decide the phases that can be."""
        self._release(config)
        with self._lock:
            state = self._phases[config.phase]
            state.finished += 1
            state.failed += not success
            self._decide_ready()

    # --- internals ---------------------------------------------------------------------------------

    def _release(self, config: ServiceConfig) -> None:
        with self._lock:
            held = self._held.pop(config.name, None)
        if held == "prepare":
            self._prepare.release()
        elif held == "checks":
            self._phases[config.phase].checks.release()

    def _decide_ready(self) -> None:
        """Decide each phase whose services all finished, or whose stop rule passes whatever its
        running services do, in order: a phase is decided only after the one before it (a later phase
        of reused results may finish first), and a stop propagates."""
        stopped = False
        for index, phase in enumerate(self._order):
            state = self._phases[phase]
            if state.decided.is_set():
                stopped = stopped or not state.go
                continue
            if state.finished < state.members:
                if stopped or not self._within_limit_whatever_comes(state):
                    return
                state.go = True  # the services still running cannot change the answer
            else:
                state.go = not stopped and not self._over_limit(state, index)
            state.decided.set()
            stopped = stopped or not state.go

    def _within_limit_whatever_comes(self, state: PhaseState) -> bool:
        """Whether the phase passes its stop rule even if every service still running fails: then its
        decision is certain now, and the next phase's checks need not wait for the rest of it."""
        return (state.failed + state.members - state.finished) / state.members <= self._max_rate

    def _over_limit(self, state: PhaseState, index: int) -> bool:
        """The stop rule: a failure rate above the limit stops the run, when a later phase has services."""
        rate = state.failed / state.members
        if rate <= self._max_rate or index == len(self._order) - 1:
            return False
        self.stopped_after = state.phase
        self._on_stop(state.phase, rate)
        return True

    def _previous(self, phase: str) -> PhaseState | None:
        index = self._order.index(phase)
        return self._phases[self._order[index - 1]] if index else None

    def stopped_before(self, phase: str) -> bool:
        """Whether a phase before `phase` stopped the run (its stop rule decided so)."""
        return self._stopped_before(self._order.index(phase))

    def _stopped_before(self, index: int) -> bool:
        return any(
            self._phases[phase].decided.is_set() and not self._phases[phase].go
            for phase in self._order[:index]
        )

    def _wait(self, event: threading.Event) -> bool:
        """Wait for `event`; False when the run was cancelled first."""
        while not event.wait(POLL):
            if self._cancelled.is_set():
                return False
        return True
