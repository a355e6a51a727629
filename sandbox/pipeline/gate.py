"""The gate stage: a service that passed every stage gets a verified record (sandbox.records), bound
to the content it was verified from; only such a record can be promoted."""

from __future__ import annotations

from sandbox.pipeline.stage import StageContext, StageResult
from sandbox.records import record_verified
from sandbox.upgrades import target_versions


def gate(ctx: StageContext) -> StageResult:
    record = record_verified(ctx.ws, ctx.run_id, target_versions(), ctx.images())
    record.save(ctx.repo_root)
    return StageResult("gate", "passed", details={"content_hash": record.before_hashes})
