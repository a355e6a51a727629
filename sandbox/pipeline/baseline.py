"""The baseline stage (with --baseline): build and test the unmodified copy first.

Its failing tests are 'pre-existing'; with --accept-preexisting they do not fail the migrated
service's test stage. A baseline that does not build is recorded and the pipeline goes on.
"""

from __future__ import annotations

from sandbox.pipeline.build import build
from sandbox.pipeline.stage import StageContext, StageResult, timed, with_deps
from sandbox.pipeline.test import build_test_image, run_tests


def baseline(ctx: StageContext) -> StageResult | None:
    if not ctx.baseline:
        return None
    orig_dir = ctx.ws.orig / ctx.ws.rel_paths[0]
    built = timed("baseline", lambda: build(ctx, name="baseline-build", service_dir=orig_dir))
    if not built.ok:
        built.name = "baseline"
        return built

    def body(ctx: StageContext) -> StageResult:
        image = build_test_image(ctx, built.details["image"], orig_dir)
        deps = ctx.take_deps()  # started while the test image was built
        return run_tests(ctx, image, deps.container_env, deps.network, name="baseline")

    result = with_deps(ctx, "baseline", body)
    failed = list(result.details.get("failed_tests", []))
    result.status = "passed" if result.status in ("passed", "failed") else result.status
    result.reason = f"{len(failed)} test(s) already failing before migration" if failed else ""
    ctx.preexisting_failures = failed
    return result
