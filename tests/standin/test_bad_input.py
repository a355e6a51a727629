"""Bad bytes on the stand-in's one port never crash or wedge it: truncated and garbage HTTP,
garbage after (and instead of) the HTTP/2 preface, fuzzed line protocol over HTTP. After each
attempt `/health` must still answer 200, and every answered write must carry a write status.

The server runs as a plain subprocess (images/influxdb3-lite/influxdb3), started as the bench
starts it.
"""

from __future__ import annotations

import gzip
import os
import socket
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.bench_influxdb3_lite import free_port, start_server

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
WRITE_STATUSES = {204, 400, 413, 422}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    port = free_port()
    proc = start_server(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def healthy(url: str) -> bool:
    response = requests.get(f"{url}/health", timeout=5)
    return response.status_code == 200 and response.text == "OK"


def send_raw(url: str, payload: bytes, read: bool = True) -> bytes:
    """Send bytes on a fresh connection, half-close, and read what comes back (if anything)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while read and (chunk := sock.recv(65536)):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


WRITE = b"POST /api/v3/write_lp?db=fuzz HTTP/1.1\r\nHost: x\r\n"
GARBAGE = {
    "nothing": b"",
    "binary": bytes(range(256)) * 4,
    "bare newline": b"\r\n\r\n",
    "no version": b"GET /health\r\n\r\n",
    "bad method": b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
    "huge request line": b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    "too many headers": b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    "header without colon": b"GET /health HTTP/1.1\r\nnonsense\r\n\r\n",
    "truncated headers": WRITE + b"Content-Le",
    "truncated body": WRITE + b"Content-Length: 1000\r\n\r\nm v=1",
    "bad content length": WRITE + b"Content-Length: abc\r\n\r\nm v=1",
    "negative content length": WRITE + b"Content-Length: -5\r\n\r\nm v=1",
    "bad chunk size": WRITE + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nm v=1\r\n0\r\n\r\n",
    "truncated chunk": WRITE + b"Transfer-Encoding: chunked\r\n\r\n100\r\nm v=1",
    "bad gzip": WRITE + b"Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
    "truncated gzip": WRITE
    + b"Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\n"
    + gzip.compress(b"m v=1")[:10],
    "bad utf8 body": WRITE + b"Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc",
    "bad query string": b"GET /api/v3/query_sql?%zz=%%&db HTTP/1.1\r\n\r\n",
    "bad json": b"POST /api/v3/query_sql HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{[}",
    "half preface": PREFACE[:10],
    "preface then garbage": PREFACE + os.urandom(4096),
    "preface then bad frame": PREFACE + b"\x00\x00\x04\x99\x00\x00\x00\x00\x00abcd",
    "preface twice": PREFACE + PREFACE,
    "http2 settings then garbage headers": PREFACE
    + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    + b"\x00\x00\x05\x01\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff",
}


# Complete requests the server must refuse with a status rather than by hanging up.
REFUSED = {
    "bad content length": 400,
    "negative content length": 400,
    "bad chunk size": 400,
    "bad gzip": 400,
    # Error::NonUtf8Body falls to the default arm of http.rs's error mapping: 500, as the real server.
    "bad utf8 body": 500,
    "bad json": 400,
}


@pytest.mark.parametrize("payload", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_bytes_leave_the_server_answering(url: str, payload: bytes, request) -> None:
    reply = send_raw(url, payload)
    expected = REFUSED.get(request.node.callspec.id)
    if expected:
        assert reply.startswith(f"HTTP/1.1 {expected} ".encode()), reply[:200]
    if reply.startswith(b"HTTP/1."):
        status = int(reply.split(b" ", 2)[1])
        if expected != 500:
            assert status != 500, reply[:200]  # a refusal (400, 413, 501, ...), not a handler crash
    assert healthy(url)


def test_a_silent_half_open_connection_does_not_block_others(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(20)]
    idle[0].sendall(PREFACE[:5])
    idle[1].sendall(WRITE + b"Content-Length: 100\r\n\r\nm v=1")
    try:
        assert healthy(url)
        response = requests.post(f"{url}/api/v3/write_lp", params={"db": "fuzz"}, data=b"m v=1 1", timeout=5)
        assert response.status_code == 204
    finally:
        for sock in idle:
            sock.close()


line_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
known_lines = st.sampled_from(
    [
        "m v=1",
        "m,a=b v=1i 5",
        "m v=1 99999999999999999999",
        "m v=1 9999999999999999",
        'm s="x\\"y",v=t',
        "m v=1,v=2",
        "time time=1",
    ]
)
lp_bodies = st.lists(st.one_of(line_text, known_lines), max_size=8).map("\n".join)
endpoints = st.sampled_from(
    [
        "/api/v3/write_lp?db=fuzz",
        "/api/v3/write_lp?db=fuzz&precision=second",
        "/api/v3/write_lp?db=fuzz&accept_partial=false",
        "/api/v2/write?bucket=fuzz&precision=s",
        "/write?db=fuzz",
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=lp_bodies, endpoint=endpoints)
def test_fuzzed_line_protocol_gets_a_write_status(url: str, body: str, endpoint: str) -> None:
    response = requests.post(f"{url}{endpoint}", data=body.encode(), timeout=10)
    assert response.status_code in WRITE_STATUSES, (response.status_code, response.text)
    if response.status_code != 204:
        assert response.content  # an error body, never an empty refusal
    assert healthy(url)


def test_queries_still_work_after_the_abuse(url: str) -> None:
    response = requests.get(
        f"{url}/api/v3/query_sql", params={"db": "fuzz", "q": "SELECT count(*) AS n FROM m"}, timeout=10
    )
    assert response.status_code == 200, response.text
