"""The InfluxQL subset the stand-in answers, translated to DataFusion SQL.

Covered: `SELECT` of fields/tags/`*` or of aggregates (mean, median, sum, count, min, max, first,
last, spread, stddev) `FROM` one or more measurements, `WHERE` on tags (=, !=, =~, !~), fields
and time (absolute literals, `now() - 1h`), `GROUP BY time(d)` and/or tags,
`fill(null|none|previous|linear|<n>)`,
`ORDER BY time [DESC]`, `LIMIT`/`OFFSET` per series, `$param` binding; `SHOW MEASUREMENTS`,
`SHOW TAG KEYS`, `SHOW FIELD KEYS`. Anything else raises `Unsupported` (UNIMPLEMENTED / 400):
the stand-in refuses rather than give an answer the real server would not.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field

FIELD_TYPES = {
    "float": "float",
    "integer": "integer",
    "uinteger": "unsigned",
    "string": "string",
    "boolean": "boolean",
}
AGGREGATES = {
    "mean": "avg",
    "median": "median",
    "sum": "sum",
    "count": "count",
    "min": "min",
    "max": "max",
    "first": "first_value",
    "last": "last_value",
    "spread": None,
    "stddev": "stddev",
}
DURATION_NS = {
    "ns": 1,
    "u": 10**3,
    "µ": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}
REGEX_LITERAL_RE = re.compile(r"\s*/((?:[^/\\]|\\.)*)/")
TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<duration>\d+(?:ns|ms|u|µ|s|m|h|d|w)\b)
  | (?P<number>\d+\.\d*|\.\d+|\d+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<qident>"(?:[^"\\]|\\.)*")
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>::|=~|!~|!=|<>|<=|>=|[=<>+\-*/(),;.%])
""",
    re.VERBOSE,
)


class InfluxQLError(ValueError):
    """A parse error: the real server answers `error in InfluxQL statement: parsing error: ...`."""


class Unsupported(NotImplementedError):
    """Valid InfluxQL outside the subset."""


class MultipleStatements(InfluxQLError):
    """More than one statement: the real HTTP handler refuses before planning
    (`InfluxqlSingleStatement`, influxdb3_server/src/http.rs)."""

    def __init__(self) -> None:
        super().__init__("must provide only one InfluxQl statement per query")


@dataclass
class Token:
    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if (
            tokens
            and tokens[-1].kind == "op"
            and tokens[-1].text in ("=~", "!~")
            or (text[pos] == "/" and tokens and tokens[-1].text.upper() == "FROM")
        ):
            match = REGEX_LITERAL_RE.match(text, pos)
            if match:
                tokens.append(Token("regex", match.group(1).replace("\\/", "/")))
                pos = match.end()
                continue
        match = TOKEN_RE.match(text, pos)
        if not match:
            raise InfluxQLError(f"found {text[pos]!r}, expected a token at pos {pos}")
        pos = match.end()
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup or "", match.group()))
    return tokens


# -- statements -------------------------------------------------------------------------------
@dataclass
class ShowDatabases:
    pass


@dataclass
class ShowMeasurements:
    """`SHOW MEASUREMENTS [WITH MEASUREMENT =|!=|=~|!~ x] [LIMIT n] [OFFSET n]`."""

    op: str | None = None
    value: str = ""
    limit: int | None = None
    offset: int = 0

    def matches(self, name: str) -> bool:
        if self.op is None:
            return True
        if self.op in ("=~", "!~"):
            return (re.search(self.value, name) is not None) == (self.op == "=~")
        return (name == self.value) == (self.op == "=")


@dataclass
class ShowRetentionPolicies:
    database: str | None = None


@dataclass
class ShowTagValues:
    """`SHOW TAG VALUES [FROM m, ...] WITH KEY = "k" | != | IN ("a", "b") | =~ /re/ | !~ /re/`."""

    measurements: list[str]
    op: str
    keys: list[str]

    def matches(self, key: str) -> bool:
        if self.op == "=":
            return key == self.keys[0]
        if self.op in ("!=", "<>"):
            return key != self.keys[0]
        if self.op == "IN":
            return key in self.keys
        found = re.search(self.keys[0], key) is not None
        return found if self.op == "=~" else not found


@dataclass
class ShowKeys:
    kind: str
    measurements: list[str]


@dataclass
class Projection:
    column: str  # field/tag name, or "*"
    function: str | None
    alias: str | None


@dataclass
class Select:
    projections: list[Projection]
    measurements: list[str]
    where: object | None = None
    group_time_ns: int | None = None
    group_tags: list[str] = field(default_factory=list)
    fill: str = "null"
    descending: bool = False
    limit: int | None = None
    offset: int = 0
    now_ns: int = field(default_factory=time.time_ns)
    first_time_ns: int | None = None  # the table's first point: GROUP BY time() with no lower bound

    @property
    def aggregated(self) -> bool:
        return any(p.function for p in self.projections)


@dataclass
class Explain:
    """`EXPLAIN [ANALYZE] [VERBOSE] SELECT ...`: the planner plans the SELECT and answers its plan."""

    select: Select
    analyze: bool = False
    verbose: bool = False


@dataclass
class Cmp:
    left: object
    op: str
    right: object


@dataclass
class BoolOp:
    op: str
    left: object
    right: object


@dataclass
class Ref:
    name: str


@dataclass
class Lit:
    value: object


@dataclass
class Regex:
    pattern: str


@dataclass
class Param:
    name: str


@dataclass
class TimeValue:
    ns: int


def parse(text: str):
    tokens = tokenize(text.strip())
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if any(t.text == ";" for t in tokens):
        raise MultipleStatements()
    parser = _Parser(tokens)
    statement = parser.statement()
    if not parser.done():
        raise InfluxQLError(f"found {parser.peek().text}, expected end of statement")
    return statement


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.pos = tokens, 0

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def peek(self, offset: int = 0) -> Token:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else Token("eof", "")

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        if self.peek().kind == "ident" and self.peek().text.upper() in words:
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text.upper() != text.upper():
            raise InfluxQLError(f"found {token.text or 'EOF'}, expected {text}")

    def ident(self) -> str:
        token = self.next()
        if token.kind == "ident":
            return token.text
        if token.kind == "qident":
            return token.text[1:-1].replace('\\"', '"')
        raise InfluxQLError(f"found {token.text or 'EOF'}, expected identifier")

    def statement(self):
        if self.keyword("SHOW"):
            return self.show()
        if self.keyword("SELECT"):
            return self.select()
        if self.peek().text.upper() == "EXPLAIN" and self._explains_select():
            self.next()
            analyze, verbose = self.keyword("ANALYZE"), self.keyword("VERBOSE")
            self.expect("SELECT")
            return Explain(self.select(), analyze, verbose)
        if self.keyword("CREATE", "DELETE", "DROP", "EXPLAIN"):
            # The planner's own names (`statement_to_plan`, core/iox_query_influxql/src/plan/
            # planner.rs): not_implemented("CREATE DATABASE" | "DELETE" | "DROP MEASUREMENT").
            kind = self.tokens[self.pos - 1].text.upper()
            if kind == "CREATE" and self.keyword("DATABASE"):
                kind = "CREATE DATABASE"
            elif kind == "DROP" and self.keyword("MEASUREMENT"):
                kind = "DROP MEASUREMENT"
            raise Unsupported(kind)
        raise InfluxQLError(
            "invalid SQL statement, expected CREATE, DELETE, DROP, EXPLAIN, SELECT or SHOW at pos 0"
        )

    def _explains_select(self) -> bool:
        """EXPLAIN, its options, then SELECT: the one EXPLAIN the stand-in plans (any other
        stays refused by name, as before)."""
        index = 1
        for option in ("ANALYZE", "VERBOSE"):  # in this order, as the real parser takes them
            if self.peek(index).text.upper() == option:
                index += 1
        return self.peek(index).text.upper() == "SELECT"

    def show(self):
        if self.keyword("DATABASES"):
            return ShowDatabases()
        if self.keyword("MEASUREMENTS"):
            return self.show_measurements()
        if self.keyword("RETENTION"):
            self.expect("POLICIES")
            database = self.ident() if self.keyword("ON") else None
            if not self.done():
                raise InfluxQLError(f"found {self.peek().text}, expected end of statement")
            return ShowRetentionPolicies(database)
        if self.peek().text.upper() == "TAG" and self.peek(1).text.upper() == "VALUES":
            self.pos += 2
            return self.tag_values()
        if self.keyword("TAG", "FIELD"):
            kind = self.tokens[self.pos - 1].text.lower()
            self.expect("KEYS")
            measurements = self.measurements() if self.keyword("FROM") else []
            if not self.done():
                raise Unsupported(f"SHOW {kind.upper()} KEYS with clauses other than FROM")
            return ShowKeys(kind, measurements)
        raise InfluxQLError(
            "invalid SHOW statement, expected DATABASES, FIELD KEYS, MEASUREMENTS, TAG KEYS, "
            "TAG VALUES, or RETENTION POLICIES following SHOW at pos 5"
        )

    def show_measurements(self) -> ShowMeasurements:
        statement = ShowMeasurements()
        if self.keyword("ON"):
            raise Unsupported("SHOW MEASUREMENTS ON <database>")
        if self.keyword("WITH"):
            self.expect("MEASUREMENT")
            op = self.next().text
            if op in ("=~", "!~") and self.peek().kind == "regex":
                statement.op, statement.value = op, self.next().text
            elif op in ("=", "!=", "<>"):
                statement.op, statement.value = ("!=" if op == "<>" else op), self.ident()
            else:
                raise InfluxQLError(f"found {op or 'EOF'}, expected =, !=, =~ or !~")
        if self.keyword("WHERE"):
            raise Unsupported("SHOW MEASUREMENTS with WHERE")
        statement.limit, statement.offset = self.limit_offset()
        if not self.done():
            raise InfluxQLError(f"found {self.peek().text}, expected end of statement")
        return statement

    def limit_offset(self) -> tuple[int | None, int]:
        limit = int(self.next().text) if self.keyword("LIMIT") else None
        offset = int(self.next().text) if self.keyword("OFFSET") else 0
        return limit, offset

    def tag_values(self) -> ShowTagValues:
        measurements = self.measurements() if self.keyword("FROM") else []
        if not self.keyword("WITH"):
            raise InfluxQLError(f"found {self.peek().text or 'EOF'}, expected WITH")
        self.expect("KEY")
        op = self.next()
        if op.text.upper() == "IN":
            self.expect("(")
            keys = [self.ident()]
            while self.peek().text == ",":
                self.next()
                keys.append(self.ident())
            self.expect(")")
            statement = ShowTagValues(measurements, "IN", keys)
        elif op.text in ("=", "!=", "<>"):
            statement = ShowTagValues(measurements, op.text, [self.ident()])
        elif op.text in ("=~", "!~") and self.peek().kind == "regex":
            statement = ShowTagValues(measurements, op.text, [self.next().text])
        else:
            raise InfluxQLError(f"found {op.text or 'EOF'}, expected =, !=, =~, !~ or IN")
        if not self.done():
            raise Unsupported("SHOW TAG VALUES with WHERE, LIMIT or OFFSET")
        return statement

    def measurements(self) -> list[str]:
        names = [self.measurement()]
        while self.peek().text == ",":
            self.next()
            names.append(self.measurement())
        return names

    def measurement(self) -> str:
        if self.peek().kind == "regex":
            raise Unsupported("regular expressions in FROM")
        if self.peek().text == "(":
            raise Unsupported("subqueries")
        name = self.ident()
        if self.peek().text == ".":
            raise InfluxQLError("database prefix in qualified measurement syntax is not supported")
        return name

    def select(self) -> Select:
        projections = [self.projection()]
        while self.peek().text == ",":
            self.next()
            projections.append(self.projection())
        self.expect("FROM")
        statement = Select(projections, self.measurements())
        if self.keyword("WHERE"):
            statement.where = self.expr()
        if self.keyword("GROUP"):
            self.expect("BY")
            self.group_by(statement)
        if self.keyword("FILL"):
            self.expect("(")
            token = self.next()
            if token.text == "-" and self.peek().kind == "number":
                token = Token("number", "-" + self.next().text)
            statement.fill = token.text.lower()
            self.expect(")")
        if self.keyword("ORDER"):
            self.expect("BY")
            if self.ident().lower() != "time":
                raise Unsupported("ORDER BY other than time")
            statement.descending = self.keyword("DESC")
            self.keyword("ASC")
        if self.keyword("LIMIT"):
            statement.limit = int(self.next().text)
        if self.keyword("OFFSET"):
            statement.offset = int(self.next().text)
        if self.keyword("SLIMIT", "SOFFSET", "TZ", "INTO"):
            raise Unsupported(self.tokens[self.pos - 1].text.upper())
        return statement

    def projection(self) -> Projection:
        if self.peek().text == "*":
            self.next()
            return Projection("*", None, None)
        if self.peek().kind == "ident" and self.peek(1).text == "(":
            function = self.next().text.lower()
            if function not in AGGREGATES:
                raise Unsupported(f"function {function}()")
            self.expect("(")
            if self.peek().text == "*":
                raise Unsupported(f"{function}(*)")
            column = self.ident()
            self.expect(")")
        else:
            function, column = None, self.ident()
        if self.peek().kind == "op" and self.peek().text in ("+", "-", "*", "/", "%"):
            raise Unsupported("arithmetic in the SELECT list")
        if self.peek().text == "::":
            raise Unsupported("type casts in the SELECT list")
        alias = self.ident() if self.keyword("AS") else None
        return Projection(column, function, alias)

    def group_by(self, statement: Select) -> None:
        while True:
            if self.peek().text.lower() == "time" and self.peek(1).text == "(":
                self.next()
                self.expect("(")
                token = self.next()
                if token.kind != "duration":
                    raise InfluxQLError(f"found {token.text}, expected duration")
                statement.group_time_ns = duration_ns(token.text)
                if self.peek().text == ",":
                    raise Unsupported("GROUP BY time() with an offset")
                self.expect(")")
            elif self.peek().text == "*":
                raise Unsupported("GROUP BY *")
            else:
                statement.group_tags.append(self.ident())
            if self.peek().text != ",":
                return
            self.next()

    # WHERE: or > and > comparison; parentheses group.
    def expr(self):
        left = self.conjunction()
        while self.keyword("OR"):
            left = BoolOp("OR", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.comparison()
        while self.keyword("AND"):
            left = BoolOp("AND", left, self.comparison())
        return left

    def comparison(self):
        if self.peek().text == "(":
            self.next()
            inner = self.expr()
            self.expect(")")
            return inner
        left = self.operand()
        if self.peek().text == "::":
            raise Unsupported("type casts in WHERE")
        op = self.next()
        if op.text not in ("=", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"):
            raise InfluxQLError(f"found {op.text or 'EOF'}, expected comparison operator")
        return Cmp(left, "!=" if op.text == "<>" else op.text, self.operand())

    def operand(self):
        token = self.peek()
        if token.kind == "ident" and token.text.lower() == "now" and self.peek(1).text == "(":
            self.pos += 3
            value = time.time_ns()
            while self.peek().text in ("+", "-") and self.peek(1).kind == "duration":
                sign = 1 if self.next().text == "+" else -1
                value += sign * duration_ns(self.next().text)
            return TimeValue(value)
        self.pos += 1
        if token.kind in ("ident", "qident"):
            self.pos -= 1
            return Ref(self.ident())
        if token.kind == "string":
            return Lit(token.text[1:-1].replace("\\'", "'"))
        if token.kind == "number":
            return Lit(float(token.text) if "." in token.text else int(token.text))
        if token.text == "-" and self.peek().kind == "number":
            number = self.next().text
            return Lit(-(float(number) if "." in number else int(number)))
        if token.kind == "regex":
            return Regex(token.text)
        if token.kind == "param":
            return Param(token.text[1:])
        if token.kind == "ident" and token.text.lower() in ("true", "false"):
            return Lit(token.text.lower() == "true")
        raise InfluxQLError(f"found {token.text or 'EOF'}, expected identifier, string, number, bool")


def duration_ns(text: str) -> int:
    match = re.fullmatch(r"(\d+)(ns|ms|u|µ|s|m|h|d|w)", text)
    if not match:
        raise InfluxQLError(f"invalid duration {text}")
    return int(match.group(1)) * DURATION_NS[match.group(2)]


def time_literal(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InfluxQLError(f"invalid time literal '{value}'") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    raise InfluxQLError(f"invalid time value {value!r}")


# -- translation ------------------------------------------------------------------------------
def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ts(ns: int) -> str:
    return f"arrow_cast({ns}, 'Timestamp(Nanosecond, None)')"


def lit(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class TimeRange:
    lower: int | None = None
    upper: int | None = None


def where_sql(node: object, columns: dict[str, str], bounds: TimeRange, top: bool = True) -> str:
    if isinstance(node, BoolOp):
        inner_top = top and node.op == "AND"
        left = where_sql(node.left, columns, bounds, inner_top)
        right = where_sql(node.right, columns, bounds, inner_top)
        return f"({left} {node.op} {right})"
    assert isinstance(node, Cmp)
    if isinstance(node.left, Ref) and node.left.name.lower() == "time":
        return _time_cmp(node, bounds, top)
    if not isinstance(node.left, Ref):
        raise Unsupported("comparisons must have a column on the left")
    column = node.left.name
    if isinstance(node.right, Regex):
        op = "~" if node.op == "=~" else "!~"
        return f"{q(column)} {op} {lit(node.right.pattern)}"
    right = (
        f"${node.right.name}"
        if isinstance(node.right, Param)
        else q(node.right.name)
        if isinstance(node.right, Ref)
        else lit(node.right.value)
    )
    if column not in columns:
        return "false" if node.op != "!=" else "true"
    return f"{q(column)} {node.op} {right}"


def _time_cmp(node: Cmp, bounds: TimeRange, top: bool) -> str:
    right = node.right
    if isinstance(right, TimeValue):
        value = right.ns
    elif isinstance(right, Lit):
        value = time_literal(right.value)
    else:
        raise Unsupported("time compared with something other than a literal or now()")
    if top:
        if node.op in (">", ">="):
            bounds.lower = value + (1 if node.op == ">" else 0)
        elif node.op in ("<", "<="):
            bounds.upper = value + (1 if node.op == "<=" else 0)
    return f"time {node.op} {ts(value)}"


def to_sql(statement: Select, measurement: str, columns: dict[str, str]) -> tuple[str, TimeRange]:
    """One SELECT per measurement; rows carry `iox::measurement` first, then `time`.

    Also returns the top-level time bounds of WHERE, which gap filling needs."""
    if statement.aggregated and any(not p.function for p in statement.projections):
        raise InfluxQLError("mixing aggregate and non-aggregate queries is not supported")
    if statement.group_time_ns and not statement.aggregated:
        raise InfluxQLError("GROUP BY requires at least one aggregate function")
    if statement.fill not in ("null", "none", "previous", "linear") and not _is_number(statement.fill):
        raise InfluxQLError(f"found {statement.fill}, expected null, none, previous, linear or a number")
    if gap_filled(statement) and (statement.limit is not None or statement.offset):
        raise Unsupported("LIMIT/OFFSET together with gap filling; use fill(none)")
    bounds = TimeRange()
    where = [where_sql(statement.where, columns, bounds)] if statement.where else []
    if bounds.lower is None and statement.group_time_ns:
        # No lower bound: the windows run from the first point's window (the real planner's
        # default range, iox_query_influxql), up to now() unless WHERE bounds them.
        bounds.lower = statement.first_time_ns
    if statement.aggregated:
        return _aggregate_sql(statement, measurement, columns, where, bounds), bounds
    return _raw_sql(statement, measurement, columns, where), bounds


def needs_lower_bound(statement: Select) -> bool:
    return bool(statement.group_time_ns)


def gap_filled(statement: Select) -> bool:
    return bool(statement.group_time_ns) and statement.fill != "none"


def fill_number(statement: Select) -> float | int | None:
    """The constant of `fill(<n>)`, else None."""
    if not _is_number(statement.fill):
        return None
    return float(statement.fill) if "." in statement.fill else int(statement.fill)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d*)?", text) is not None


def _names(statement: Select, columns: dict[str, str]) -> list[tuple[str, str]]:
    """(source column, output name) pairs; `*` expands to every non-time column, sorted."""
    out: list[tuple[str, str]] = []
    for p in statement.projections:
        if p.column == "*":
            out += [(c, c) for c in sorted(columns) if c != "time"]
        else:
            out.append((p.column, p.alias or p.column))
    return out


def _raw_sql(statement: Select, measurement: str, columns: dict[str, str], where: list[str]) -> str:
    # GROUP BY tags on raw points: the tags follow `time`, rows are ordered per series.
    tags = [t for t in statement.group_tags if columns.get(t) == "tag"]
    names = [(src, out) for src, out in _names(statement, columns) if src not in tags]
    select = [f"{lit(measurement)} AS {q('iox::measurement')}", "time", *(q(t) for t in tags)]
    select += [f"{q(src)} AS {q(out)}" if src in columns else f"NULL AS {q(out)}" for src, out in names]
    fields = [q(src) for src, _ in names if columns.get(src) not in (None, "tag", "timestamp")]
    # InfluxQL returns only points where at least one selected field has a value.
    where = where + [("(" + " OR ".join(f"{f} IS NOT NULL" for f in fields) + ")") if fields else "false"]
    order = [*(q(t) for t in tags), "time DESC" if statement.descending else "time"]
    sql = (
        f"SELECT {', '.join(select)} FROM {q(measurement)} WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(order)}"
    )
    return _limit(sql, statement, tags)


def _aggregate_sql(
    statement: Select, measurement: str, columns: dict[str, str], where: list[str], bounds: TimeRange
) -> str:
    tags = statement.group_tags
    for tag in tags:
        if columns.get(tag) != "tag":
            raise Unsupported(f"GROUP BY on '{tag}', which is not a tag of {measurement}")
    if statement.group_time_ns:
        time_expr = f"date_bin(INTERVAL '{statement.group_time_ns} nanoseconds', time, {ts(0)})"
    else:
        time_expr = _selector_time(statement) or ts(bounds.lower or 0)
    selects = [f"{lit(measurement)} AS {q('iox::measurement')}", f"{time_expr} AS time"]
    selects += [q(t) for t in tags]
    seen: dict[str, int] = {}
    for p in statement.projections:
        name = p.alias or p.function or ""
        count = seen.get(name, 0)
        seen[name] = count + 1
        selects.append(f"{_aggregate(p, columns)} AS {q(name if not count else f'{name}_{count}')}")
    group = ([time_expr] if statement.group_time_ns else []) + [q(t) for t in tags]
    group_sql = ", ".join(group)
    sql = f"SELECT {', '.join(selects)} FROM {q(measurement)}"
    if where:
        sql += f" WHERE {' AND '.join(where)}"
    if group_sql:
        sql += f" GROUP BY {group_sql}"
    order = [q(t) for t in tags] + ["time DESC" if statement.descending else "time"]
    sql += f" ORDER BY {', '.join(order)}"
    return _limit(sql, statement, tags)


def _aggregate(p: Projection, columns: dict[str, str]) -> str:
    column = q(p.column) if p.column in columns else "NULL"
    if p.function == "spread":
        return f"max({column}) - min({column})"
    if p.function in ("first", "last"):
        return f"{AGGREGATES[p.function]}({column} ORDER BY time)"
    return f"{AGGREGATES[p.function or '']}({column})"


def _selector_time(statement: Select) -> str | None:
    """A lone selector without GROUP BY time reports the time of the point it selected."""
    if len(statement.projections) != 1:
        return None
    p = statement.projections[0]
    column = q(p.column)
    return {
        "first": "first_value(time ORDER BY time)",
        "last": "last_value(time ORDER BY time)",
        "max": f"first_value(time ORDER BY {column} DESC NULLS LAST, time)",
        "min": f"first_value(time ORDER BY {column} ASC NULLS LAST, time)",
    }.get(p.function or "")


def _limit(sql: str, statement: Select, tags: list[str]) -> str:
    """LIMIT and OFFSET count points per series, as InfluxQL does."""
    if statement.limit is None and not statement.offset:
        return sql
    partition = f"PARTITION BY {', '.join(q(t) for t in tags)} " if tags else ""
    order = "time DESC" if statement.descending else "time"
    upper = f" AND __n <= {statement.offset + statement.limit}" if statement.limit is not None else ""
    inner = f"SELECT *, row_number() OVER ({partition}ORDER BY {order}) AS __n FROM ({sql})"
    outer_order = [q(t) for t in tags] + [order]
    return (
        f"SELECT * EXCEPT (__n) FROM ({inner}) WHERE __n > {statement.offset}{upper} "
        f"ORDER BY {', '.join(outer_order)}"
    )
