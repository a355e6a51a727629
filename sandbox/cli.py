"""The `sandbox` command line: argument parsing only; each command's body is in sandbox.commands and
its exit code in the table of sandbox.output (0 clean, 1 findings/failures, 2 usage or environment)."""

from __future__ import annotations

import sys

import typer

from sandbox import commands
from sandbox.output import ExitCode, Output
from sandbox.pipeline.run import Options

app = typer.Typer(
    help="Verify library migrations per service in throwaway containers.",
    no_args_is_help=True,
    add_completion=False,
)
images_app = typer.Typer(
    help="Logical images: what they resolve to, and local builds.", invoke_without_command=True
)
app.add_typer(images_app, name="images")
out = Output()


@app.command()
def doctor() -> None:
    """Check the engine, disk, images, CA bundle and Ryuk; exit 0 only when all are OK."""
    raise typer.Exit(commands.doctor(out))


@images_app.callback()
def images(ctx: typer.Context) -> None:
    """List each logical image, what it resolves to, and its digest."""
    if ctx.invoked_subcommand:
        return
    raise typer.Exit(commands.images(out))


@images_app.command("build")
def images_build(
    names: list[str] | None = typer.Argument(None, help="logical images (default: all)"),
    force: bool = typer.Option(False, "--force", help="rebuild even when the cache is current"),
) -> None:
    """Build the local images (offline base first), reusing them when their inputs did not change."""
    raise typer.Exit(commands.images_build(names or [], out, force))


@app.command()
def clean(
    images_too: bool = typer.Option(False, "--images", help="also remove the cached local images"),
) -> None:
    """Remove leftovers of crashed runs: labelled containers, networks and run images."""
    raise typer.Exit(commands.clean(out, images_too))


@app.command()
def verify(
    services: list[str] | None = typer.Argument(None, help="service names under services/"),
    all_services: bool = typer.Option(False, "--all", help="every service of the fleet"),
    phase: str | None = typer.Option(None, "--phase", help="a|b|c|d|all"),
    shard_spec: str | None = typer.Option(None, "--shard", help="K/N: this job's slice of the services"),
    jobs: str = typer.Option(
        "auto", "-j", "--jobs", help="services in parallel within a phase (auto: what the machine can hold)"
    ),
    baseline: bool = typer.Option(False, "--baseline", help="build and test the unmodified copy first"),
    accept_preexisting: bool = typer.Option(
        False,
        "--accept-preexisting",
        help="with --baseline: test failures that were already there do not fail a service (they are listed)",
    ),
    promote_after: bool = typer.Option(False, "--promote", help="promote each verified diff at the end"),
    keep: bool = typer.Option(False, "--keep", help="leave containers and networks up for debugging"),
    max_failure_rate: float = typer.Option(
        0.20, "--max-failure-rate", help="stop before the next phase above this rate"
    ),
    as_json: bool = typer.Option(False, "--json", help="print report.json instead of the summary"),
) -> None:
    """Migrate, build, test and health-check services in throwaway containers."""
    selection = commands.Selection(tuple(services or ()), all_services, phase, shard_spec)
    options = Options(
        baseline=baseline, accept_preexisting=accept_preexisting, keep=keep, max_failure_rate=max_failure_rate
    )
    raise typer.Exit(commands.verify(selection, options, out, jobs, promote_after, as_json))


@app.command()
def plan(
    services: list[str] | None = typer.Argument(None),
    all_services: bool = typer.Option(False, "--all"),
    phase: str | None = typer.Option(None, "--phase"),
    as_json: bool = typer.Option(False, "--json"),
    matrix: bool = typer.Option(False, "--matrix", help="a CI job matrix (one shard per entry)"),
    shards: int = typer.Option(
        0, "--shards", help="with --matrix: number of shards (default: one per 2 services)"
    ),
) -> None:
    """Services, priorities, phases and the migrations that apply, without running anything."""
    selection = commands.Selection(tuple(services or ()), all_services, phase)
    raise typer.Exit(commands.plan(selection, out, as_json, matrix, shards))


@app.command()
def promote(
    services: list[str] | None = typer.Argument(None),
    all_verified: bool = typer.Option(False, "--all-verified", help="every service with a verified diff"),
    revert: bool = typer.Option(False, "--revert", help="undo the last promotion of the services"),
) -> None:
    """Apply verified diffs to the repo (all or nothing per service; refuses stale diffs)."""
    raise typer.Exit(commands.promote(services or [], out, all_verified, revert))


@app.command()
def gate(
    services: list[str] | None = typer.Argument(None),
    records: str | None = typer.Option(
        None, "--records", help="read the verified records from a run folder or a downloaded CI artifact"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the gate's findings as JSON"),
) -> None:
    """Exit 0 only if every service named (default: all) has a verified diff ready for its current
    content, or its current content is exactly what was verified and promoted."""
    raise typer.Exit(commands.gate(services or [], out, records, as_json))


@app.command()
def fix(
    service: str = typer.Argument(..., help="service name under services/"),
    save: str | None = typer.Option(None, "--save", help="store the edits of the fix copy as fix NAME"),
    reason: str | None = typer.Option(None, "--reason", help="with --save: why (the patch's header)"),
    list_only: bool = typer.Option(False, "--list", help="list the service's fixes in order"),
    drop: str | None = typer.Option(None, "--drop", help="remove fix NAME"),
    discard: bool = typer.Option(False, "--discard", help="prepare a new copy even over unsaved edits"),
) -> None:
    """Prepare an editable migrated copy (codemods and saved fixes applied), or save, list, drop fixes."""
    raise typer.Exit(commands.fix(service, out, save, reason, list_only, drop, discard))


@app.command()
def report(run: str | None = typer.Argument(None, help="run id (default: the latest)")) -> None:
    """Show a run's summary again."""
    raise typer.Exit(commands.report(run, out))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        out.note("interrupted; labelled containers and networks of this run were removed")
        sys.exit(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    main()
