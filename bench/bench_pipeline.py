"""Wall time of `sandbox verify` against the same work done by hand with the docker CLI, of a
fleet run with -j auto against the services verified one by one, and of `verify --all --changed` on an
unchanged fleet against a full `verify --all`; measured side by side in one run.

by hand = what a careful person types: run the codemods in the migrator image without network,
build the service image (FROM mapped to the offline base), create a network, start Mosquitto and
InfluxDB 3 and poll until they answer, build a test image and run pytest in it, start the service
and poll its health endpoint, then remove everything.

The fleet parts (--fleet) run on a copy of the repo's services in a temporary repo (SANDBOX_REPO), so
the bench's cache, records and the service it touches never reach this checkout. After touching one
service, it asserts that only that service was verified again; it prints per-stage run time and
the time services waited for a -j slot or for their dependencies, and the schedule's floor: the least
wall time its phase gates allow with each service's own stage times (a phase's checks wait for the
previous phase; phase D checks one service at a time), and the same with every phase decided at once,
as in the bench's own runs (--max-failure-rate 1: only phase D's checks chain). It also prints
the CPU seconds of the fleet run and of the single runs (their containers, from the engine's
cgroups, and the sandbox process):
on a shared machine, CPU per service is what a fleet run can save, and it does not move with other
people's load as wall time does. The engine's own CPU (dockerd, containerd, the run's shims and
their runc calls, iptables) is a third part of that line, and the engine operations of each (containers
created and started, execs, networks, connects) and the containers' CPU by role are printed beside it.

usage: .venv/bin/python bench/bench_pipeline.py [SERVICE] [--repeat N] [--fleet [--only A,B]] [--no-single]
Targets (issue 16): verify / by-hand <= 0.5; fleet -j auto / sum of single runs <= 0.5;
--changed on an unchanged fleet / full run <= 0.10.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sandbox.config import discover, repo_root
from sandbox.engine import connect
from sandbox.engine.containers import host_cores
from sandbox.engine.images import Resolver, map_dockerfile

ROOT = Path(__file__).resolve().parent.parent


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout.strip()


# CPU seconds of the last verify_seconds run: its containers (the engine's cgroup accounting, by the
# owner label every container of the run carries) and its own process; None where unreadable.
LAST_CPU: dict[str, float | None] = {"containers": None, "process": None, "engine": None, "machine": None}
# What the engine did for the last verify_seconds run (engine_operations).
LAST_OPS: dict[str, int] = {}
LAST_ROLES: dict[str, tuple[int, float]] = {}  # container role -> (containers, CPU seconds)


def verify_seconds(*names: str, jobs: str = "auto", repo: Path | None = None) -> tuple[float, int]:
    """One `sandbox verify` as a user types it; `repo`: the repo it works on (SANDBOX_REPO)."""
    # This tree's code (the venv's console script imports the checkout it was installed from).
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"SANDBOX_REPO": str(repo)} if repo else {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy()
    begin = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.cli", "verify", *names, "-j", jobs],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    meter, engine, operations = ContainerCpu(proc.pid), EngineCpu(), EngineOperations()
    operations.start()
    meter.start()
    engine.start()
    code = proc.wait()
    seconds = time.perf_counter() - begin
    meter.stop()
    engine.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU["containers"] = meter.total()
    LAST_CPU["engine"] = engine.total(meter.usage())
    LAST_ROLES.clear()
    LAST_ROLES.update(meter.by_role())
    LAST_OPS.clear()
    LAST_OPS.update(operations.stop(proc.pid))
    LAST_CPU["process"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    LAST_CPU["machine"] = machine_busy() - busy
    return seconds, code


def machine_busy() -> float:
    """The whole machine's busy CPU seconds so far, all cores (/proc/stat: every process and the
    kernel). Beside the lines above it holds the kernel's own work for the run's containers
    (namespaces, veths, mounts, cgroups) and short-lived helpers such as the engine's
    libnetwork-setkey hook, which no cgroup or sampled process is charged with; another person's
    load on the machine counts too, so read it beside the load average."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


class ContainerCpu(threading.Thread):
    """The CPU seconds of the containers one `sandbox verify` process owns (label sandbox.owner.pid),
    from the engine's cgroups (v1 cpuacct or v2 cpu.stat), sampled every 0.3 s: the machine is shared,
    so wall time alone mixes in other people's load, CPU seconds do not. A container removed between
    two samples loses at most its last 0.3 s; the engine's own CPU is EngineCpu's."""

    def __init__(self, owner: int) -> None:
        super().__init__(daemon=True)
        self._owner, self._done = str(owner), threading.Event()
        self._usage: dict[str, float] = {}  # container id -> last CPU seconds seen
        self._mine: dict[str, bool] = {}
        self._role: dict[str, str] = {}  # container id -> its sandbox.role label
        self._client = connect()
        self.readable = Path(CGROUP_V1).is_dir() or Path(CGROUP_V2).is_dir()

    def run(self) -> None:
        while not self._done.wait(0.3):
            self.sample()
        self.sample()

    def sample(self) -> None:
        for cid in _container_ids():
            if cid not in self._mine:
                self._mine[cid] = self._owned(cid)
            usage = _cgroup_usage(cid) if self._mine[cid] else None
            if usage is not None:
                self._usage[cid] = usage

    def _owned(self, cid: str) -> bool:
        try:
            config = self._client.api.inspect_container(cid)["Config"]
        except Exception:  # gone already
            return False
        labels = config["Labels"] or {}
        role = labels.get("sandbox.role", "?")
        # a dependency by its image (mosquitto, influxdb3-lite): their start-ups cost differently
        self._role[cid] = f"{role}:{config['Image'].split('/')[-1].split(':')[0]}" if role == "deps" else role
        return labels.get("sandbox.owner.pid") == self._owner

    def stop(self) -> None:
        self._done.set()
        self.join()

    def total(self) -> float | None:
        return sum(self._usage.values()) if self.readable else None

    def usage(self) -> dict[str, float]:
        return dict(self._usage)

    def by_role(self) -> dict[str, tuple[int, float]]:
        """role -> (containers, CPU seconds)."""
        roles: dict[str, tuple[int, float]] = {}
        for cid, used in self._usage.items():
            count, seconds = roles.get(self._role.get(cid, "?"), (0, 0.0))
            roles[self._role.get(cid, "?")] = (count + 1, seconds + used)
        return roles


class EngineOperations(threading.Thread):
    """What the engine did for one run, from its event stream (read live: the engine keeps only its
    last 256 events for a later query): containers created and started, execs, networks the run's
    containers were on, network connects. Containers are the run's by their owner label; a network
    event carries no labels, so networks count by the run's containers on them."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._stream = connect().events(decode=True)
        self._events: list[dict] = []

    def run(self) -> None:
        try:
            for event in self._stream:
                self._events.append(event)
        except Exception:  # the stream was closed by stop()
            pass

    def stop(self, owner: int) -> dict[str, int]:
        time.sleep(0.5)  # the run's last removals reach the stream
        self._stream.close()
        self.join(5)
        return self._count(list(self._events), str(owner))

    @staticmethod
    def _count(events: list[dict], owner: str) -> dict[str, int]:
        mine: set[str] = set()
        counts = {"containers": 0, "starts": 0, "execs": 0, "networks": 0, "connects": 0}
        for event in events:
            actor = event.get("Actor", {})
            if (
                event.get("Type") == "container"
                and actor.get("Attributes", {}).get("sandbox.owner.pid") == owner
            ):
                mine.add(actor.get("ID", ""))
                action = event.get("Action", "")
                counts["containers"] += action == "create"
                counts["starts"] += action == "start"
                counts["execs"] += action.startswith("exec_create")
        networks = set()
        for event in events:
            actor = event.get("Actor", {})
            if (
                event.get("Type") == "network"
                and event.get("Action") == "connect"
                and actor.get("Attributes", {}).get("container") in mine
            ):
                networks.add(actor.get("ID"))
                counts["connects"] += 1
        counts["networks"] = len(networks)
        return counts


def role_lines(fleet: dict[str, tuple[int, float]], singles: dict[str, tuple[int, float]]) -> list[str]:
    lines = []
    for role in sorted(set(fleet) | set(singles), key=lambda r: -fleet.get(r, (0, 0.0))[1]):
        (n, cpu), (m, alone) = fleet.get(role, (0, 0.0)), singles.get(role, (0, 0.0))
        lines.append(f"  {role:<24} fleet {cpu:6.1f} s in {n:3d}   singles {alone:6.1f} s in {m:3d}")
    return lines


def ops_line(label: str, ops: dict[str, int]) -> str:
    return f"{label}: " + ", ".join(f"{count} {name}" for name, count in ops.items())


ENGINE_DAEMONS = ("dockerd", "containerd")
SHIM = "containerd-shim"


def _proc_cpu(pid: str) -> tuple[float, float] | None:
    """A process's own CPU seconds and those of the children it reaped, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the ")": state is field 3 of stat(5); utime, stime, cutime, cstime are fields 14-17
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _engine_pids() -> dict[str, str]:
    """pid -> what it is: "dockerd", "containerd", or "shim:<container id>" for a containerd shim."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            if name.startswith(SHIM):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                name = "shim:" + (argv[argv.index(b"-id") + 1].decode() if b"-id" in argv else "")
        except (OSError, ValueError):
            continue
        if name in ENGINE_DAEMONS or name.startswith("shim:"):
            found[entry.name] = name
    return found


class EngineCpu(threading.Thread):
    """The CPU seconds the engine's own processes spent during a run, sampled every 0.3 s: dockerd and
    containerd with the helpers they ran and reaped (iptables, the shims' start-up), and the
    containerd shims of the run's containers with their runc calls. A shim also reaps its
    container's processes, so a shim's children minus its container's own CPU (from the cgroup) is
    what runc took; other people's shims count only their own CPU. A shim that exits between two
    samples loses at most its last 0.3 s. dockerd and containerd are shared: another person's run
    on the engine counts here too, so read it beside the load."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._done = threading.Event()
        self._first: dict[str, tuple[float, float]] = {}  # pid -> (own, children) when first seen
        self._last: dict[str, tuple[float, float]] = {}
        self._what: dict[str, str] = {}
        self._before = set(_engine_pids())  # processes there before the run: only their growth
        self.sample()

    def run(self) -> None:
        while not self._done.wait(0.3):
            self.sample()
        self.sample()

    def sample(self) -> None:
        for pid, what in _engine_pids().items():
            used = _proc_cpu(pid)
            if used is None:
                continue
            self._first.setdefault(pid, used if pid in self._before else (0.0, 0.0))
            self._last[pid], self._what[pid] = used, what

    def stop(self) -> None:
        self._done.set()
        self.join()

    def total(self, containers: dict[str, float]) -> float | None:
        """`containers`: the run's containers' own CPU by id (ContainerCpu)."""
        if not self._last:
            return None
        total = 0.0
        for pid, (own, children) in self._last.items():
            first_own, first_children = self._first[pid]
            total += own - first_own
            cid = self._what[pid].removeprefix("shim:")
            if not self._what[pid].startswith("shim:"):
                total += children - first_children
            elif cid in containers:  # runc's part of what the shim reaped
                total += max(0.0, children - first_children - containers[cid])
        return total


CGROUP_V1 = "/sys/fs/cgroup/cpuacct/docker"
CGROUP_V2 = "/sys/fs/cgroup/system.slice"


def _container_ids() -> list[str]:
    if Path(CGROUP_V1).is_dir():
        return [p.name for p in Path(CGROUP_V1).iterdir() if p.is_dir()]
    if Path(CGROUP_V2).is_dir():
        return [p.name[7:-6] for p in Path(CGROUP_V2).glob("docker-*.scope")]
    return []


def _cgroup_usage(cid: str) -> float | None:
    """A container's CPU seconds so far, or None when its cgroup is gone or unreadable."""
    try:
        if Path(CGROUP_V1).is_dir():
            return int((Path(CGROUP_V1) / cid / "cpuacct.usage").read_text()) / 1e9
        stat = (Path(CGROUP_V2) / f"docker-{cid}.scope" / "cpu.stat").read_text()
        return int(stat.split("usage_usec", 1)[1].split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return None


def cpu_line(label: str, containers: float | None, process: float | None, engine: float | None) -> str:
    if containers is None:
        return f"{label}: CPU not readable here (no docker cgroup)"
    process, engine = process or 0.0, engine or 0.0
    return (
        f"{label}: {containers + process + engine:7.1f} s ({containers:.1f} s in containers, "
        f"{process:.1f} s sandbox, {engine:.1f} s engine: dockerd, containerd, shims, runc, iptables)"
    )


def latest_report(repo: Path) -> dict:
    runs = sorted(p for p in (repo / ".sandbox" / "runs").iterdir() if (p / "report.json").is_file())
    return json.loads((runs[-1] / "report.json").read_text())


def fleet_copy(into: Path, names: list[str]) -> Path:
    """The repo's services `names` (with the shared code) and its [tool.sandbox] settings in a temporary
    repo of their own."""
    shutil.copy2(repo_root() / "pyproject.toml", into / "pyproject.toml")
    fleet = discover(repo_root() / "services")
    keep = set(names) | {shared for name in names for shared in fleet[name].shared}
    for folder in keep:
        shutil.copytree(
            repo_root() / "services" / folder,
            into / "services" / folder,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return into


def _poll(command: list[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while subprocess.run(command, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(" ".join(command))
        time.sleep(0.2)


def by_hand_seconds(name: str) -> float:
    """The docker CLI sequence, timed from the copy to the last `docker rm`.

    It stops where verify stops (blocker markers after the codemods and the service's hand fixes,
    failing tests) and starts only the dependencies the service needs, so both sides do the same work
    whatever the service's state.
    """
    config = discover(repo_root() / "services")[name]
    resolver = Resolver(connect())
    images = {need: resolver.resolve(need).ref for need in ("migrator", *config.needs)}
    mapping = resolver.image_map()
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for rel in ("services/" + name, *("services/" + s for s in config.shared)):
            shutil.copytree(repo_root() / rel, work / rel)
        for rel in ("services/" + name, *("services/" + s for s in config.shared)):  # shared code too
            sh(
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                f"{work}:/work",
                images["migrator"],
                f"/work/{rel}",
                check=False,
            )
        _apply_fixes(work, work / "services" / name)
        blockers = ["grep", "-rq", "--exclude-dir=migration-fixes", "MIGRATION-BLOCKER(", str(work)]
        if subprocess.run(blockers).returncode == 0:
            return time.perf_counter() - begin
        service = work / "services" / name
        (work / "Dockerfile.mapped").write_text(
            map_dockerfile((service / config.dockerfile).read_text(), mapping)
        )
        sh(
            "docker",
            "build",
            "-q",
            "-t",
            f"{tag}:svc",
            "-f",
            str(work / "Dockerfile.mapped"),
            str((service / config.context).resolve()),
        )
        sh("docker", "network", "create", "--internal", tag)
        try:
            _by_hand_run(tag, name, config, images, service)
        finally:
            sh("docker", "rm", "-f", f"{tag}-svc", f"{tag}-mqtt", f"{tag}-influx", check=False)
            sh("docker", "network", "rm", tag, check=False)
            sh("docker", "rmi", "-f", f"{tag}:svc", f"{tag}:tests", check=False)
    return time.perf_counter() - begin


def _apply_fixes(work: Path, service: Path) -> None:
    """The service's hand fixes over the codemods' output, in order, as verify's fix stage applies
    them (exactly; a fix that needs a 3-way merge fails here, and the blocker check then stops)."""
    for patch in sorted((service / "migration-fixes").glob("*.patch")):
        subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=work, capture_output=True)


def _start_deps(tag: str, needs: tuple[str, ...], images: dict[str, str]) -> None:
    if "mosquitto" in needs:
        sh(
            "docker",
            "run",
            "-d",
            "--name",
            f"{tag}-mqtt",
            "--network",
            tag,
            "--network-alias",
            "mosquitto",
            images["mosquitto"],
        )
    if "influxdb3" in needs:
        sh(
            "docker",
            "run",
            "-d",
            "--name",
            f"{tag}-influx",
            "--network",
            tag,
            "--network-alias",
            "influxdb3",
            images["influxdb3"],
            "influxdb3",
            "serve",
            "--node-id",
            "b",
            "--object-store",
            "memory",
            "--without-auth",
            "--http-bind",
            "0.0.0.0:8181",
        )
    if "mosquitto" in needs:
        _poll(
            [
                "docker",
                "exec",
                f"{tag}-mqtt",
                "mosquitto_sub",
                "-t",
                "$SYS/broker/version",
                "-C",
                "1",
                "-W",
                "2",
            ]
        )
    if "influxdb3" in needs:
        _poll(
            [
                "docker",
                "exec",
                f"{tag}-influx",
                "python3",
                "-c",
                "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8181/health')",
            ]
        )


def _by_hand_run(tag: str, name: str, config, images: dict[str, str], service: Path) -> None:
    """Tests against fresh deps, then the service's health against fresh deps, as verify does."""
    env = [
        "-e",
        "INFLUXDB_URL=http://influxdb3:8181",
        "-e",
        "INFLUXDB_HOST=http://influxdb3:8181",
        "-e",
        "INFLUXDB_TOKEN=t",
        "-e",
        "INFLUXDB_ORG=o",
        "-e",
        f"INFLUXDB_BUCKET={name}",
        "-e",
        f"INFLUXDB_DATABASE={name}",
        "-e",
        "MQTT_HOST=mosquitto",
        "-e",
        "MQTT_PORT=1883",
    ]
    _start_deps(tag, config.needs, images)
    (service / "Dockerfile.tests").write_text(
        f"FROM {tag}:svc\nUSER root\nCOPY . .\nRUN pip install -q -r requirements-dev.txt\n"
    )
    sh("docker", "build", "-q", "-t", f"{tag}:tests", "-f", str(service / "Dockerfile.tests"), str(service))
    tests = subprocess.run(
        ["docker", "run", "--rm", "--network", tag, *env, f"{tag}:tests", "python", "-m", "pytest", "-q"],
        capture_output=True,
    )
    sh("docker", "rm", "-f", f"{tag}-mqtt", f"{tag}-influx", check=False)
    if tests.returncode != 0:
        return
    _start_deps(tag, config.needs, images)
    sh("docker", "run", "-d", "--name", f"{tag}-svc", "--network", tag, *env, f"{tag}:svc")
    ip = sh(
        "docker",
        "inspect",
        "-f",
        f'{{{{(index .NetworkSettings.Networks "{tag}").IPAddress}}}}',
        f"{tag}-svc",
    )
    _poll(
        [
            "python3",
            "-c",
            f"import urllib.request; urllib.request.urlopen('http://{ip}:{config.port}{config.health}')",
        ]
    )


def stage_profile(report: dict) -> list[str]:
    """Where a fleet run spends and waits: per stage, the summed run time over services; then what
    services waited for: a preparation slot of -j, the previous phase's stop rule, a test slot, and
    dependencies still starting when their tests began (started during the build). The summed busy
    time over the wall time is how many services' stages ran at once on average."""
    totals: dict[str, float] = {}
    waits = {"dependencies_waited": 0.0, "waited_for_previous_phase": 0.0, "waited_for_test_slot": 0.0}
    beside = 0.0
    for service in report["services"].values():
        for stage in service["stages"]:
            totals[stage["name"]] = totals.get(stage["name"], 0.0) + stage["seconds"]
            for key in waits:
                waits[key] += stage["details"].get(key, 0.0)
            beside += stage["seconds"] if stage["details"].get("ran_beside") else 0.0
    queued = sum(s.get("queued_seconds", 0.0) for s in report["services"].values())
    steps: dict[str, float] = {}  # the health stage's steps (details.step_seconds), summed
    tests = {"test image": 0.0, "pytest container": 0.0}
    for service in report["services"].values():
        for stage in service["stages"]:
            for step, seconds in stage["details"].get("step_seconds", {}).items():
                steps[step] = steps.get(step, 0.0) + seconds
            if stage["name"] == "test":
                image = stage["details"].get("test_image_seconds", 0.0)
                waited = stage["details"].get("dependencies_waited", 0.0)
                tests["test image"] += image
                tests["pytest container"] += stage["seconds"] - image - waited
    lines = [f"  {name:<10} run {seconds:7.1f} s (summed over services)" for name, seconds in totals.items()]
    lines.append(f"  of which health beside the tests   : {beside:7.1f} s (summed; overlapped, not added)")
    lines.append(f"  waiting for a -j preparation slot : {queued:7.1f} s (summed)")
    lines.append(
        f"  waiting for the previous phase    : {waits['waited_for_previous_phase']:7.1f} s (summed)"
    )
    lines.append(f"  waiting for a -j test slot        : {waits['waited_for_test_slot']:7.1f} s (summed)")
    lines.append(
        f"  tests waiting for their deps      : {waits['dependencies_waited']:7.1f} s (summed; started early)"
    )
    lines.append("  test stage, summed   : " + ", ".join(f"{k} {v:.1f} s" for k, v in tests.items()))
    if steps:
        lines.append("  health steps, summed : " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    busy = sum(totals.values()) - beside
    wall = report.get("duration_seconds") or 0.0
    if wall:
        lines.append(
            f"  stages at once, on average        :{busy / wall:7.2f}  ({busy:.0f}s of stages in {wall:.0f}s)"
        )
    return lines


def _stage_sums(reports: list[dict]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for report in reports:
        for service in report["services"].values():
            for stage in service["stages"]:
                sums[stage["name"]] = sums.get(stage["name"], 0.0) + stage["seconds"]
    sums["(whole run)"] = sum(report.get("duration_seconds") or 0.0 for report in reports)
    return sums


def stage_contention(singles: list[dict], fleet: dict) -> list[str]:
    """Each stage's time in the single runs against the fleet run: a stage that takes longer side by
    side than alone waited for the cores (or the engine), not for the schedule."""
    alone, together = _stage_sums(singles), _stage_sums([fleet])
    lines = [f"  {'stage':<12} {'alone':>8} {'in fleet':>9} {'ratio':>6}"]
    for name, seconds in alone.items():
        if seconds >= 0.5 or together.get(name, 0.0) >= 0.5:
            ratio = together.get(name, 0.0) / seconds if seconds else 0.0
            lines.append(f"  {name:<12} {seconds:7.1f}s {together.get(name, 0.0):8.1f}s {ratio:6.2f}")
    return lines


CHECKS = ("test", "health", "gate")
CPU_KEYS = ("containers", "process", "engine")


def schedule_floor(singles: list[dict]) -> tuple[float, list[str]]:
    """The least wall time the fleet's schedule allows, from each service's stage times alone: the
    slowest preparation of the first phase, then per phase its slowest check (phase D: its checks one
    after another), since a phase's checks wait for the previous phase's stop rule. Health runs beside
    the tests, so a service's check is the longer of the two (plus the gate)."""
    phases: dict[str, list[tuple[float, float]]] = {}
    for report in singles:
        for service in report["services"].values():
            seconds = {stage["name"]: stage["seconds"] for stage in service["stages"]}
            check = max(seconds.get("test", 0.0), seconds.get("health", 0.0)) + seconds.get("gate", 0.0)
            prepare = sum(v for k, v in seconds.items() if k not in CHECKS)
            phases.setdefault(service["phase"], []).append((prepare, check))
    order = sorted(phases)
    if not order:
        return 0.0, []
    rounds = [sum(c for _, c in phases[p]) if p == "D" else max(c for _, c in phases[p]) for p in order]
    floor = max(p for p, _ in phases[order[0]]) + sum(rounds)
    lines = [
        f"  phase {p}: {len(phases[p])} service(s), checks {r:5.1f} s"
        for p, r in zip(order, rounds, strict=True)
    ]
    return floor, lines


def open_floor(singles: list[dict]) -> float:
    """The schedule's floor when every phase is decided at once, as in this bench's runs
    (--max-failure-rate 1: no check waits for a previous phase): the longer of phase D's chain (were
    its services prepared first, at once, and checked one after another in the order they are
    prepared) and the slowest other service's preparation and check. Slots and cores left out."""
    chain, others = 0.0, 0.0
    services = [s for report in singles for s in report["services"].values()]
    parts = []
    for service in services:
        seconds = {stage["name"]: stage["seconds"] for stage in service["stages"]}
        check = max(seconds.get("test", 0.0), seconds.get("health", 0.0)) + seconds.get("gate", 0.0)
        parts.append((service["phase"], sum(v for k, v in seconds.items() if k not in CHECKS), check))
    for phase, prepare, check in sorted(parts, key=lambda part: part[1]):
        if phase == "D":
            chain = max(chain, prepare) + check
        else:
            others = max(others, prepare + check)
    return max(chain, others)


def fleet_bench(names: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        repo = fleet_copy(Path(tmp), names)
        # --max-failure-rate 1: every phase runs even while services fail (the singles all run too).
        verify_seconds("--all", "--max-failure-rate", "1", repo=repo)  # warm every service's layers once
        full, code = verify_seconds("--all", "--max-failure-rate", "1", repo=repo)
        full_cpu, full_ops, full_roles = dict(LAST_CPU), dict(LAST_OPS), dict(LAST_ROLES)
        full_report = latest_report(repo)
        singles, single_reports, single_ops = 0.0, [], dict.fromkeys(full_ops, 0)
        single_roles: dict[str, tuple[int, float]] = {}
        single_cpu: dict[str, float | None] = dict.fromkeys(LAST_CPU, 0.0)
        for name in names:
            singles += verify_seconds(name, "--no-cache", repo=repo)[0]
            single_reports.append(latest_report(repo))
            single_ops = {key: single_ops[key] + LAST_OPS.get(key, 0) for key in single_ops}
            for role, (count, seconds) in LAST_ROLES.items():
                had = single_roles.get(role, (0, 0.0))
                single_roles[role] = (had[0] + count, had[1] + seconds)
            for key in single_cpu:
                single_cpu[key] = (
                    None
                    if LAST_CPU[key] is None or single_cpu[key] is None
                    else single_cpu[key] + LAST_CPU[key]
                )
        # The runs above remembered every verified service: nothing changed since.
        changed, _ = verify_seconds("--all", "--changed", "--max-failure-rate", "1", repo=repo)
        unchanged = latest_report(repo)
        touched = _touch_one(repo, unchanged)
        again, _ = verify_seconds("--all", "--changed", "--max-failure-rate", "1", repo=repo)
        after = latest_report(repo)
    totals = full_report["totals"]
    print(f"fleet of {len(names)}: {totals['verified']} verified, {totals['failed']} failed (exit {code})")
    print(f"load average (1, 5, 15 min) at the end : {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"sandbox verify --all -j auto           : {full:7.1f} s")
    print(f"sum of {len(names)} single-service runs       : {singles:7.1f} s")
    print(f"ratio fleet / sum                      : {full / singles:7.2f}  (target <= 0.5)")
    print(cpu_line("CPU of the fleet run                   ", *(full_cpu[k] for k in CPU_KEYS)))
    print(cpu_line("CPU of the single runs, summed         ", *(single_cpu[k] for k in CPU_KEYS)))
    spent = sum(full_cpu[k] or 0.0 for k in CPU_KEYS)
    cores = host_cores()
    # The least wall time the fleet's own CPU allows on this machine's cores, however it is scheduled.
    print(
        f"CPU floor: fleet CPU / {cores} cores        : {spent / cores:7.1f} s = "
        f"{spent / cores / singles:.2f} of the sum "
        f"(the fleet used {spent / full:.2f} cores of {cores} on average)"
    )
    machine, machine_singles = full_cpu["machine"] or 0.0, single_cpu["machine"] or 0.0
    # The floor the cores set: the whole machine's CPU during the fleet run, spread over every core.
    print(
        f"machine CPU (all processes and the kernel): fleet {machine:.1f} s, single runs summed "
        f"{machine_singles:.1f} s"
    )
    print(
        f"machine CPU floor: {machine:.1f} s / {cores} cores  : {machine / cores:7.1f} s = "
        f"{machine / cores / singles:.2f} of the sum (the machine was busy {machine / full:.2f} cores "
        f"of {cores} in the fleet run, {machine_singles / singles:.2f} in the single runs)"
    )
    print(ops_line("engine operations of the fleet run     ", full_ops))
    print(ops_line("engine operations of the single runs   ", single_ops))
    print("container CPU by role, fleet run against the single runs summed:")
    print("\n".join(role_lines(full_roles, single_roles)))
    print("where the full fleet run spends and waits:")
    print("\n".join(stage_profile(full_report)))
    floor, rounds = schedule_floor(single_reports)
    print(f"schedule's floor (single-run stage times): {floor:7.1f} s = {floor / singles:.2f} of the sum")
    print("  (each phase's checks after the previous phase's: the default --max-failure-rate)")
    print("\n".join(rounds))
    # This bench's fleet runs decide every phase at once: only phase D's one-at-a-time checks chain.
    opened = open_floor(single_reports)
    print(f"  with every phase decided at once (this bench's runs): {opened:5.1f} s = {opened / singles:.2f}")
    print("the same stages in the single runs and in the fleet run (summed over services):")
    print("\n".join(stage_contention(single_reports, full_report)))
    print(
        f"verify --all --changed, unchanged fleet: {changed:7.1f} s  ({unchanged['totals']['reused']} reused)"
    )
    print(f"ratio --changed / full verify --all    : {changed / full:7.2f}  (target <= 0.10)")
    if touched is None:
        print("no service verified: nothing to reuse, so no service to touch (see the run reports)")
        return
    rerun = sorted(n for n, s in after["services"].items() if not s.get("reused"))
    expected = sorted({touched} | {n for n, s in unchanged["services"].items() if not s.get("reused")})
    print(f"after touching {touched}: --changed    : {again:7.1f} s, re-verified {', '.join(rerun)}")
    # Only the touched service (plus any that did not verify, which never is reused) ran again.
    assert rerun == expected, f"re-verified {rerun}, expected {expected}"


def _touch_one(repo: Path, report: dict) -> str | None:
    """Append a comment to one verified service's first Python file: a change that must re-run it."""
    reused = sorted(n for n, s in report["services"].items() if s.get("reused"))
    if not reused:
        return None
    name = reused[0]
    path = sorted((repo / "services" / name).rglob("*.py"))[0]
    path.write_text(path.read_text() + "\n# touched by the bench\n")
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", nargs="?", default="data-retention")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fleet", action="store_true", help="also the fleet: -j auto, --changed, per stage")
    parser.add_argument("--no-single", action="store_true", help="skip verify SERVICE against by hand")
    parser.add_argument("--only", help="the fleet parts on these services only (comma-separated)")
    args = parser.parse_args()
    if not args.no_single:
        verify_seconds(args.service, "--no-cache")  # warm the caches once: images, build layers
        sandbox_times, hand_times = [], []
        for _ in range(args.repeat):
            sandbox_times.append(verify_seconds(args.service, "--no-cache")[0])
            hand_times.append(by_hand_seconds(args.service))
        ours, theirs = statistics.median(sandbox_times), statistics.median(hand_times)
        print(f"sandbox verify {args.service} (warm)   : {ours:7.1f} s  (median of {args.repeat})")
        print(f"same work by hand, docker CLI          : {theirs:7.1f} s  (median of {args.repeat})")
        print(f"ratio verify / by hand                 : {ours / theirs:7.2f}  (target <= 0.5)")
        print(f"load average (1, 5, 15 min)            : {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.fleet:
        names = args.only.split(",") if args.only else sorted(discover(repo_root() / "services"))
        fleet_bench(sorted(names))
    sys.exit(0)


if __name__ == "__main__":
    main()
