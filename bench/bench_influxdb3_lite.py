"""influxdb3-lite figures against the issue's targets, measured in one run.

Prints: container start-to-ready time (the resolved `influxdb3` image, started as the sandbox
starts it), line-protocol ingest in points/s for 100k-point batches of 4 fields, SQL latency on a
1M-row table (a time-range filter and a `date_bin` aggregate, through influxdb3-python's
`InfluxDBClient3.query`, i.e. Flight, as the fleet queries), and the server's resident memory
after loading 1M points. Each figure is printed with its ratio to the target (>= 1.0 is met).
Then the concurrent load of issue 14: 20 writers (100-line batches of fresh points) and 4 readers
(Flight queries on the 1M-row table) for `--load-seconds`; it prints the write and query p50 with
no load and under load, the loaded/no-load ratios, the loaded p90s and means (a scheduling change
can keep a p50 and move the tail), and the loaded p50s against the 100 ms targets, with the write
rate and the rows each query returned (the queries read recent rows, which the writers add: a
faster write path makes each query return more). After the load, each loaded
query runs alone 30 times and the server's CPU per query is printed: on a shared machine the
latencies move with the machine's load, the CPU a query costs the server much less.
Each writer and reader is a process of its own, as the services of a fleet are: threads of one
client process would measure that process's own GIL queue along with the server. The machine's
load average is printed before and after, since other work on the machine shows in the figures.
Memory and CPU figures add up the server and its child processes (the gRPC relay, pump.py).
The server for the throughput figures runs as a plain subprocess (`images/influxdb3-lite/influxdb3`)
so its memory can be read from /proc; pass --no-docker to skip the container start figure.
`--server` runs another checkout's server instead (e.g. main's, unpacked with
`git archive main images/influxdb3-lite | tar -x -C /tmp/main`): on a shared machine only runs of
old and new taken in the same window, alternately, compare.

usage: python bench/bench_influxdb3_lite.py [--points 1000000] [--batch 100000] [--no-docker]
       [--writers 20] [--readers 4] [--load-seconds 20] [--server PATH/influxdb3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "images" / "influxdb3-lite" / "influxdb3"
TARGETS = {"ready_s": 2.0, "points_per_s": 250_000, "rss_mb": 300.0, "loaded_p50_ms": 100.0}
LOADED_QUERIES = (
    "SELECT host, temp, time FROM sensor WHERE time > now() - interval '1 minute'",
    "SELECT host, avg(temp) FROM sensor WHERE time > now() - interval '10 minutes' GROUP BY host",
)
HOUR_NS = 3600 * 10**9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, server: Path = SERVER) -> subprocess.Popen:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(server),
            "serve",
            "--node-id",
            "bench",
            "--object-store",
            "memory",
            "--without-auth",
            "--http-bind",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    for raw in proc.stdout:  # type: ignore[union-attr]
        if b"startup time:" in raw:
            # Keep reading its log: a full pipe would block the server's next log line.
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
            return proc
    raise RuntimeError("server exited before it was ready")


def batches(points: int, batch: int, now_ns: int) -> list[bytes]:
    """Sensor-like data: 100 hosts, 4 float/int fields, one point per host per second up to now."""
    out = []
    for start in range(0, points, batch):
        lines = []
        for i in range(start, min(points, start + batch)):
            ts = now_ns - (points - i) * 10**7
            lines.append(
                f"sensor,host=h{i % 100},site=s{i % 7} temp={20 + i % 13 * 0.5},hum={40 + i % 17}i,"
                f"volt={3.3 + i % 5 * 0.01},ok=true {ts}"
            )
        out.append("\n".join(lines).encode())
    return out


def ingest(port: int, payloads: list[bytes]) -> float:
    session = requests.Session()
    began = time.perf_counter()
    for body in payloads:
        response = session.post(f"http://127.0.0.1:{port}/api/v3/write_lp", params={"db": "bench"}, data=body)
        response.raise_for_status()
    return time.perf_counter() - began


def query_latency(port: int, sql: str, runs: int = 5) -> float:
    """Median wall time of `InfluxDBClient3.query` (Flight DoGet, the fleet's client), whole table read."""
    from influxdb_client_3 import InfluxDBClient3  # imported where used: writer processes skip it

    times = []
    with InfluxDBClient3(host=f"http://127.0.0.1:{port}", token="bench", database="bench") as client:
        for _ in range(runs):
            began = time.perf_counter()
            client.query(sql, language="sql")
            times.append(time.perf_counter() - began)
    return statistics.median(times)


@dataclass
class Latencies:
    writes: list[float] = field(default_factory=list)
    queries: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # rows each query returned
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            (self.writes if kind == "write" else self.queries).append(seconds)


def fresh_lines(writer: int, count: int = 100) -> bytes:
    """Points of this writer's own series at the current time (what a fleet of services sends)."""
    now = time.time_ns()
    return "\n".join(
        f"sensor,host=w{writer}-{i % 10},site=load temp={20 + i % 13 * 0.5},hum={40 + i}i {now + i}"
        for i in range(count)
    ).encode()


def write_loop(port: int, writer: int, stop: threading.Event, out: Latencies) -> None:
    session = requests.Session()
    while not stop.is_set():
        began = time.perf_counter()
        response = session.post(
            f"http://127.0.0.1:{port}/api/v3/write_lp", params={"db": "bench"}, data=fresh_lines(writer)
        )
        if response.status_code != 204:
            out.errors.append(f"write {response.status_code}: {response.text[:80]}")
        out.add("write", time.perf_counter() - began)


def read_loop(port: int, reader: int, stop: threading.Event, out: Latencies) -> None:
    from influxdb_client_3 import InfluxDBClient3

    with InfluxDBClient3(host=f"http://127.0.0.1:{port}", token="bench", database="bench") as client:
        turn = reader
        while not stop.is_set():
            began = time.perf_counter()
            table = client.query(LOADED_QUERIES[turn % len(LOADED_QUERIES)], language="sql")
            out.add("query", time.perf_counter() - began)
            out.rows.append(table.num_rows)
            turn += 1


def load_worker(kind: str, port: int, index: int, seconds: float, ready, queue) -> None:
    """One writer or reader process: starts with the others, runs `seconds`, sends its samples."""
    out, stop = Latencies(), threading.Event()
    ready.wait()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        (write_loop if kind == "write" else read_loop)(port, index, stop, out)
    except Exception as exc:  # noqa: BLE001 - reported with the figures, never silently lost
        out.errors.append(f"{kind} {index}: {exc}")
    queue.put((out.writes, out.queries, out.rows, out.errors))


def run_load(port: int, writers: int, readers: int, seconds: float) -> Latencies:
    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding a gRPC client
    kinds = [("write", w) for w in range(writers)] + [("read", r) for r in range(readers)]
    ready, queue = spawn.Barrier(len(kinds) + 1), spawn.Queue()
    procs = [
        spawn.Process(target=load_worker, args=(kind, port, index, seconds, ready, queue))
        for kind, index in kinds
    ]
    for proc in procs:
        proc.start()
    ready.wait()  # every process started and imported: the load begins at once for all
    out = Latencies()
    for _ in procs:
        writes, queries, rows, errors = queue.get(timeout=seconds + 120)
        out.writes += writes
        out.queries += queries
        out.rows += rows
        out.errors += errors
    for proc in procs:
        proc.join(30)
    return out


def loaded_report(port: int, pid: int, writers: int, readers: int, seconds: float) -> None:
    print(f"{'load average (1, 5, 15 min) before the load':<44} {_loadavg()}")
    quiet = run_load(port, 1, 1, min(5.0, seconds))  # one of each: the no-load figures
    began = cpu_seconds(pid)
    loaded = run_load(port, writers, readers, seconds)
    used = cpu_seconds(pid) - began
    for kind, label in (("writes", "write"), ("queries", "query")):
        base = statistics.median(getattr(quiet, kind)) * 1000
        p50 = statistics.median(getattr(loaded, kind)) * 1000
        samples = len(getattr(loaded, kind))
        print(f"{label + ' p50, no load':<44} {base:>12,.1f} ms")
        print(f"{label + f' p50, {writers}w+{readers}r ({samples} samples)':<44} {p50:>12,.1f} ms", end="")
        print(f"  loaded/no-load {p50 / base:5.2f}")
        print(f"{label + ' p90 and mean under load':<44} {_spread(getattr(loaded, kind))}")
        row(f"{label} p50 under load vs target", p50, "ms", TARGETS["loaded_p50_ms"], False)
    # The queries read the recent rows, most of which the writers add during the load: a server
    # that writes faster makes each query read and return more. Both rates go with the p50s.
    print(f"{'writes per second under load':<44} {len(loaded.writes) / seconds:>12,.1f}")
    print(
        f"{'rows per query under load (median, max)':<44} {statistics.median(loaded.rows or [0]):>12,.0f}",
        end="",
    )
    print(f"  {max(loaded.rows or [0]):,}")
    print(f"{'load average (1, 5, 15 min) after the load':<44} {_loadavg()}")
    # The server's own CPU per request does not depend on what else the machine runs: on a
    # shared machine it tells what the latencies would be with a core to itself.
    requests_served = len(loaded.writes) + len(loaded.queries)
    print(
        f"{'server CPU during the load':<44} {used:>12,.2f} s  "
        f"({used / seconds:.2f} cores, {used / max(requests_served, 1) * 1000:.2f} ms per request)"
    )
    errors = loaded.errors + quiet.errors
    if errors:
        print(f"errors under load: {len(errors)}, first: {errors[0]}")


def _spread(samples: list[float]) -> str:
    """The p90 and the mean, ms: a scheduling change can keep a p50 and move the tail, and the
    writers' closed loop turns a longer tail into fewer writes per second."""
    p90 = statistics.quantiles(samples, n=10)[-1] if len(samples) > 1 else samples[0]
    return f"{p90 * 1000:>12,.1f} ms  mean {statistics.fmean(samples) * 1000:,.1f} ms"


def query_cpu_report(port: int, pid: int, runs: int = 30) -> None:
    """The server's CPU per loaded query, each run alone on the table the load left: unlike the
    latencies, it hardly depends on what else the machine runs, so it compares servers measured
    in different windows. /proc counts in clock ticks (10 ms): summed over `runs` queries."""
    from influxdb_client_3 import InfluxDBClient3

    with InfluxDBClient3(host=f"http://127.0.0.1:{port}", token="bench", database="bench") as client:
        for index, sql in enumerate(LOADED_QUERIES):
            client.query(sql, language="sql")  # the snapshot of the last writes is built here
            began = cpu_seconds(pid)
            for _ in range(runs):
                rows = client.query(sql, language="sql").num_rows
            per_query = (cpu_seconds(pid) - began) / runs * 1000
            label = f"server CPU per loaded query {index + 1}, alone"
            print(f"{label:<44} {per_query:>12,.2f} ms  ({rows:,} rows)")


def _loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) + f"  ({os.cpu_count()} CPUs)"


def server_pids(pid: int) -> list[int]:
    """The server and its child processes (its gRPC relay runs in one: pump.py), by parent pid."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server and its children (fields 14 and 15 of
    /proc/<pid>/stat)."""
    total = 0
    for each in server_pids(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children, MB."""
    total = 0.0
    for each in server_pids(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def container_ready_s() -> float:
    sys.path.insert(0, str(ROOT))
    import uuid

    from sandbox.deps import ServiceDeps
    from sandbox.engine import connect, labels_for

    client = connect()
    runs = []
    for _ in range(3):
        with ServiceDeps(
            client, labels_for(f"bench-{uuid.uuid4().hex[:8]}", "deps"), needs=("influxdb3",)
        ) as deps:
            runs.append(deps.started_in["influxdb3"])
    return statistics.median(runs)


def row(name: str, value: float, unit: str, target: float, higher_is_better: bool) -> None:
    ratio = value / target if higher_is_better else target / value
    verdict = "met" if ratio >= 1 else "MISSED"
    print(f"{name:<44} {value:>12,.2f} {unit:<9} target {target:>10,.0f}  ratio {ratio:5.2f}  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--load-seconds", type=float, default=20.0)
    # Another checkout's server (e.g. main's, from `git archive main images/influxdb3-lite`), so
    # old and new can be measured in the same window of a shared machine and compared as ratios.
    parser.add_argument("--server", type=Path, default=SERVER, help="the influxdb3 script to run")
    args = parser.parse_args()
    if not args.no_docker:
        row("container start to ready (median of 3)", container_ready_s(), "s", TARGETS["ready_s"], False)
    port = free_port()
    proc = start_server(port, args.server.resolve())
    print(f"{'server':<44} {args.server}")
    try:
        now_ns = time.time_ns()
        payloads = batches(args.points, args.batch, now_ns)
        elapsed = ingest(port, payloads)
        row(
            f"ingest, {args.batch:,}-point batches",
            args.points / elapsed,
            "points/s",
            TARGETS["points_per_s"],
            True,
        )
        first = query_latency(port, "SELECT count(*) FROM sensor", runs=1)
        print(f"{'first query after load (compaction)':<44} {first * 1000:>12,.1f} ms")
        recent = query_latency(
            port, "SELECT host, temp, time FROM sensor WHERE time > now() - interval '1 hour'"
        )
        print(f"{'SQL: last hour of 1M rows (median of 5)':<44} {recent * 1000:>12,.1f} ms")
        binned = query_latency(
            port,
            "SELECT date_bin(interval '1 hour', time) AS hour, host, avg(temp) "
            "FROM sensor GROUP BY 1, 2 ORDER BY 1, 2",
        )
        print(f"{'SQL: date_bin hourly mean per host (median)':<44} {binned * 1000:>12,.1f} ms")
        row(f"resident memory after {args.points:,} points", rss_mb(proc.pid), "MB", TARGETS["rss_mb"], False)
        if args.load_seconds > 0:
            loaded_report(port, proc.pid, args.writers, args.readers, args.load_seconds)
            print(f"{'resident memory after the load':<44} {rss_mb(proc.pid):>12,.1f} MB")
            query_cpu_report(port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
