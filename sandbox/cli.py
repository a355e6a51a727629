"""The `sandbox` command line. Exit codes follow Ruff: 0 clean, 1 findings/failures, 2 usage or
environment error."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from sandbox import doctor as doctor_mod
from sandbox.cleanup import remove_labelled
from sandbox.engine import EngineUnavailable, connect
from sandbox.images import BUILD_ORDER, SPECS, ImageUnavailable, Resolver, build_all

app = typer.Typer(help="Verify library migrations per service in throwaway containers.",
                  no_args_is_help=True, add_completion=False)
images_app = typer.Typer(help="Logical images: what they resolve to, and local builds.",
                         invoke_without_command=True)
app.add_typer(images_app, name="images")
console = Console(stderr=False)
errors = Console(stderr=True)

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
    names: Optional[list[str]] = typer.Argument(None, help="logical images (default: all)"),
    force: bool = typer.Option(False, "--force", help="rebuild even when the cache is current"),
) -> None:
    """Build the local images (offline base first), reusing them when their inputs did not change."""
    wanted = names or list(BUILD_ORDER)
    unknown = [name for name in wanted if name not in SPECS]
    if unknown:
        errors.print(f"[red]error:[/red] unknown image {', '.join(unknown)}; "
                     f"known: {', '.join(BUILD_ORDER)}")
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
    console.print(f"removed {len(report.containers)} containers, {len(report.networks)} networks, "
                  f"{len(report.images)} images")
    for error in report.errors:
        errors.print(f"[yellow]warning:[/yellow] {error}")
    raise typer.Exit(EXIT_FAILED if report.errors else EXIT_OK)


@app.command()
def verify(
    services: Optional[list[str]] = typer.Argument(None, help="service names under services/"),
) -> None:
    """Migrate, build, test and health-check services in throwaway containers."""
    from sandbox.images import project_root
    names = services or []
    missing = [name for name in names if not (project_root() / "services" / name).is_dir()]
    if not names or missing:
        errors.print(f"[red]error:[/red] unknown service {', '.join(missing) or '(none given)'}; "
                     "name a folder under services/")
        raise typer.Exit(EXIT_ENV)
    client = _engine()
    build_all(client, _progress)
    errors.print("the verify pipeline is not implemented yet (issue: the sandbox pipeline); "
                 "images are ready, see `sandbox images`")
    raise typer.Exit(EXIT_ENV)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted; labelled containers and networks of this run were removed")
        sys.exit(130)


if __name__ == "__main__":
    main()
