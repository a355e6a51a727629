"""One TCP port for HTTP/1.1 and gRPC, as the real server has (specs § 1.1, § 2.4).

Each accepted connection is peeked (MSG_PEEK, nothing consumed): the HTTP/2 client preface goes
to the loopback Flight server through a byte pump; anything else is served in place by the
HTTP handler on the same socket, so HTTP writes pay no proxy hop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import HTTPServer
from pathlib import Path

from influxdb3_lite.auth import Tokens
from influxdb3_lite.flight import FlightService
from influxdb3_lite.http_api import ServerState, make_handler
from influxdb3_lite.pump import bridge
from influxdb3_lite.query import Executor
from influxdb3_lite.store import Catalog

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SNIFF_TIMEOUT = 10.0


@dataclass
class Options:
    host: str = "0.0.0.0"
    port: int = 8181
    without_auth: bool = False
    tokens: tuple[str, ...] = ()
    max_request_size: int = 10 * 1024 * 1024
    legacy_error_texts: bool = False
    exempt: frozenset[str] = frozenset()


class _UnboundHTTPServer(HTTPServer):
    """The HTTP machinery without a listening socket of its own: connections are handed in."""

    def __init__(self, handler) -> None:
        super().__init__(("127.0.0.1", 0), handler, bind_and_activate=False)


class Server:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.catalog = Catalog()
        tokens = Tokens(enabled=not options.without_auth, valid=set(options.tokens))
        executor = Executor(self.catalog)
        state = ServerState(
            self.catalog,
            executor,
            tokens,
            options.max_request_size,
            options.legacy_error_texts,
            options.exempt,
        )
        self.http = _UnboundHTTPServer(make_handler(state))
        self.flight = FlightService("grpc+tcp://127.0.0.1:0", executor, tokens)
        self.listener = socket.create_server((options.host, options.port), reuse_port=False, backlog=512)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._stopping = threading.Event()
        self._pump = _PumpProcess.start(self.flight.port)

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.getsockname()[:2]

    def serve_forever(self) -> None:
        # The Flight server already serves since construction; its serve() would only block and
        # take over SIGINT/SIGTERM, so it is never called.
        while not self._stopping.is_set():
            try:
                conn, peer = self.listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            threading.Thread(target=self._handle, args=(conn, peer), daemon=True).start()

    def shutdown(self) -> None:
        """Stop accepting; the caller exits the process (all data is in memory, nothing to flush)."""
        self._stopping.set()
        self.listener.close()

    def _handle(self, conn: socket.socket, peer) -> None:
        handed = False
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._is_http2(conn):
                handed = self._pump is not None and self._pump.hand_over(conn)
                if not handed:
                    bridge(conn, self.flight.port)  # relayed here, as the pump process would
            else:
                self.http.finish_request(conn, peer)
        except OSError:
            pass  # a client that hangs up mid-request is not the server's problem
        finally:
            if handed:
                conn.close()  # only this process's descriptor: the pump process has its own
            else:
                self.http.shutdown_request(conn)

    @staticmethod
    def _is_http2(conn: socket.socket) -> bool:
        """Peek until the bytes stop matching the preface or all 24 have arrived."""
        conn.settimeout(SNIFF_TIMEOUT)
        deadline = time.monotonic() + SNIFF_TIMEOUT
        try:
            while time.monotonic() < deadline:
                seen = conn.recv(len(PREFACE), socket.MSG_PEEK)
                if not seen or not PREFACE.startswith(seen):
                    return False
                if len(seen) == len(PREFACE):
                    return True
                time.sleep(0.001)
            return False
        finally:
            conn.settimeout(None)


class _PumpProcess:
    """The relay of gRPC connections to the Flight server, in a child process (pump.py), so
    relaying takes no GIL from the writer and query threads. Connections go there over a Unix
    socket; if the child cannot take one, the server relays it itself."""

    def __init__(self, control: socket.socket, process: subprocess.Popen) -> None:
        self.control, self.process = control, process
        self.lock = threading.Lock()

    @classmethod
    def start(cls, flight_port: int) -> _PumpProcess | None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        )
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "influxdb3_lite.pump", str(flight_port), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
            )
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        return cls(ours, process)

    def hand_over(self, conn: socket.socket) -> bool:
        if self.process.poll() is not None:
            return False
        try:
            with self.lock:
                socket.send_fds(self.control, [b"c"], [conn.fileno()])
        except OSError:
            return False
        return True
