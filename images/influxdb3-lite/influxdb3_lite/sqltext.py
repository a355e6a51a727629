"""A small SQL text scanner: function calls, top-level clauses and list items.

The IOx functions DataFusion lacks (gap filling, selectors, `tz`) are rewritten as text before
DataFusion plans the query; this module finds what to rewrite without parsing all of SQL. It only
has to know where strings, quoted identifiers and parentheses begin and end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CLAUSES = ("SELECT", "FROM", "WHERE", "GROUP BY", "HAVING", "ORDER BY", "LIMIT", "OFFSET")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def depth_map(sql: str) -> list[int]:
    """For each character, the parenthesis depth, or -1 inside a string or quoted identifier."""
    out, depth, quote = [], 0, ""
    for ch in sql:
        if quote:
            out.append(-1)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            out.append(-1)
            continue
        if ch == "(":
            out.append(depth)
            depth += 1
            continue
        if ch == ")":
            depth -= 1
        out.append(depth)
    return out


@dataclass
class Call:
    name: str
    start: int  # index of the function name
    end: int  # index after the closing parenthesis
    args: list[str]


def calls(sql: str, names: tuple[str, ...]) -> Iterator[Call]:
    """Calls of the named functions (case-insensitive), outermost first, left to right."""
    depths = depth_map(sql)
    pos = 0
    while (match := _WORD.search(sql, pos)) is not None:
        pos = match.end()
        word = match.group().lower()
        before = sql[match.start() - 1] if match.start() else " "
        if depths[match.start()] < 0 or word not in names or before in '._"':
            continue
        paren = _skip_space(sql, match.end())
        if paren >= len(sql) or sql[paren] != "(" or depths[paren] < 0:
            continue
        close = _closing(depths, paren)
        if close is None:
            return
        yield Call(word, match.start(), close + 1, split_top(sql[paren + 1 : close]))
        pos = close + 1


def rewrite(sql: str, names: tuple[str, ...], make: Callable[[Call], str]) -> str:
    """Each call replaced by `make(call)`; arguments are rewritten first (nested calls)."""
    out, last = [], 0
    for call in calls(sql, names):
        call.args = [rewrite(arg, names, make) for arg in call.args]
        out += [sql[last : call.start], make(call)]
        last = call.end
    out.append(sql[last:])
    return "".join(out)


def split_top(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` outside parentheses and quotes; items stripped; empty text -> []."""
    if not text.strip():
        return []
    depths = depth_map(text)
    items, last = [], 0
    for i, ch in enumerate(text):
        if ch == sep and depths[i] == 0:
            items.append(text[last:i].strip())
            last = i + 1
    items.append(text[last:].strip())
    return items


def clauses(sql: str) -> dict[str, str] | None:
    """A plain `SELECT ... [FROM] [WHERE] [GROUP BY] ...` split into its top-level clauses."""
    depths = depth_map(sql)
    found: list[tuple[int, int, str]] = []
    for clause in CLAUSES:
        pattern = r"\b" + clause.replace(" ", r"\s+") + r"\b"
        for match in re.finditer(pattern, sql, re.IGNORECASE):
            if depths[match.start()] == 0:
                found.append((match.start(), match.end(), clause))
                break
    found.sort()
    if not found or found[0][2] != "SELECT" or sql[: found[0][0]].strip():
        return None
    parts = {}
    for index, (_, end, clause) in enumerate(found):
        stop = found[index + 1][0] if index + 1 < len(found) else len(sql)
        parts[clause] = sql[end:stop].strip().rstrip(";").strip()
    return parts


def split_alias(item: str) -> tuple[str, str | None]:
    """`expr AS name` / `expr name` -> (expr, name unquoted); no alias -> (item, None)."""
    match = re.search(r'\s+(?:AS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)\s*\Z', item, re.IGNORECASE)
    if not match:
        return item, None
    head = item[: match.start()].rstrip()
    depths = depth_map(item)
    explicit = re.match(r"\s+AS\s", item[match.start() :], re.IGNORECASE) is not None
    if not head or depths[match.start()] != 0 or (not explicit and not head.endswith((")", '"'))):
        return item, None
    name = match.group(1)
    return head, name[1:-1].replace('""', '"') if name.startswith('"') else name


def and_terms(where: str) -> list[str]:
    """The conjuncts of a WHERE clause at the top level (BETWEEN's own AND kept inside its term)."""
    depths = depth_map(where)
    terms, last, between = [], 0, False
    for match in re.finditer(r"\b(AND|BETWEEN)\b", where, re.IGNORECASE):
        if depths[match.start()] != 0:
            continue
        if match.group(1).upper() == "BETWEEN":
            between = True
        elif between:
            between = False
        else:
            terms.append(where[last : match.start()].strip())
            last = match.end()
    terms.append(where[last:].strip())
    return [t for t in terms if t]


def _skip_space(sql: str, pos: int) -> int:
    while pos < len(sql) and sql[pos].isspace():
        pos += 1
    return pos


def _closing(depths: list[int], paren: int) -> int | None:
    level = depths[paren]
    for i in range(paren + 1, len(depths)):
        if depths[i] == level and i > paren:
            return i
    return None
