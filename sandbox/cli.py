"""The `sandbox` command line. Exit codes follow Ruff: 0 clean, 1 findings/failures, 2 usage or
environment error."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from sandbox import doctor as doctor_mod
from sandbox.cleanup import remove_labelled
from sandbox.engine import EngineUnavailable, connect
from sandbox.images import BUILD_ORDER, SPECS, ImageUnavailable, Resolver, build_all

app = typer.Typer(
    help="Verify library migrations per service in throwaway containers.",
    no_args_is_help=True,
    add_completion=False,
)
images_app = typer.Typer(
    help="Logical images: what they resolve to, and local builds.", invoke_without_command=True
)
app.add_typer(images_app, name="images")
# soft_wrap: never break long lines, so piped output (CI logs, tests) keeps one finding per line.
console = Console(stderr=False, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_ENV = 0, 1, 2


def _engine():
    try:
        return connect()
    except EngineUnavailable as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_ENV)


def _progress(line: str) -> None:
    # Plain lines when not a terminal (CI logs), a dimmed stream otherwise.
    if console.is_terminal:
        console.print(f"[dim]{line}[/dim]", highlight=False)
    else:
        print(line, flush=True)


@app.command()
def doctor() -> None:
    """Check the engine, disk, images, CA bundle and Ryuk; exit 0 only when all are OK."""
    checks = doctor_mod.run_checks()
    code = doctor_mod.render(checks, lambda line: console.print(line, highlight=False))
    if any(check.status == "FAIL" for check in checks):
        code = EXIT_ENV
    raise typer.Exit(code)


@images_app.callback()
def images(ctx: typer.Context) -> None:
    """List each logical image, what it resolves to, and its digest."""
    if ctx.invoked_subcommand:
        return
    resolver = Resolver(_engine(), on_log=_progress)
    table = Table("logical", "official", "resolves to", "source", "digest")
    try:
        for name in BUILD_ORDER:
            found = resolver.resolve(name)
            table.add_row(name, SPECS[name].official or "-", found.ref, found.source, found.digest[:19])
    except (ImageUnavailable, *docker_build_error()) as exc:
        errors.print(f"[red]error:[/red] resolving images: {exc}")
        raise typer.Exit(EXIT_ENV)
    console.print(table)


def docker_build_error() -> tuple[type[Exception], ...]:
    from docker.errors import APIError, BuildError

    return (BuildError, APIError)


@images_app.command("build")
def images_build(
    names: list[str] | None = typer.Argument(None, help="logical images (default: all)"),
    force: bool = typer.Option(False, "--force", help="rebuild even when the cache is current"),
) -> None:
    """Build the local images (offline base first), reusing them when their inputs did not change."""
    wanted = names or list(BUILD_ORDER)
    unknown = [name for name in wanted if name not in SPECS]
    if unknown:
        errors.print(f"[red]error:[/red] unknown image {', '.join(unknown)}; known: {', '.join(BUILD_ORDER)}")
        raise typer.Exit(EXIT_ENV)
    client = _engine()
    try:
        for found in build_all(client, _progress, [n for n in BUILD_ORDER if n in wanted], force):
            console.print(f"ready  {found.logical:<10} {found.ref}  {found.digest[:19]}")
    except (ImageUnavailable, *docker_build_error()) as exc:
        errors.print(f"[red]error:[/red] building images: {exc}")
        raise typer.Exit(EXIT_ENV)


@app.command()
def clean(
    images_too: bool = typer.Option(False, "--images", help="also remove the cached local images"),
) -> None:
    """Remove leftovers of crashed runs: labelled containers, networks and run images."""
    report = remove_labelled(_engine(), include_cached_images=images_too)
    console.print(
        f"removed {len(report.containers)} containers, {len(report.networks)} networks, "
        f"{len(report.images)} images"
    )
    for error in report.errors:
        errors.print(f"[yellow]warning:[/yellow] {error}")
    raise typer.Exit(EXIT_FAILED if report.errors else EXIT_OK)


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
    from sandbox.verify_cli import run_verify

    raise typer.Exit(
        run_verify(
            services or [],
            all_services,
            phase,
            shard_spec,
            jobs,
            baseline,
            accept_preexisting,
            promote_after,
            keep,
            max_failure_rate,
            as_json,
        )
    )


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
    from sandbox.verify_cli import run_plan

    raise typer.Exit(run_plan(services or [], all_services, phase, as_json, matrix, shards))


@app.command()
def promote(
    services: list[str] | None = typer.Argument(None),
    all_verified: bool = typer.Option(False, "--all-verified", help="every service with a verified diff"),
    revert: bool = typer.Option(False, "--revert", help="undo the last promotion of the services"),
) -> None:
    """Apply verified diffs to the repo (all or nothing per service; refuses stale diffs)."""
    from sandbox.verify_cli import run_promote

    raise typer.Exit(run_promote(services or [], all_verified, revert))


@app.command()
def gate(services: list[str] | None = typer.Argument(None)) -> None:
    """Exit 0 only if every service named (default: all) has a verified diff for its current content."""
    from sandbox.verify_cli import run_gate

    raise typer.Exit(run_gate(services or []))


@app.command()
def report(run: str | None = typer.Argument(None, help="run id (default: the latest)")) -> None:
    """Show a run's summary again."""
    from sandbox.verify_cli import run_report

    raise typer.Exit(run_report(run))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted; labelled containers and networks of this run were removed")
        sys.exit(130)


if __name__ == "__main__":
    main()
