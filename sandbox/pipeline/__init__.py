"""`sandbox verify` for one service: the stages in run order.

resolve → copy → baseline (with --baseline) → migrate → fix → build → test → health → gate. Each stage is
one module of this package; `sandbox.pipeline.run` runs them for a service and runs the fleet in
phases. Adding a stage = one module with its run function + one `Stage(...)` line here.
"""

from sandbox.pipeline import baseline, build, copy, fix, gate, health, migrate, resolve, test
from sandbox.pipeline.stage import Stage, StageContext, StageResult

STAGES: tuple[Stage, ...] = (
    Stage("resolve", resolve.resolve, hint=resolve.HINT),
    Stage("copy", copy.copy),
    Stage("baseline", baseline.baseline, blocking=False),
    Stage("migrate", migrate.migrate, timeout="migrate", hint=migrate.HINT),
    Stage("fix", fix.fix, hint=fix.HINT),
    Stage("build", build.build, timeout="build", hint=build.HINT),
    Stage("test", test.test, timeout="test", hint=test.HINT, needs_deps=True),
    # The health check needs the built image and fresh dependencies of its own, not the tests'
    # outcome: it runs beside the tests and counts only when they pass.
    # The host reaches the service through the run's relay, which joins its dependencies' network.
    Stage(
        "health",
        health.health,
        timeout="health",
        hint=health.HINT,
        needs_deps=True,
        beside_previous=True,
        relayed=True,
    ),
    Stage("gate", gate.gate),
)

__all__ = ["STAGES", "Stage", "StageContext", "StageResult"]
