"""The plain request-head reader of http_api (`_plain_head`) against the stdlib's: for every head
it takes, the same method, path, header names and values and the same bytes consumed as
`http.server.BaseHTTPRequestHandler.parse_request` with `http.client.parse_headers`; every other
head is left to the stdlib (None).

Runs the stand-in's package in-process; no Docker needed.
"""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.standin.standin import import_standin

(http_api,) = import_standin("http_api")

BODY = b"m v=1 1"
HEADS = [
    b"POST /api/v3/write_lp?db=x HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n",
    b"GET /health HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nA:b\r\n\r\n",
    b"POST /write HTTP/1.1\r\nX:  \t spaced value  \r\nEmpty:\r\n\r\n",
    b"POST /write HTTP/1.1\r\nX: caf\xe9\r\nx: second\r\n\r\n",
    b"PUT /api/v3/configure/database HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
    b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /a%20b?x=1&y=2 HTTP/1.1\r\nWeird-Name!#$%&'*+.^_`|~: v\r\n\r\n",
]
# Heads the stdlib reads differently or refuses: these must go to it untouched.
LEFT_TO_STDLIB = [
    b"GET //evil HTTP/1.1\r\n\r\n",  # rewritten to /evil by parse_request
    b"GET /health HTTP/1.0\r\n\r\n",
    b"GET /health\r\n\r\n",  # HTTP/0.9
    b"get /health HTTP/1.1\r\n\r\n",
    b"GET /health HTTP/1.1\n\n",
    b"GET /health HTTP/1.1\r\nX: a\r\n continued\r\n\r\n",
    b"GET /health HTTP/1.1\r\nNo colon\r\n\r\n",
    b"GET /health HTTP/1.1\r\nX: a\rb\r\n\r\n",
    b"GET /health HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(100)) + b"\r\n",
    b"GET /health HTTP/1.1\r\nX: never ends\r\n",  # the blank line is not buffered yet
    b"GET /a\xa0b HTTP/1.1\r\n\r\n",
]


def stdlib_view(head: bytes) -> tuple[tuple[str, str], list[tuple[str, str]], int]:
    request_line, _, rest = head.partition(b"\r\n")
    words = request_line.decode("latin-1").split()
    stream = io.BytesIO(rest + BODY)
    message = http.client.parse_headers(stream)
    return (words[0], words[1]), list(message.items()), stream.tell()


def plain_view(head: bytes):
    request_line, _, rest = head.partition(b"\r\n")
    return http_api._plain_head(request_line + b"\r\n", rest + BODY)


@pytest.mark.parametrize("head", HEADS)
def test_plain_heads_read_as_the_stdlib_reads_them(head: bytes) -> None:
    got = plain_view(head)
    assert got is not None
    request, headers, size = got
    assert (request, headers, size) == stdlib_view(head)


@pytest.mark.parametrize("head", LEFT_TO_STDLIB)
def test_other_heads_are_left_to_the_stdlib(head: bytes) -> None:
    assert plain_view(head) is None


def test_ninety_nine_header_lines_are_the_most_taken() -> None:
    """`http.client._read_headers` counts the blank line: 99 header lines pass, 100 do not."""
    lines = b"".join(b"H%d: v\r\n" % i for i in range(99))
    head = b"GET /health HTTP/1.1\r\n" + lines + b"\r\n"
    assert plain_view(head) is not None
    assert plain_view(head)[1:] == stdlib_view(head)[1:]


NAME = st.text(alphabet="".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != ":"), min_size=1, max_size=8)
VALUE = st.binary(max_size=12).filter(lambda v: b"\r" not in v and b"\n" not in v)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(NAME, VALUE), max_size=6))
def test_random_plain_headers_agree_with_the_stdlib(pairs: list[tuple[str, bytes]]) -> None:
    head = b"POST /write HTTP/1.1\r\n" + b"".join(n.encode() + b":" + v + b"\r\n" for n, v in pairs) + b"\r\n"
    got = plain_view(head)
    assert got is not None
    assert got == stdlib_view(head)
