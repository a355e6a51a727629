"""`python -m migrators DIR`: apply the codemods in place (or --diff / --check / --json).

Exit codes: 0 done (or nothing to do), 1 a MIGRATION-BLOCKER marker remains anywhere in the tree
(new or left by an earlier run, whatever upgrades were detected), the post-migrate check failed
(names made undefined, keywords the new library rejects, an old-API shape left unmarked: the
JSON report says `"check": {"ok": false, ...}` and stderr says "post-migrate check failed"), or
`--check` and something would change; 2 usage error, or a file that could not be parsed /
rewritten (named with its line on stderr; that file is left untouched, the others are still
processed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from migrators.core.profile import Profile
from migrators.core.runner import find_blockers, migrate_tree
from migrators.upgrades import default_registry


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 (argparse's default too, made explicit)
        self.print_usage(sys.stderr)
        print(f"migrators: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m migrators", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", nargs="?", help="service folder (or a single file) to migrate")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything would change")
    parser.add_argument("--json", action="store_true", help="print the per-file, per-rule report as JSON")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="UPGRADE",
        help="run only this upgrade (repeatable); default: detect from the tree",
    )
    parser.add_argument("--skip", action="append", default=[], metavar="UPGRADE")
    parser.add_argument(
        "--versions", type=Path, metavar="TOML", help="versions table override ([targets], [forced])"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PKG=VERSION",
        help="override one target version, e.g. pytest-asyncio=1.3.0",
    )
    parser.add_argument("--list", action="store_true", help="list the known upgrades and exit")
    parser.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="worker processes (default: the cores available); the output is the same as with -j 1",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print seconds per phase, upgrade and metadata provider (stderr)",
    )
    return parser


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return jobs


def available_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU set, capped by a container's CPU quota (the sandbox
    runs the migrator with one CPU's worth of quota on a machine of several: two workers there
    would only take turns)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no sched_getaffinity (macOS)
        cores = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return max(1, min(cores, quota) if quota else cores)


def cpu_quota(cgroup: Path) -> int | None:
    """Whole CPUs of the cgroup's quota, rounded up (cgroup v2 cpu.max, else v1), None if unlimited."""
    try:
        limit, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            limit = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if limit in ("max", "-1") or not limit.lstrip("-").isdigit() or not period.isdigit() or int(period) <= 0:
        return None
    return max(1, -(-int(limit) // int(period)))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    registry = default_registry()
    if args.list:
        for upgrade in registry.upgrades:
            print(f"{upgrade.name}\t{upgrade.description}")
        return 0
    if not args.path:
        parser.error("the path argument is required")
    root = Path(args.path)
    if not root.exists():
        print(f"migrators: error: {root}: no such file or directory", file=sys.stderr)
        return 2
    for name in (*args.only, *args.skip):
        if name not in registry.names():
            print(
                f"migrators: error: unknown upgrade {name!r}; known: {', '.join(registry.names())}",
                file=sys.stderr,
            )
            return 2
    overrides = {}
    for item in args.target:
        if "=" not in item:
            print(f"migrators: error: --target wants PKG=VERSION, got {item!r}", file=sys.stderr)
            return 2
        key, value = item.split("=", 1)
        overrides[key.strip()] = value.strip()
    try:
        versions = registry.versions(args.versions, overrides)
    except Exception as exc:
        print(f"migrators: error: versions file {args.versions}: {exc}", file=sys.stderr)
        return 2

    write = not (args.diff or args.check)
    profile = Profile() if args.profile else None
    result = migrate_tree(
        root,
        registry=registry,
        write=write,
        versions=versions,
        only=args.only,
        skip=args.skip,
        jobs=args.jobs or available_cores(),
        profile=profile,
    )
    if profile is not None:
        print(profile.format(), file=sys.stderr)
    blockers = find_blockers(result)

    for fr in result.errors:
        where = f"{root / fr.path if root.is_dir() else root}" + (
            f":{fr.error_line}" if fr.error_line else ""
        )
        print(f"{where}: {fr.error}", file=sys.stderr)
        if fr.traceback:  # an internal error: the rule's stack, for whoever fixes the codemod
            print(fr.traceback, file=sys.stderr, end="")
    check = result.check
    if check is not None and not check.ok:
        print(f"migrators: post-migrate check failed ({len(check.failures)} failure(s)):", file=sys.stderr)
        for failure in check.failures:
            where = root / failure.path if root.is_dir() else root
            print(f"{where}:{failure.line}: {failure.message}; next: {failure.next_step}", file=sys.stderr)
    if args.json:
        report = result.to_json()
        report["blockers"] = [blocker.to_json() for blocker in blockers]
        print(json.dumps(report, indent=2))
    elif args.diff:
        sys.stdout.write(result.diff())
    else:
        verb = "would change" if args.check else "changed"
        for fr in result.changed:
            print(f"{verb} {fr.path}")
        for path, marker in result.markers:
            print(f"{path}:{marker.line}: MIGRATION-BLOCKER({marker.rule}): {marker.message}")
        print(
            f"{len(result.changed)} file(s) {verb}, {len(result.markers)} marker(s), "
            f"{len(result.errors)} error(s), {len(blockers)} blocker(s) in the tree; "
            f"upgrades: {', '.join(result.upgrades) or 'none detected'}",
            file=sys.stderr,
        )
    if result.errors:
        return 2
    if blockers or (check is not None and not check.ok) or (args.check and result.changed):
        return 1
    return 0
