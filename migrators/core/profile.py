"""Where a migration run spends its time: seconds per phase, per upgrade and per metadata provider.

A :class:`Profile` is passed down explicitly (``migrate_tree(..., profile=Profile())``); without one
nothing is timed. Workers of a parallel run fill their own and the parent merges them, so the sums
are CPU seconds (time.process_time) summed over the workers, not wall time: on a loaded
machine wall time also counts the waits for a core.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from libcst.metadata import MetadataWrapper

# the phases of one file, in the order they run (the bench prints them in this order)
PHASES = (
    "read",
    "pre-check",
    "analysis",
    "parse",
    "metadata",
    "transform",
    "render",
    "sweep",
    "re-parse check",
    "post-migrate check",
    "rewriters",
)


@dataclass
class Profile:
    """Seconds and counts keyed by phase ("parse") or phase:detail ("transform:<upgrade>")."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, seconds: float, count: int = 1) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.counts[key] = self.counts.get(key, 0) + count

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self.add(key, time.process_time() - started)

    def merge(self, other: Profile) -> None:
        for key, seconds in other.seconds.items():
            self.add(key, seconds, other.counts.get(key, 0))

    def phase(self, name: str) -> float:
        """A phase's total: its own key plus every `name:detail` key."""
        return sum(s for k, s in self.seconds.items() if k == name or k.startswith(name + ":"))

    def details(self, name: str) -> dict[str, float]:
        prefix = name + ":"
        return {k[len(prefix) :]: s for k, s in sorted(self.seconds.items()) if k.startswith(prefix)}

    def format(self) -> str:
        total = sum(self.phase(p) for p in PHASES) or 1.0
        lines = [f"{'phase':34} {'seconds':>8} {'share':>6} {'count':>7}"]
        for name in PHASES:
            seconds = self.phase(name)
            if not seconds and name not in self.seconds:
                continue
            count = sum(c for k, c in self.counts.items() if k == name or k.startswith(name + ":"))
            lines.append(f"{name:34} {seconds:8.2f} {seconds / total:6.0%} {count:7d}")
            for detail, sub in self.details(name).items():
                count = self.counts.get(f"{name}:{detail}", 0)
                lines.append(f"  {detail:32} {sub:8.2f} {sub / total:6.0%} {count:7d}")
        idle = {k.split(":", 1)[1]: c for k, c in sorted(self.counts.items()) if k.startswith("idle:")}
        if idle:
            runs = {d: self.counts.get(f"transform:{d}", 0) for d in idle}
            lines.append(
                "codemod runs that changed nothing (pre-check passed): "
                + ", ".join(f"{d} {n}/{runs[d]}" for d, n in idle.items())
            )
        spared = {k.split(":", 1)[1]: c for k, c in sorted(self.counts.items()) if k.startswith("spared:")}
        if spared:
            lines.append(
                "codemod runs spared by a precise check (no parse for them): "
                + ", ".join(f"{d} {n}" for d, n in spared.items())
            )
        return "\n".join(lines)


class TimedWrapper(MetadataWrapper):
    """A MetadataWrapper that books each provider's first resolution (with what it depends on) as
    `metadata:<Provider>` in a profile; without a profile it is a plain wrapper."""

    def __init__(self, module, unsafe_skip_copy: bool = False, profile: Profile | None = None):
        super().__init__(module, unsafe_skip_copy=unsafe_skip_copy)
        self._profile = profile

    @property
    def profile(self) -> Profile | None:
        """Where work done for this wrapper's module outside libcst's providers is booked too."""
        return self._profile

    def resolve(self, provider) -> Mapping:
        if self._profile is None or provider in self._metadata:
            return super().resolve(provider)
        with self._profile.timed(f"metadata:{provider.__name__}"):
            return super().resolve(provider)
