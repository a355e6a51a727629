"""The gate stage: a service that passed every stage gets a verified record (sandbox.records), bound
to the content it was verified from; only such a record can be promoted. The record is also written
into the service's run folder (`verified.json`), so a CI artifact of the run carries it to the gate
of another machine (`sandbox gate SERVICE --records PATH`)."""

from __future__ import annotations

from sandbox.pipeline.stage import StageContext, StageResult
from sandbox.records import RUN_RECORD, record_verified
from sandbox.upgrades import target_versions


def gate(ctx: StageContext) -> StageResult:
    record = record_verified(ctx.ws, ctx.run_id, target_versions(), ctx.images())
    record.save(ctx.repo_root, also=ctx.folder / RUN_RECORD)
    details = {
        "content_hash": record.before_hashes,
        "record": RUN_RECORD,
        "tool_version": record.tool_version,
    }
    return StageResult("gate", "passed", details=details)
