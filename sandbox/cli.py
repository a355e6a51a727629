"""The `sandbox` command line: argument parsing only; each command's body is in sandbox.commands and
its exit code in the table of sandbox.output (0 clean, 1 findings/failures, 2 usage or environment)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer
from typer.core import TyperArgument, TyperGroup

from sandbox import commands
from sandbox.config import parse_shard
from sandbox.engine.cleanup import CACHE_KEEP
from sandbox.output import ExitCode, Output, Verbosity
from sandbox.pipeline.run import Options


class _PlainArgument(TyperArgument):
    """An argument listed in --help by its metavar alone: Typer would add its Python type
    (`<list[str]>`), which tells a person nothing the metavar and help do not."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None


class _Group(TyperGroup):
    """Typer's group, whose commands list their arguments without a type label."""

    def get_command(self, ctx: typer.Context, cmd_name: str):  # -> the (vendored) click Command
        command = super().get_command(ctx, cmd_name)
        for param in command.params if command is not None else []:
            if type(param) is TyperArgument:
                param.__class__ = _PlainArgument  # same object, help rendering only
        return command


app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None, cls=_Group)


def package_version() -> str:
    try:
        return version("sandbox-migrate")
    except PackageNotFoundError:
        return "unknown (not installed)"


images_app = typer.Typer(
    help="Logical images: what they resolve to, and local builds.", invoke_without_command=True, cls=_Group
)
app.add_typer(images_app, name="images")
out = Output()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sandbox {package_version()}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="results, warnings and errors only"),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="every image build line on stderr too"),
    repo: Path | None = typer.Option(
        None,
        "--repo",
        envvar="SANDBOX_REPO",
        metavar="PATH",
        help="the monorepo to work on (default: found from the working directory upward)",
        file_okay=False,
        exists=True,
    ),
) -> None:
    """Verify library migrations per service in throwaway containers.

    Results go to stdout (--json: one JSON document); progress, warnings and errors to stderr.
    Exit codes: 0 clean, 1 failures or findings, 2 usage or environment error, 130 interrupted.
    """
    if quiet and verbose:
        raise typer.BadParameter("-q and -v exclude each other", param_hint="-q/-v")
    out.verbosity = Verbosity.QUIET if quiet else Verbosity.VERBOSE if verbose else Verbosity.NORMAL
    if repo is not None:
        # Every command finds the repo through SANDBOX_REPO (sandbox.config.repo_root).
        os.environ["SANDBOX_REPO"] = str(repo.resolve())


def _shard_spec(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_shard(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc).removeprefix(f"--shard {value!r}: ")) from exc
    return value


def _jobs(value: str) -> str:
    if value != "auto" and (not value.isdigit() or int(value) < 1):
        raise typer.BadParameter(f"{value!r}: expected a whole number >= 1, or auto")
    return value


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
    names: list[str] | None = typer.Argument(
        None, help="logical images (default: all)", show_default=False, metavar="IMAGE"
    ),
    force: bool = typer.Option(False, "--force", help="rebuild even when the cache is current"),
) -> None:
    """Build the local images (offline base first), reusing them when their inputs did not change."""
    raise typer.Exit(commands.images_build(names or [], out, force))


@app.command()
def clean(
    images_too: bool = typer.Option(False, "--images", help="also remove the cached local images"),
    run: str | None = typer.Option(
        None, "--run", metavar="RUN", help="remove this run, whether or not its owner is alive"
    ),
    force: bool = typer.Option(False, "--force", help="remove every run, live ones too (listed first)"),
    cache: bool = typer.Option(
        False,
        "--cache",
        help="also drop the docker build cache of the services (sandbox-cache/* and dangling <none> "
        "layers of the project whose owner is gone); base, dependency and migrator images stay",
    ),
) -> None:
    """Remove leftovers of dead runs: labelled containers, networks, run images, temp and run folders."""
    raise typer.Exit(commands.clean(out, images_too, run, force, cache))


@app.command()
def verify(
    services: list[str] | None = typer.Argument(
        None, help="service names under services/", show_default=False, metavar="SERVICE"
    ),
    all_services: bool = typer.Option(False, "--all", help="every service of the fleet"),
    phase: str | None = typer.Option(None, "--phase", help="only this phase: a|b|c|d|all", metavar="PHASE"),
    shard_spec: str | None = typer.Option(
        None, "--shard", help="K/N: this job's slice of the services", metavar="K/N", callback=_shard_spec
    ),
    jobs: str = typer.Option(
        "auto",
        "-j",
        "--jobs",
        help="services in parallel within a phase (auto: what the machine can hold)",
        metavar="N|auto",
        callback=_jobs,
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
        0.20,
        "--max-failure-rate",
        min=0.0,
        max=1.0,
        metavar="RATE",
        help="stop before the next phase above this rate (0-1)",
    ),
    skip: str | None = typer.Option(
        None,
        "--skip",
        metavar="REASON",
        help="run nothing: report every selected service as skipped with this reason (CI: an earlier "
        "phase stopped the night)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print report.json on stdout instead of the summary"),
    changed: bool = typer.Option(
        False,
        "--changed",
        help="re-verify only services whose inputs changed since their last verified run (content, shared "
        "code, fixes, requirements, targets, images, tool); reuse the others' results, named as reused. "
        "The default for named services; --all/--phase run everything without it",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="verify every selected service from scratch, reusing nothing"
    ),
    cache_keep: int | None = typer.Option(
        None,
        "--cache-keep",
        min=0,
        metavar="N",
        help="bound the docker build cache as the run starts: the newest N per service and role (service "
        f"image, test image) stay, e.g. {CACHE_KEEP}. Off by default: use it when no other run builds the "
        "same services. `sandbox clean --cache` drops them all",
    ),
) -> None:
    """Migrate, build, test and health-check services in throwaway containers."""
    selection = commands.Selection(tuple(services or ()), all_services, phase, shard_spec)
    options = Options(
        baseline=baseline,
        accept_preexisting=accept_preexisting,
        keep=keep,
        max_failure_rate=max_failure_rate,
        cache_keep=cache_keep,
    )
    if skip is not None:
        raise typer.Exit(commands.verify_skipped(selection, skip, out, as_json))
    cache = commands.CacheChoice(changed=changed, no_cache=no_cache)
    raise typer.Exit(commands.verify(selection, options, out, jobs, promote_after, as_json, cache))


@app.command()
def plan(
    services: list[str] | None = typer.Argument(
        None, help="service names (default: every service)", show_default=False, metavar="SERVICE"
    ),
    all_services: bool = typer.Option(False, "--all", help="every service of the fleet (the default)"),
    phase: str | None = typer.Option(None, "--phase", help="only this phase: a|b|c|d|all", metavar="PHASE"),
    as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
    matrix: bool = typer.Option(False, "--matrix", help="a CI job matrix (one shard per entry)"),
    shards: int | None = typer.Option(
        None,
        "--shards",
        metavar="N",
        min=1,
        max=256,
        help="with --matrix: number of shards (default: one per 2 services)",
        show_default=False,
    ),
) -> None:
    """Services, priorities, phases and the migrations that apply, without running anything; invalid
    sandbox.toml files are listed as invalid (exit 1)."""
    selection = commands.Selection(tuple(services or ()), all_services, phase)
    raise typer.Exit(commands.plan(selection, out, as_json, matrix, shards or 0))


@app.command("phase-status")
def phase_status(
    reports: list[Path] = typer.Argument(
        ...,
        help="report.json files or folders holding them (every shard of the phase)",
        exists=True,
        metavar="PATH",
    ),
    phase: str = typer.Option(..., "--phase", help="the phase to judge: a|b|c|d", metavar="PHASE"),
    max_failure_rate: float = typer.Option(
        0.20,
        "--max-failure-rate",
        min=0.0,
        max=1.0,
        metavar="RATE",
        help="later phases stop above this rate (0-1)",
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
) -> None:
    """The stop rule over a whole phase (all its shards): exit 0 when later phases may run, 1 when
    they stop; the reason is printed for the skipped phases' reports."""
    raise typer.Exit(commands.phase_status(reports, phase, max_failure_rate, out, as_json))


@app.command("config-schema")
def config_schema() -> None:
    """Print the JSON Schema of sandbox.toml (for editors; docs/sandbox.schema.json is this output)."""
    raise typer.Exit(commands.config_schema(out))


@app.command()
def promote(
    services: list[str] | None = typer.Argument(
        None, help="services to promote", show_default=False, metavar="SERVICE"
    ),
    all_verified: bool = typer.Option(False, "--all-verified", help="every service with a verified diff"),
    revert: bool = typer.Option(False, "--revert", help="undo the last promotion of the services"),
) -> None:
    """Apply verified diffs to the repo (all or nothing per service; refuses stale diffs)."""
    raise typer.Exit(commands.promote(services or [], out, all_verified, revert))


@app.command()
def gate(
    services: list[str] | None = typer.Argument(
        None, help="services (default: all)", show_default=False, metavar="SERVICE"
    ),
    records: str | None = typer.Option(
        None,
        "--records",
        metavar="PATH",
        help="read the verified records from a run folder or a downloaded CI artifact",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the gate's findings as JSON"),
) -> None:
    """Exit 0 only if every service named (default: all) has a verified diff ready for its current
    content, or its current content is exactly what was verified and promoted."""
    raise typer.Exit(commands.gate(services or [], out, records, as_json))


@app.command()
def fix(
    service: str = typer.Argument(..., help="service name under services/", metavar="SERVICE"),
    save: str | None = typer.Option(
        None, "--save", metavar="NAME", help="store the edits of the fix copy as fix NAME"
    ),
    reason: str | None = typer.Option(
        None, "--reason", metavar="REASON", help="with --save: why (the patch's header)"
    ),
    list_only: bool = typer.Option(False, "--list", help="list the service's fixes in order"),
    drop: str | None = typer.Option(None, "--drop", metavar="NAME", help="remove fix NAME"),
    discard: bool = typer.Option(False, "--discard", help="prepare a new copy even over unsaved edits"),
) -> None:
    """Prepare an editable migrated copy (codemods and saved fixes applied), or save, list, drop fixes."""
    raise typer.Exit(commands.fix(service, out, save, reason, list_only, drop, discard))


@app.command()
def report(
    runs: list[str] | None = typer.Argument(
        None,
        metavar="RUN",
        help="run id (default: the latest); with --compare, two runs: the older, then the newer",
    ),
    fmt: str = typer.Option(
        "text",
        "--format",
        "-f",
        metavar="FORMAT",
        help="text (the console summary), json (report.json), md (summary.md), junit, "
        "or seeds (the seeds' results JSON: name, priority, migrations, overall_success)",
    ),
    compare: bool = typer.Option(
        False,
        "--compare",
        help="list regressions and fixes: one run against each service's previous run in the "
        "history, or two runs against each other; exit 1 when something regressed",
    ),
    merge: bool = typer.Option(
        False,
        "--merge",
        help="merge two runs or more (a night's shards) into one run of their own: report.json, "
        "junit.xml, summary.md and a history line; then show it like any run",
    ),
    html: bool = typer.Option(
        False, "--html", help="write one self-contained HTML page (default: report.html in the run folder)"
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="with --html: where to write the page"
    ),
    last: int = typer.Option(10, "--last", min=1, metavar="N", help="with --html: runs shown in the trend"),
) -> None:
    """Show a run's report again, compare runs, or write the HTML page."""
    request = commands.ReportRequest(tuple(runs or ()), fmt, compare, merge, html, output, last)
    raise typer.Exit(commands.report(request, out))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        out.note("interrupted; labelled containers and networks of this run were removed")
        sys.exit(ExitCode.INTERRUPTED)
    finally:
        out.close()


if __name__ == "__main__":
    main()
