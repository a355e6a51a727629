"""The bodies of `sandbox verify|plan|promote|gate|report`: selection, progress, exit codes.

Exit codes: 0 all verified/clean, 1 some failed or refused, 2 usage or environment error.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime

from sandbox.cleanup import new_run_id
from sandbox.engine import EngineUnavailable
from sandbox.images import ImageUnavailable
from sandbox.inventory import PHASES, ConfigError, ServiceConfig, dependents_of, discover, repo_root, shard
from sandbox.migrations import detect_migrations
from sandbox.report import build_report, summary_text, write_reports

EXIT_OK, EXIT_FAILED, EXIT_ENV = 0, 1, 2
_print_lock = threading.Lock()


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def _fleet() -> dict[str, ServiceConfig]:
    return discover(repo_root() / "services")


def select(
    names: list[str],
    all_services: bool,
    phase: str | None,
    shard_spec: str | None,
    fleet: dict[str, ServiceConfig],
) -> list[ServiceConfig]:
    """The services a command acts on; ValueError with a usage message otherwise."""
    unknown = [name for name in names if name not in fleet]
    if unknown:
        raise ValueError(f"unknown service {', '.join(unknown)}; known: {', '.join(fleet)}")
    if phase and phase.lower() not in (*PHASES, "all"):
        raise ValueError(f"--phase {phase!r}: expected a, b, c, d or all")
    if names:
        chosen = [fleet[name] for name in names]
    elif all_services or phase:
        wanted = PHASES if not phase or phase.lower() == "all" else (phase.lower(),)
        chosen = [config for config in fleet.values() if config.phase in wanted]
    else:
        raise ValueError("name services, or use --all / --phase")
    if shard_spec:
        keep = set(shard([config.name for config in chosen], shard_spec))
        chosen = [config for config in chosen if config.name in keep]
    return chosen


def auto_jobs() -> int:
    """Services in parallel: each holds a service, its tests and two dependencies (~2 GB, 1 core)."""
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gb = 4
    return max(1, min(os.cpu_count() or 1, int(memory_gb // 3), 4))


def _progress(service: str, stage: str, message: str) -> None:
    with _print_lock:
        print(
            f"[{datetime.now():%H:%M:%S}] {service:<22} {stage:<9} {message.splitlines()[0] if message else ''}",
            flush=True,
        )


def run_verify(
    names: list[str],
    all_services: bool,
    phase: str | None,
    shard_spec: str | None,
    jobs: str,
    baseline: bool,
    accept_preexisting: bool,
    promote_after: bool,
    keep: bool,
    max_failure_rate: float,
    as_json: bool,
) -> int:
    from sandbox.pipeline import Options, new_run, verify_fleet

    try:
        fleet = _fleet()
        chosen = select(names, all_services, phase, shard_spec, fleet)
        job_count = auto_jobs() if jobs == "auto" else int(jobs)
        if job_count < 1:
            raise ValueError("-j must be at least 1")
    except (ValueError, ConfigError) as exc:
        _err(str(exc))
        return EXIT_ENV
    if accept_preexisting and not baseline:
        _err("--accept-preexisting needs --baseline (pre-existing failures come from the baseline)")
        return EXIT_ENV
    options = Options(
        baseline=baseline,
        accept_preexisting=accept_preexisting,
        keep=keep,
        jobs=job_count,
        max_failure_rate=max_failure_rate,
    )
    repo = repo_root()
    run = new_run(repo, new_run_id(), options, _progress)
    _progress("run", "start", f"{run.run_id}: {len(chosen)} service(s), -j {job_count}, folder {run.folder}")
    begin = time.monotonic()
    interrupted = False
    try:
        result = verify_fleet(run, chosen)
    except (EngineUnavailable, ImageUnavailable) as exc:
        _err(str(exc))
        return EXIT_ENV
    except KeyboardInterrupt:
        interrupted = True
        result = None
    outcomes = [o.to_dict(run.images()) for o in (result.outcomes if result else [])]
    report = build_report(
        run.run_id,
        outcomes,
        run.images(),
        time.monotonic() - begin,
        result.stopped_after if result else None,
        interrupted,
    )
    write_reports(run.folder, report)
    print(
        json.dumps(report, indent=2, default=str) if as_json else summary_text(report, run.folder), flush=True
    )
    for problem in result.cleanup_errors if result else []:
        print(f"warning: cleanup: {problem}; `sandbox clean` retries", file=sys.stderr)
    if keep:
        print(
            "--keep: containers and networks are still up; list them with "
            f"`docker ps --filter label=sandbox.run={run.run_id}`; remove with `sandbox clean`"
        )
    if interrupted:
        return 130
    if promote_after:
        verified = [o["name"] for o in outcomes if o["overall_success"]]
        if verified and run_promote(verified, False, False) != EXIT_OK:
            return EXIT_FAILED
    return EXIT_OK if report["totals"]["failed"] == 0 and not result.stopped_after else EXIT_FAILED


def run_plan(
    names: list[str], all_services: bool, phase: str | None, as_json: bool, matrix: bool, shards: int
) -> int:
    try:
        fleet = _fleet()
        chosen = select(names, all_services or not names, phase, None, fleet)
    except (ValueError, ConfigError) as exc:
        _err(str(exc))
        return EXIT_ENV
    rows = [
        {
            "name": c.name,
            "priority": c.priority,
            "phase": c.phase.upper(),
            "migrations": detect_migrations(c),
            "needs": list(c.needs),
            "shared": list(c.shared),
            "shared_with": {s: dependents_of(s, fleet) for s in c.shared},
        }
        for c in chosen
    ]
    if matrix:
        count = shards or max(1, (len(chosen) + 1) // 2)
        print(json.dumps({"include": [{"shard": f"{k}/{count}"} for k in range(1, count + 1)]}))
        return EXIT_OK
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'service':<22} {'priority':<9} phase  migrations / shared code")
    for row in sorted(rows, key=lambda r: (r["phase"], r["name"])):
        shared = "; ".join(
            f"{s} (also {', '.join(n for n in users if n != row['name']) or 'none'})"
            for s, users in row["shared_with"].items()
        )
        print(
            f"{row['name']:<22} {row['priority']:<9} {row['phase']:<6} {', '.join(row['migrations']) or '-'}"
            + (f" | shared: {shared}" if shared else "")
        )
    return EXIT_OK


def run_promote(names: list[str], all_verified: bool, revert: bool) -> int:
    from sandbox.promote import PromotionRefused, promote, state_dir
    from sandbox.promote import revert as revert_one

    repo = repo_root()
    if all_verified:
        names = sorted(p.stem for p in (state_dir(repo) / "verified").glob("*.json"))
    if not names:
        _err("name services to promote, or use --all-verified")
        return EXIT_ENV
    try:
        fleet = _fleet()
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_ENV
    code = EXIT_OK
    for name in names:
        try:
            files = revert_one(repo, name) if revert else promote(repo, name, fleet)
        except PromotionRefused as exc:
            _err(f"promote refused: {exc}")
            code = EXIT_FAILED
            continue
        verb = "reverted" if revert else "promoted"
        print(f"{verb} {name}: {len(files)} file(s)" + "".join(f"\n  {f}" for f in files))
    return code


def run_gate(names: list[str]) -> int:
    from sandbox.promote import gate_status

    try:
        fleet = _fleet()
        chosen = names or list(fleet)
        unknown = [name for name in chosen if name not in fleet]
        if unknown:
            raise ValueError(f"unknown service {', '.join(unknown)}")
    except (ValueError, ConfigError) as exc:
        _err(str(exc))
        return EXIT_ENV
    code = EXIT_OK
    for name in chosen:
        ok, why = gate_status(repo_root(), name)
        print(f"{'PASS' if ok else 'FAIL'} {name}: {why}")
        code = code if ok else EXIT_FAILED
    return code


def run_report(run_id: str | None) -> int:
    runs = repo_root() / ".sandbox" / "runs"
    candidates = sorted(p for p in runs.glob("*") if (p / "report.json").is_file()) if runs.is_dir() else []
    folder = runs / run_id if run_id else (candidates[-1] if candidates else None)
    if folder is None or not (folder / "report.json").is_file():
        _err(f"no report for run {run_id or '(latest)'} under {runs}")
        return EXIT_ENV
    report = json.loads((folder / "report.json").read_text())
    print(summary_text(report, folder))
    return EXIT_OK if report["totals"]["failed"] == 0 else EXIT_FAILED
