"""The reference Flux evaluator of the execution tests: an independent reading of the Flux subset.

It shares no code with ``migrators/`` (test_flux_reference.py checks the imports): its own tokenizer
and Pratt parser (:mod:`tests.migrators.fluxref.syntax`) and its own evaluation over lists of dicts
with Flux's table semantics (:mod:`tests.migrators.fluxref.engine`). A bug in the translator's parser
therefore shows up as a difference between the two answers, not as two identical wrong answers.

Data: points ``{"_measurement", tags…, "_time" (ns), fields…}`` with ``schema`` naming each
measurement's tags. A result is a list of :class:`Table` (group key pairs, rows), sorted by group key.
"""

from __future__ import annotations

import time
from typing import Any

from tests.migrators.fluxref.engine import Context, Table, run
from tests.migrators.fluxref.syntax import FluxSyntaxError, duration_ns, parse, time_ns


def evaluate(
    flux: str,
    points: list[dict[str, Any]],
    schema: dict[str, list[str]],
    *,
    now: int | None = None,
    params: dict[str, Any] | None = None,
) -> list[Table]:
    """The tables Flux gives for ``flux`` over ``points``; ``now`` (ns) anchors relative ranges."""
    ctx = Context(points=points, schema=schema, now=time.time_ns() if now is None else now)
    return run(flux, ctx, params)


__all__ = ["evaluate", "Table", "FluxSyntaxError", "duration_ns", "parse", "time_ns"]
