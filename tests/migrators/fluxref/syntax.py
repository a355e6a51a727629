"""Flux text to plain tuples: one master regex for the tokens, a Pratt parser for the expressions.

Deliberately a different construction from the translator's parser (which it must not share code
with): tokens are ``(kind, text)`` pairs, the tree is nested tuples whose first item names the node:

``("int", 3)`` ``("float", 2.5)`` ``("str", "a")`` ``("bool", True)`` ``("dur", ns)`` ``("time", ns)``
``("regex", pattern)`` ``("ident", name)`` ``("member", obj, prop)`` ``("unary", op, operand)``
``("binary", op, left, right)`` ``("call", callee, ((name, arg), ...))`` ``("pipe", left, call)``
``("fn", params, body)`` ``("record", base_or_None, ((name, value), ...))`` ``("list", items)``.

A program's value is its last expression statement. Options, and imports other than
``"influxdata/influxdb/schema"`` at the top, are outside the subset and raise :class:`FluxSyntaxError`.
"""

from __future__ import annotations

import re
from datetime import datetime

Node = tuple
Token = tuple[str, str]


class FluxSyntaxError(ValueError):
    """The text is not in the Flux subset this reference understands."""


# Flux duration units in nanoseconds; months and years have no fixed length and are refused.
UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))
  | (?P<dur>(?:\d+(?:mo|ms|us|µs|ns|[smhdwy]))+)
  | (?P<float>\d+\.\d+)
  | (?P<int>\d+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op>\|>|=>|==|!=|=~|!~|<=|>=|[-+*/%<>=()\[\]{},:.])
    """,
    re.VERBOSE,
)
# after these tokens an operand is expected, so `/` opens a regex rather than dividing
_OPERAND_NEXT = {"(", "[", "{", ",", ":", "=~", "!~", "==", "!=", "and", "or", "not", "=>", "|>"}


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "/" and (not out or out[-1][1] in _OPERAND_NEXT):
            end = _regex_end(text, pos)
            out.append(("regex", text[pos + 1 : end]))
            pos = end + 1
            continue
        m = _TOKEN.match(text, pos)
        if not m:
            raise FluxSyntaxError(f"unexpected character {text[pos]!r} at {pos}")
        if m.lastgroup != "space":
            kind = m.lastgroup
            if kind == "name" and m.group() in ("and", "or", "not", "exists", "with", "import"):
                kind = "op"
            out.append((kind, m.group()))
        pos = m.end()
    out.append(("end", ""))
    return out


def _regex_end(text: str, start: int) -> int:
    pos = start + 1
    while pos < len(text) and text[pos] != "/":
        pos += 2 if text[pos] == "\\" else 1
    if pos >= len(text):
        raise FluxSyntaxError("unterminated regex")
    return pos


def duration_ns(text: str) -> int:
    total = 0
    for count, unit in re.findall(r"(\d+)(mo|ms|us|µs|ns|[smhdwy])", text):
        if unit not in UNIT_NS:
            raise FluxSyntaxError(f"duration unit {unit!r} has no fixed length")
        total += int(count) * UNIT_NS[unit]
    return total


def time_ns(text: str) -> int:
    """RFC 3339 to nanoseconds since the epoch, keeping sub-second digits exactly."""
    main, _, rest = text.partition(".")
    frac = ""
    if rest:
        frac = re.match(r"\d*", rest).group()
        main += rest[len(frac) :]
    seconds = int(datetime.fromisoformat(main.replace("Z", "+00:00")).timestamp())
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9])


def _string(text: str) -> str:
    body = text[1:-1]
    if "${" in body:
        raise FluxSyntaxError("string interpolation is outside the subset")
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), body)


# binding powers of the infix operators: higher binds tighter
_INFIX = {
    "|>": 1,
    "or": 2,
    "and": 3,
    "==": 5,
    "!=": 5,
    "<": 5,
    "<=": 5,
    ">": 5,
    ">=": 5,
    "=~": 5,
    "!~": 5,
    "+": 6,
    "-": 6,
    "*": 7,
    "/": 7,
    "%": 7,
}
_PREFIX_POWER = {"not": 4, "exists": 8, "-": 8}
_POSTFIX_POWER = 9


class _Parser:
    def __init__(self, text: str):
        self.toks = tokens(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self, text: str | None = None) -> Token:
        tok = self.peek()
        if text is not None and tok[1] != text:
            raise FluxSyntaxError(f"expected {text!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def program(self) -> Node:
        last = None
        while self.peek()[1] == "import":  # only the schema package's functions are evaluated
            self.take()
            kind, path = self.take()
            if kind != "str" or _string(path) != "influxdata/influxdb/schema":
                raise FluxSyntaxError(f"import {path} is outside the subset")
        while self.peek()[0] != "end":
            if self.peek()[1] == "import":
                raise FluxSyntaxError("import is outside the subset")
            last = self.expr(0)
        if last is None:
            raise FluxSyntaxError("empty program")
        return last

    def expr(self, min_power: int) -> Node:
        left = self.prefix()
        while True:
            kind, text = self.peek()
            if kind == "op" and text in ("(", ".", "[") and _POSTFIX_POWER > min_power:
                left = self.postfix(left)
                continue
            power = _INFIX.get(text) if kind == "op" else None
            if power is None or power <= min_power:
                return left
            self.take()
            right = self.expr(power)
            if text == "|>":
                if right[0] != "call":
                    raise FluxSyntaxError("|> must be followed by a call")
                left = ("pipe", left, right)
            else:
                left = ("binary", text, left, right)

    def prefix(self) -> Node:
        kind, text = self.take()
        if kind == "int":
            return ("int", int(text))
        if kind == "float":
            return ("float", float(text))
        if kind == "str":
            return ("str", _string(text))
        if kind == "dur":
            return ("dur", duration_ns(text))
        if kind == "time":
            return ("time", time_ns(text))
        if kind == "regex":
            return ("regex", text.replace("\\/", "/"))
        if kind == "name":
            return ("bool", text == "true") if text in ("true", "false") else ("ident", text)
        if text in _PREFIX_POWER:
            return ("unary", text, self.expr(_PREFIX_POWER[text]))
        if text == "(":
            return self.paren()
        if text == "[":
            return ("list", tuple(self.items("]", lambda: self.expr(0))))
        if text == "{":
            return self.record()
        raise FluxSyntaxError(f"unexpected {text!r}")

    def paren(self) -> Node:
        # `(r) =>` or `(r, acc) =>` opens a function; anything else is a parenthesised expression
        j = self.i
        while self.toks[j][0] == "name" or self.toks[j][1] == ",":
            j += 1
        if self.toks[j][1] == ")" and self.toks[j + 1][1] == "=>":
            params = tuple(t[1] for t in self.toks[self.i : j] if t[0] == "name")
            self.i = j + 2
            return ("fn", params, self.expr(0))
        inner = self.expr(0)
        self.take(")")
        return inner

    def record(self) -> Node:
        base = None
        if self.peek()[0] == "name" and self.peek(1)[1] == "with":
            base = ("ident", self.take()[1])
            self.take("with")
        return ("record", base, tuple(self.items("}", self.property)))

    def property(self) -> tuple[str, Node]:
        kind, name = self.take()
        if kind not in ("name", "str"):
            raise FluxSyntaxError(f"bad property name {name!r}")
        self.take(":")
        return (_string(name) if kind == "str" else name, self.expr(0))

    def items(self, close: str, item) -> list:
        out = []
        while self.peek()[1] != close:
            out.append(item())
            if self.peek()[1] != close:
                self.take(",")
        self.take(close)
        return out

    def postfix(self, left: Node) -> Node:
        _, text = self.take()
        if text == ".":
            return ("member", left, self.take()[1])
        if text == "[":
            key = self.expr(0)
            self.take("]")
            if key[0] != "str":
                raise FluxSyntaxError("only string keys index a record")
            return ("member", left, key[1])
        return ("call", left, tuple(self.items(")", self.property)))


def parse(text: str) -> Node:
    """The tree of a Flux program (its last expression)."""
    return _Parser(text).program()
