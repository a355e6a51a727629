"""Pattern mining: recurring times of day, and "A is followed by B" sequences."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Iterable

from app.events import Event


@dataclass(frozen=True)
class Pattern:
    kind: str               # "time" | "sequence"
    trigger: str            # entity=state, or "HH:MM" for time patterns
    action: str             # entity=state
    support: int
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MiningResult:
    events: int
    patterns: list[Pattern] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "patterns": [p.as_dict() for p in self.patterns]}


def _minute_of_day(event: Event) -> int:
    return event.time.hour * 60 + event.time.minute


def time_patterns(events: Iterable[Event], min_days: int = 3, tolerance_min: int = 30) -> list[Pattern]:
    """An entity reaching a state around the same time on at least `min_days` days."""
    by_key: dict[str, dict] = defaultdict(dict)
    for event in sorted(events):
        by_key[event.key].setdefault(event.time.date(), event)  # first occurrence per day
    days_total = len({e.time.date() for e in events}) or 1
    found = []
    for key, per_day in by_key.items():
        minutes = [_minute_of_day(e) for e in per_day.values()]
        centre = int(statistics.median(minutes))
        close = [m for m in minutes if abs(m - centre) <= tolerance_min]
        if len(close) >= min_days:
            found.append(Pattern("time", f"{centre // 60:02d}:{centre % 60:02d}", key, len(close),
                                 round(len(close) / days_total, 3)))
    return sorted(found, key=lambda p: (-p.support, p.action))


def sequence_patterns(events: Iterable[Event], window_s: int = 120, min_support: int = 3,
                      min_confidence: float = 0.6) -> list[Pattern]:
    """B follows A within `window_s` seconds often enough (support) and reliably (confidence)."""
    ordered = sorted(events)
    occurrences = Counter(e.key for e in ordered)
    pairs: Counter[tuple[str, str]] = Counter()
    for index, first in enumerate(ordered):
        seen = set()
        for second in ordered[index + 1:]:
            if (second.time - first.time).total_seconds() > window_s:
                break
            if second.entity_id != first.entity_id and second.key not in seen:
                pairs[(first.key, second.key)] += 1
                seen.add(second.key)
    found = []
    for (trigger, action), support in pairs.items():
        confidence = support / occurrences[trigger]
        if support >= min_support and confidence >= min_confidence:
            found.append(Pattern("sequence", trigger, action, support, round(confidence, 3)))
    return sorted(found, key=lambda p: (-p.confidence, -p.support, p.trigger, p.action))


async def mine(events: list[Event], min_days: int = 3, window_s: int = 120, min_support: int = 3) -> MiningResult:
    """Both miners, off the event loop (they are CPU-bound on long histories)."""
    loop = asyncio.get_running_loop()
    times, sequences = await asyncio.gather(
        loop.run_in_executor(None, partial(time_patterns, events, min_days)),
        loop.run_in_executor(None, partial(sequence_patterns, events, window_s, min_support)),
    )
    return MiningResult(len(events), times + sequences)
