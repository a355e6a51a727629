"""Flux templates kept in module constants and filled where a query is sent (IX-12)::

    PEAK = '''from(bucket: "%(bucket)s") |> range(start: -%(days)dd) |> ...'''     # app/queries.py
    rows = gw._execute_query(PEAK % {"bucket": gw.bucket, "days": days})       # app/usage.py

The template is translated where it is written: each placeholder becomes a hole named by its key
(``$days`` in the SQL; the bucket becomes the call's ``database=``), and each fill becomes the constant
itself, the call binding ``query_parameters={"days": int(days)}``. Only done when every use of the
constant in the service is such a fill reaching a query call (see :mod:`.flow`), so no other reader of the
constant sees SQL where it expected Flux.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

_PERCENT = re.compile(r"%(?:\((\w+)\))?([-#0 +]*\d*(?:\.\d+)?)([sdifr%])")


@dataclass
class Filled:
    """A template's text with its placeholders as hole sentinels."""

    text: str
    keys: list[str]  # the hole code on the template's side: its key (`days`) or `arg<n>`
    values: list[str | None]  # the hole code at a fill: the value given for the key, None when unknown


def style(text: str) -> str | None:
    """ "format" (`{key}`), "percent" (`%(key)s`, `%s`) or None (no placeholder, or both kinds)."""
    percent = any(m.group(3) != "%" for m in _PERCENT.finditer(text))
    try:
        braces = any(name is not None for _, name, _, _ in string.Formatter().parse(text))
    except ValueError:
        braces = False
    if percent == braces:
        return None
    return "percent" if percent else "format"


def fill_format(text: str, positional: list[str], keyed: dict[str, str], start: int = 0) -> Filled | None:
    """`TEMPLATE.format(*positional, **keyed)`; None for a spec, a conversion or an index expression.
    Hole sentinels are numbered from `start` (after the holes a caller already holds)."""
    out, keys, values, auto = [], [], [], 0
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return None
    for literal, name, spec, conversion in fields:
        out.append(literal)
        if name is None:
            continue
        if spec or conversion:
            return None
        if name == "":
            name, auto = str(auto), auto + 1
        if name.isdigit():
            index = int(name)
            key, value = f"arg{index}", positional[index] if index < len(positional) else None
        elif name.isidentifier():
            key, value = name, keyed.get(name)
        else:
            return None  # `{0.attr}` / `{x[0]}`
        out.append(f"\x00{start + len(keys)}\x00")
        keys.append(key)
        values.append(value)
    return Filled("".join(out), keys, values)


def fill_percent(text: str, positional: list[str] | None, keyed: dict[str, str] | None) -> Filled | None:
    """`TEMPLATE % (a, b)` / `% value` (positional) or `% {"k": v}` (keyed); widths and %r are refused."""
    out, keys, values, pos, index = [], [], [], 0, 0
    for m in _PERCENT.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        key, flags, conv = m.groups()
        if conv == "%":
            out.append("%")
            continue
        if flags.strip("-") or conv == "r":
            return None
        if key is not None:
            value = keyed.get(key) if keyed is not None else None
        else:
            key = f"arg{index}"
            value = positional[index] if positional is not None and index < len(positional) else None
            index += 1
        # the value the Flux saw: %d/%i truncate to an int, %f rounds to six decimals
        if value is not None:
            value = {"d": f"int({value})", "i": f"int({value})", "f": f'float("%f" % ({value}))'}.get(
                conv, value
            )
        out.append(f"\x00{len(keys)}\x00")
        keys.append(key)
        values.append(value)
    out.append(text[pos:])
    if positional is not None and index != len(positional):
        return None
    return Filled("".join(out), keys, values)


def unfilled(text: str) -> Filled | None:
    """The template on its own (its module's side): every value unknown."""
    kind = style(text)
    if kind == "format":
        filled = fill_format(text, [], {})
    elif kind == "percent":
        filled = fill_percent(text, None, {})
    else:
        return None
    if filled is None or len(set(filled.keys)) != len(filled.keys):
        return None  # a key used twice would be two holes of one name
    return filled
