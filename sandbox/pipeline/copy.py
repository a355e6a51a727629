"""The copy stage: the service and its shared paths copied into the run's workspace (sandbox.workspace).

A service no upgrade applies to stops here, skipped: there is nothing to verify.
"""

from __future__ import annotations

from sandbox import workspace as wsmod
from sandbox.pipeline.stage import StageContext, StageResult


def copy(ctx: StageContext) -> StageResult:
    if not ctx.migrations:
        return StageResult("copy", "skipped", reason="no migration applies")
    ctx.ws = wsmod.create(ctx.config, ctx.repo_root, ctx.folder)
    return StageResult("copy", "passed", details={"paths": ctx.ws.rel_paths})
