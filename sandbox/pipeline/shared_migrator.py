"""One migrator container for a whole fleet run: one interpreter, one import of libcst and the codemods.

A fleet run started one migrator container per service, each paying a container start and an import of
libcst and the codemods (a second or more of CPU each on a loaded machine, taken from the other
services' stages). Here the run starts one container, network-less and read-only like the others,
with each fleet service's working copy mounted at /work/<service> (and nothing else of the host but
an exchange folder), at the first migrate stage that needs it. A server in it forks one child per
request: each service's codemods run in a process of their own, so a crash or a timeout is that
service's failure only. A container that dies under a request (the memory limit) is not blamed on the
request's service: the stage runs it again in a container of its own (sandbox.pipeline.migrate).

The container carries the run's labels and is removed when the run ends, also on Ctrl-C (the run's
label sweep, sandbox.engine.cleanup).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from sandbox.engine.containers import NOBODY, OFFLINE, migrator_limits, remove

EXCHANGE_DIR = "migrator-exchange"  # in the run folder, beside the services' folders
POLL = 0.05  # seconds between looks for a result: the host side reads a folder, no engine call
ALIVE_EVERY = 2.0  # seconds between looks at the container's state (an engine call)
MEMORY = "2g"  # up to -j services' codemods at once, each a forked child of one interpreter

# The server: requests are `<id>.req` files (JSON: the argument lists and a timeout), results
# `<id>.json` (written to a temporary name, then renamed). One forked child per request runs
# `python -m migrators ARGS` per argument list with its own stdout, stderr and exit code; a child past
# its timeout is killed and its result says so; a child that died without a result gets one saying how.
# `python -m migrators ARGV` in the calling process, with its exit code, stdout and stderr: the part
# of the migrator scripts (this server, and migrate.py's DRIVER for a service's own container) that
# runs the codemods.
RUN_MIGRATORS = """
import contextlib, io, traceback
from migrators.cli import main
def run_migrators(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
"""
SERVER = (
    RUN_MIGRATORS
    + """
import json, os, signal, sys, time
IO = sys.argv[1]
def put(rid, results):
    with open(f"{IO}/{rid}.tmp", "w") as handle:
        json.dump(results, handle)
    os.replace(f"{IO}/{rid}.tmp", f"{IO}/{rid}.json")
def child(rid, argvs):
    put(rid, [run_migrators(argv) for argv in argvs])
running = {}
print("migrator server ready", flush=True)
while True:
    for name in sorted(os.listdir(IO)):
        if not name.endswith(".req"):
            continue
        rid = name[:-4]
        with open(f"{IO}/{name}") as handle:
            request = json.load(handle)
        os.remove(f"{IO}/{name}")
        pid = os.fork()
        if pid == 0:
            try:
                child(rid, request["argv"])
            finally:
                os._exit(0)
        running[pid] = (rid, time.monotonic() + request["timeout"], len(request["argv"]))
    for pid, (rid, deadline, count) in running.items():
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
    while True:  # as PID 1 it also reaps orphans (the workers of a child killed at its timeout)
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid not in running:
            continue
        rid, deadline, count = running.pop(pid)
        if not os.path.exists(f"{IO}/{rid}.json"):
            why = "timeout" if time.monotonic() > deadline else f"migrator process ended ({status})"
            put(rid, [{"code": None if why == "timeout" else 2, "stdout": "", "stderr": why}] * count)
    time.sleep(0.05)
"""
)


class SharedMigratorGone(RuntimeError):
    """The shared container stopped under a request: not the request's service's doing."""


@dataclass
class SharedMigrator:
    """The run's one migrator container; `migrate` is safe to call from every service's thread."""

    container: Container
    exchange: Path
    work_roots: dict[str, str]  # service -> its working copy's path in the container
    _ids: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(
        cls,
        client: docker.DockerClient,
        image: str,
        run_folder: Path,
        services: list[str],
        labels: dict[str, str],
        cores: int,
    ) -> SharedMigrator:
        """The container, started, with each service's working copy (created empty if not yet copied:
        a bind mount needs its folder to exist) mounted read-write and nothing else of the host but
        the exchange folder."""
        exchange = run_folder / EXCHANGE_DIR
        exchange.mkdir(exist_ok=True)
        works = {name: run_folder / name / "work" for name in services}
        for work in works.values():
            work.mkdir(parents=True, exist_ok=True)
        user = container_user([exchange, *works.values()])
        volumes = {str(exchange): {"bind": "/exchange", "mode": "rw"}}
        volumes.update({str(work): {"bind": f"/work/{name}", "mode": "rw"} for name, work in works.items()})
        container = client.containers.create(
            image,
            [SERVER, "/exchange"],
            entrypoint=["python", "-c"],
            **OFFLINE,
            labels=labels,
            volumes=volumes,
            user=user,
            **{**migrator_limits(cores), "mem_limit": MEMORY},
        )
        try:
            container.start()
        except BaseException:
            remove(container)
            raise
        return cls(container, exchange, {name: f"/work/{name}" for name in services})

    def migrate(
        self, service: str, argv: list[list[str]], timeout: float, cancelled: threading.Event
    ) -> list[dict[str, Any]]:
        """Each argument list's {code, stdout, stderr} (code None: past the timeout). Raises
        SharedMigratorGone when the container stopped, InterruptedError when the run was."""
        with self._lock:
            rid = f"{service}-{next(self._ids)}"
        request = self.exchange / f"{rid}.req"
        request.with_suffix(".part").write_text(json.dumps({"argv": argv, "timeout": timeout}))
        os.replace(request.with_suffix(".part"), request)  # the server never reads half a request
        result = self.exchange / f"{rid}.json"
        deadline, next_look = time.monotonic() + timeout + 30, time.monotonic() + ALIVE_EVERY
        while not result.exists():
            if cancelled.is_set():
                raise InterruptedError("run interrupted")
            if time.monotonic() >= next_look:
                self._check_alive(deadline)
                next_look = time.monotonic() + ALIVE_EVERY
            time.sleep(POLL)
        try:
            return json.loads(result.read_text())
        finally:
            result.unlink(missing_ok=True)

    def _check_alive(self, deadline: float) -> None:
        self.container.reload()
        if self.container.status != "running" or time.monotonic() > deadline:
            raise SharedMigratorGone(f"the shared migrator container is {self.container.status}")

    def close(self) -> None:
        remove(self.container)
        for leftover in self.exchange.glob("*"):  # a request the run's end left unanswered
            leftover.unlink(missing_ok=True)
        try:
            self.exchange.rmdir()
        except OSError:  # another container of the run still uses it (a restart), or it is gone
            pass


def container_user(paths: Iterable[Path]) -> str:
    """A migrator container's user: the caller's, never root (as root, `paths` are handed to nobody
    first; they are the run's own). `paths` is only walked then."""
    if os.getuid() != 0:
        return f"{os.getuid()}:{os.getgid()}"
    uid, gid = (int(part) for part in NOBODY.split(":"))
    for path in paths:
        os.lchown(path, uid, gid)
    return NOBODY


@dataclass
class OnDemand:
    """The run's shared migrator, started by the first service that needs it (a run whose results
    are all reused starts none) and again after one stopped; closed with the run."""

    start: Callable[[], SharedMigrator]
    work_folders: list[Path] = field(default_factory=list)  # made for the mounts; emptied ones go
    _current: SharedMigrator | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> SharedMigrator:
        with self._lock:
            if self._current is None:
                self._current = self.start()
            return self._current

    def discard(self, gone: SharedMigrator) -> None:
        """`gone` stopped: remove it; the next service's request starts another."""
        with self._lock:
            if self._current is gone:
                self._current = None
        gone.close()

    def close(self) -> None:
        with self._lock:
            current, self._current = self._current, None
        if current is not None:
            current.close()
        for folder in self.work_folders:  # a service that never copied (reused, stopped): no trace
            for empty in (folder, folder.parent):
                try:
                    empty.rmdir()
                except OSError:  # not empty (the service's working copy, its logs), or already gone
                    break
