"""Flux pipelines → InfluxDB 3 SQL (DataFusion), docs/rules.md#ix-12.

Three steps, one concern each:

* :func:`tokenize` — Flux text, where f-string holes are already replaced by :data:`HOLE` sentinels
  (``\\x00<n>\\x00``), into tokens;
* :func:`parse` — tokens into a :class:`Pipeline` of :class:`Stage` calls whose arguments are small
  expression trees (predicates with ``and``/``or``/``not``, comparisons, regexes, durations,
  functions ``(r) => …``, lists, holes);
* :mod:`migrators.flux_sql` — the translator to SQL text.

Anything outside the subset raises :class:`Unsupported` with a reason; callers turn that into a
``MIGRATION-BLOCKER(IX-12)`` marker carrying the original Flux. Nothing is approximated here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HOLE_RE = re.compile(r"\x00(\d+)\x00")


class Unsupported(Exception):
    """The Flux is outside the translatable subset; the message says why."""


# --- tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # ident | string | number | duration | time | regex | hole | op | punct | eof
    text: str
    pos: int
    hole: int | None = None  # index of the f-string hole (kind hole, string, duration)
    suffix: str = ""  # literal text glued to a hole: `{day}T00:00:00Z` (the clock and zone of a time)


DURATION_UNITS = ("ns", "us", "µs", "ms", "mo", "s", "m", "h", "d", "w", "y")
_DURATION = re.compile(r"(?:\d+(?:ns|us|µs|ms|mo|s|m|h|d|w|y))+")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CLOCK = re.compile(r"T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})(?![A-Za-z0-9_])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("|>", "=>", "==", "!=", "=~", "!~", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "=")
_PUNCT = "()[]{},:."


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif ch == "\x00":
            i = _hole_token(text, i, tokens)
        elif ch == '"':
            i = _string_token(text, i, tokens)
        elif ch == "/" and _regex_allowed(tokens):
            end = _regex_end(text, i)
            tokens.append(Token("regex", text[i + 1 : end], i))
            i = end + 1
        elif m := _TIME.match(text, i):
            tokens.append(Token("time", m.group(), i))
            i = m.end()
        elif ch.isdigit():
            i = _number_or_duration(text, i, tokens)
        elif m := _IDENT.match(text, i):
            tokens.append(Token("ident", m.group(), i))
            i = m.end()
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op:
                tokens.append(Token("op", op, i))
                i += len(op)
            elif ch in _PUNCT:
                tokens.append(Token("punct", ch, i))
                i += 1
            else:
                raise Unsupported(f"unexpected character {ch!r} in Flux")
    tokens.append(Token("eof", "", n))
    return tokens


def _hole_token(text: str, i: int, tokens: list[Token]) -> int:
    m = HOLE_RE.match(text, i)
    if not m:
        raise Unsupported("malformed hole")
    end = m.end()
    unit = re.match(r"(ns|us|µs|ms|mo|s|m|h|d|w|y)(?![A-Za-z0-9_])", text[end:])
    if unit:  # `-{hours}h`: a duration whose magnitude is a Python expression
        tokens.append(Token("duration", "{}" + unit.group(1), i, hole=int(m.group(1))))
        return end + unit.end()
    if re.match(r"Z(?![A-Za-z0-9_])", text[end:]):  # `{start.isoformat()}Z`: a time, the Z says UTC
        tokens.append(Token("hole", m.group(), i, hole=int(m.group(1)), suffix="Z"))
        return end + 1
    clock = _CLOCK.match(text, end)
    if clock:  # `{day.isoformat()}T00:00:00Z`: a date hole completed into a time by the literal text
        tokens.append(Token("hole", m.group(), i, hole=int(m.group(1)), suffix=clock.group()))
        return clock.end()
    tokens.append(Token("hole", m.group(), i, hole=int(m.group(1))))
    return end


def _string_token(text: str, i: int, tokens: list[Token]) -> int:
    j, out = i + 1, []
    while j < len(text) and text[j] != '"':
        if text[j] == "\\" and j + 1 < len(text):
            out.append({"n": "\n", "t": "\t"}.get(text[j + 1], text[j + 1]))
            j += 2
        elif text.startswith("${", j):
            raise Unsupported("Flux string interpolation ${…}")
        else:
            out.append(text[j])
            j += 1
    if j >= len(text):
        raise Unsupported("unterminated string")
    value = "".join(out)
    holes = HOLE_RE.findall(value)
    if holes:
        if not HOLE_RE.fullmatch(value):
            raise Unsupported("an f-string hole is only part of a Flux string")
        tokens.append(Token("string", value, i, hole=int(holes[0])))
    else:
        tokens.append(Token("string", value, i))
    return j + 1


def _regex_allowed(tokens: list[Token]) -> bool:
    return bool(tokens) and tokens[-1].kind == "op" and tokens[-1].text in ("=~", "!~")


def _regex_end(text: str, i: int) -> int:
    j = i + 1
    while j < len(text) and text[j] != "/":
        j += 2 if text[j] == "\\" else 1
    if j >= len(text):
        raise Unsupported("unterminated regex")
    if HOLE_RE.search(text[i:j]):
        raise Unsupported("an f-string hole inside a regex")
    return j


def _number_or_duration(text: str, i: int, tokens: list[Token]) -> int:
    m = _DURATION.match(text, i)
    if m and not re.match(r"[A-Za-z0-9_]", text[m.end() : m.end() + 1]):
        tokens.append(Token("duration", m.group(), i))
        return m.end()
    m = _NUMBER.match(text, i)
    tokens.append(Token("number", m.group(), i))
    return m.end()


# --- AST --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    """string | number | bool | duration | time | regex literal; `hole` set when it is an f-string hole."""

    kind: str
    value: str
    hole: int | None = None
    negative: bool = False
    suffix: str = ""  # literal text after a hole (see Token.suffix)


@dataclass(frozen=True)
class Ident:
    name: str


@dataclass(frozen=True)
class Member:
    """r.host, r["host"], params.x; `hole` when the property name is an f-string hole (r.{tag})."""

    obj: str
    prop: str
    hole: int | None = None


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Expr]


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class WithRecord:
    """{r with k: v, …}"""

    base: str
    fields: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Function:
    params: tuple[str, ...]
    body: Expr


Expr = Lit | Ident | Member | Binary | Not | Call | ListExpr | WithRecord | Function


@dataclass(frozen=True)
class Stage:
    name: str
    args: dict[str, Expr] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]
    imports: tuple[str, ...] = ()  # `import "influxdata/influxdb/schema"`: packages the stages may call


# --- parser -----------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self, kind: str | None = None, text: str | None = None) -> Token:
        tok = self.peek()
        if (kind and tok.kind != kind) or (text is not None and tok.text != text):
            want = text or kind
            raise Unsupported(f"Flux syntax: expected {want!r}, got {tok.text or tok.kind!r}")
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (text is None or tok.text == text)

    def pipeline(self) -> Pipeline:
        imports = []
        while self.at("ident", "import"):
            self.take()
            imports.append(self.take("string").text)
        if self.at("ident", "option"):
            raise Unsupported("Flux `option` statements")
        stages = [self.stage()]
        while self.at("op", "|>"):
            self.take()
            stages.append(self.stage())
        if not self.at("eof"):
            raise Unsupported(f"more than one Flux statement or expression (at {self.peek().text!r})")
        return Pipeline(tuple(stages), tuple(imports))

    def stage(self) -> Stage:
        name = self.take("ident").text
        while self.at("punct", "."):  # v1.databases(), schema.tagValues(): package functions
            self.take()
            name += "." + self.take("ident").text
        return Stage(name, self.arguments())

    def arguments(self) -> dict[str, Expr]:
        self.take("punct", "(")
        args: dict[str, Expr] = {}
        while not self.at("punct", ")"):
            key = self.take("ident").text
            self.take("punct", ":")
            args[key] = self.value()
            if not self.at("punct", ")"):
                self.take("punct", ",")
        self.take("punct", ")")
        return args

    def value(self) -> Expr:
        if self.at("punct", "(") and self._is_function():
            return self.function()
        return self.expr()

    def _is_function(self) -> bool:
        j = self.i + 1
        while self.tokens[j].kind == "ident" or self.tokens[j].text == ",":
            j += 1
        return self.tokens[j].text == ")" and self.tokens[j + 1].text == "=>"

    def function(self) -> Function:
        self.take("punct", "(")
        params = []
        while not self.at("punct", ")"):
            params.append(self.take("ident").text)
            if self.at("punct", ","):
                self.take()
        self.take("punct", ")")
        self.take("op", "=>")
        if self.at("punct", "(") and self.peek(1).text == "{":
            self.take()
            body = self.record()
            self.take("punct", ")")
        elif self.at("punct", "{"):
            raise Unsupported("Flux function with a block body")
        else:
            body = self.expr()
        return Function(tuple(params), body)

    def record(self) -> WithRecord:
        self.take("punct", "{")
        base = self.take("ident").text
        if not self.at("ident", "with"):
            raise Unsupported("map() building a new record")
        self.take()
        fields = []
        while not self.at("punct", "}"):
            key = self.take("ident").text
            self.take("punct", ":")
            fields.append((key, self.expr()))
            if self.at("punct", ","):
                self.take()
        self.take("punct", "}")
        return WithRecord(base, tuple(fields))

    # precedence climbing: or < and < not < comparison < additive < multiplicative < unary
    def expr(self) -> Expr:
        left = self.and_expr()
        while self.at("ident", "or"):
            self.take()
            left = Binary("or", left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.not_expr()
        while self.at("ident", "and"):
            self.take()
            left = Binary("and", left, self.not_expr())
        return left

    def not_expr(self) -> Expr:
        if self.at("ident", "not"):
            self.take()
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        if self.peek().kind == "op" and self.peek().text in ("==", "!=", "<", "<=", ">", ">=", "=~", "!~"):
            op = self.take().text
            return Binary(op, left, self.additive())
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.take().text
            left = Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            op = self.take().text
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.at("op", "-"):
            self.take()
            operand = self.unary()
            if isinstance(operand, Lit) and operand.kind in ("number", "duration"):
                return Lit(operand.kind, operand.value, operand.hole, negative=not operand.negative)
            if isinstance(operand, Lit) and operand.kind == "hole" and not operand.suffix:  # -{period}
                return Lit("hole", operand.value, operand.hole, negative=not operand.negative)
            return Binary("-", Lit("number", "0"), operand)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.kind in ("string", "number", "duration", "time", "regex"):
            self.take()
            return Lit(tok.kind, tok.text, tok.hole)
        if tok.kind == "hole":
            self.take()
            return Lit("hole", tok.text, tok.hole, suffix=tok.suffix)
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.expr()
            self.take("punct", ")")
            return inner
        if tok.kind == "punct" and tok.text == "[":
            return self.list_expr()
        if tok.kind == "ident":
            return self.name_expr()
        raise Unsupported(f"Flux syntax: unexpected {tok.text or tok.kind!r}")

    def list_expr(self) -> ListExpr:
        self.take("punct", "[")
        items = []
        while not self.at("punct", "]"):
            items.append(self.expr())
            if self.at("punct", ","):
                self.take()
        self.take("punct", "]")
        return ListExpr(tuple(items))

    def name_expr(self) -> Expr:
        name = self.take("ident").text
        if name in ("true", "false"):
            return Lit("bool", name)
        if name == "exists" and self.at("ident"):  # `exists r.x`: a unary operator on a member
            return Call("exists", {"v": self.name_expr()})
        if self.at("punct", "."):
            self.take()
            if self.at("hole"):
                return Member(name, "", hole=self.take().hole)
            prop = self.take("ident").text
            if self.at("punct", "("):
                return Call(f"{name}.{prop}", self.arguments())
            return Member(name, prop)
        if self.at("punct", "["):
            self.take()
            key = self.take("string")
            self.take("punct", "]")
            return Member(name, key.text, hole=key.hole)
        if self.at("punct", "("):
            return Call(name, self.arguments())
        return Ident(name)


def parse(text: str) -> Pipeline:
    """Parse one Flux pipeline (holes as ``\\x00n\\x00``)."""
    return _Parser(tokenize(text)).pipeline()
