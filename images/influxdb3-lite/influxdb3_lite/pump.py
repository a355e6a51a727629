"""The byte pump between gRPC clients and the loopback Flight server, in a process of its own.

The server shares one port between HTTP/1.1 and gRPC (server.py): a connection that opens with
the HTTP/2 preface is relayed to the loopback Flight server. Relaying in the server process cost
every query a GIL hand-over per chunk in each direction, behind the writer threads' parsing
(under 20 writers most of a loaded query's time). Here the server passes each such socket over a
Unix socket (SCM_RIGHTS) and this process, which runs nothing else, relays it. It exits when the
server's end of the Unix socket closes, i.e. when the server exits.

usage: python -m influxdb3_lite.pump <flight port> <unix socket fd>
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import threading

CHUNK = 256 * 1024
PIPE_BYTES = 1024 * 1024  # the splice pipe's capacity: a query result passes in few calls


def relay(src: socket.socket, dst: socket.socket) -> None:
    """Copies until EOF or an error, then half-closes the other side."""
    try:
        if hasattr(os, "splice"):
            _splice(src, dst)
        else:
            while data := src.recv(CHUNK):
                dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _splice(src: socket.socket, dst: socket.socket) -> None:
    """Moves the bytes through a pipe inside the kernel (splice(2)): a recv/sendall relay copied
    each query result twice through Python bytes objects, 3.3 ms of pump CPU per query of
    300k rows, on a machine whose cores the writers share."""
    for sock in (src, dst):
        sock.setblocking(True)  # splice(2) waits only on blocking descriptors
    read_end, write_end = os.pipe()
    try:
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # a smaller pipe (the limit of /proc/sys/fs/pipe-max-size) only means more calls
        while moved := os.splice(src.fileno(), write_end, PIPE_BYTES, flags=os.SPLICE_F_MOVE):
            while moved:
                moved -= os.splice(read_end, dst.fileno(), moved, flags=os.SPLICE_F_MOVE)
    finally:
        os.close(read_end)
        os.close(write_end)


def bridge(client: socket.socket, port: int) -> None:
    """Both directions of one gRPC connection, until both ends are done."""
    try:
        upstream = socket.create_connection(("127.0.0.1", port))
    except OSError:
        client.close()
        return
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
    back.start()
    relay(client, upstream)
    back.join()
    upstream.close()
    client.close()


def serve(control: socket.socket, port: int) -> None:
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 16)
        except OSError:
            return
        if not message and not fds:
            return  # the server closed its end: it is gone
        for fd in fds:
            client = socket.socket(fileno=fd)
            threading.Thread(target=bridge, args=(client, port), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    port, fd = (int(value) for value in (argv or sys.argv[1:]))
    serve(socket.socket(fileno=fd), port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
