"""The build stage: `docker build` of the service's own Dockerfile, FROM mapped to the resolved base."""

from __future__ import annotations

from pathlib import Path

from docker.errors import BuildError

from sandbox import workspace as wsmod
from sandbox.engine import build_mapped
from sandbox.engine.cleanup import keep_build
from sandbox.pipeline.stage import StageContext, StageResult, run_with_timeout

HINT = "the migrated image does not build; read the log, fix the service, re-run"


def build(ctx: StageContext, name: str = "build", service_dir: Path | None = None) -> StageResult:
    """Build the migrated copy (or, for the baseline, `service_dir`), within the timeout; the image id
    is the result's details["image"] (and, for the migrated copy, ctx.service_image).

    No LABEL step names the run: the image is a build cache from the start, named
    `sandbox-cache/<service>:service-image.<run>` (cleanup.keep_build): its last step usually comes
    from the cache, and a LABEL step was a container created, committed and removed per build, then
    an image to remove at the run's end (~0.15 s of the engine's CPU each on this machine)."""
    service_dir = service_dir or ctx.ws.service_dir
    context = (service_dir / ctx.config.context).resolve()
    dockerfile = service_dir / ctx.config.dockerfile
    # Defence in depth (the copy already refused these): a build context or Dockerfile outside the
    # run's copy would ship host files into the image.
    for key, path in (("context", context), ("dockerfile", dockerfile)):
        if not wsmod.inside(path, ctx.ws.folder):
            return StageResult(name, "failed", reason=f"{key} {path} is outside the run's copy of the repo")
    lines: list[str] = []
    client = ctx.client  # connected here, not inside the build thread

    def work() -> str:
        return build_mapped(
            client,
            context,
            dockerfile,
            None,
            ctx.resolver.image_map(),
            {},
            on_log=lines.append,
            cpu_shares=ctx.cpu_shares,
        )

    finished, image_id, error = run_with_timeout(work, ctx.config.timeouts["build"], ctx.cancelled)
    if finished and error is None:
        keep_build(client, image_id, ctx.labels("service-image"), ctx.built)
    else:  # abandoned or failed: an image may still appear, so the run's end lists by label
        ctx.built.incomplete()
    log = ctx.write_log(f"{name}.log", "\n".join(lines) + (f"\n{error}\n" if error else "\n"))
    if not finished and ctx.cancelled.is_set():
        return StageResult(name, "failed", reason="run interrupted during docker build", log=log)
    if not finished:
        return StageResult(
            name, "timeout", reason=f"docker build exceeded {ctx.config.timeouts['build']}s", log=log
        )
    if error is not None:
        reason = str(error) if isinstance(error, BuildError) else f"{type(error).__name__}: {error}"
        return StageResult(name, "failed", reason=f"docker build failed: {reason}", log=log)
    if name == "build":  # the migrated copy's image, for the test and health stages
        ctx.service_image = image_id
    return StageResult(name, "passed", log=log, details={"image": image_id})
