"""The resolve stage: the service's files are where sandbox.toml says (Dockerfile, tests, shared paths)."""

from __future__ import annotations

from sandbox.config import validate_layout
from sandbox.pipeline.stage import StageContext, StageResult

HINT = "fix services/{name}/sandbox.toml as the reason says, then run `sandbox verify {name}`"


def resolve(ctx: StageContext) -> StageResult:
    problems = validate_layout(ctx.config)
    return StageResult(
        "resolve",
        "failed" if problems else "passed",
        reason="; ".join(problems),
        details={"migrations": ctx.migrations},
    )
