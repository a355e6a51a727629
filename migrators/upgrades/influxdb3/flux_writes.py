"""What a service's own writes tell the Flux translator about each measurement: its tag keys and,
when every write of it names them, its field keys (docs/rules.md#ix-12).

A query with no ``_field`` filter returns every field; SQL has to name them. The fields are taken
only from writes that spell them out (``Point(...).field("x", ...)``, dict records with a literal
``"fields"`` mapping, line-protocol text); a DataFrame write or a field named by a variable leaves the
measurement's fields unknown, and the translator refuses rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from migrators.core.tree import ProjectTree

_POINT = re.compile(r"Point\(\s*([\"'])([^\"']+)\1\s*\)")
_FIELD_CALL = re.compile(r"\.field\(\s*([^,)]*)")
_TAG_CALL = re.compile(r"\.tag\(\s*([\"'])([^\"']+)\1")
_LITERAL = re.compile(r"^([\"'])([^\"']+)\1$")
_DICT = re.compile(
    r"[\"']measurement[\"']\s*:\s*[\"'](\w+)[\"'][^{}]*?"
    r"(?:[\"']tags[\"']\s*:\s*\{([^{}]*)\}[^{}]*?)?[\"']fields[\"']\s*:\s*\{([^{}]*)\}",
    re.S,
)
_DICT_KEY = re.compile(r"[\"'](\w+)[\"']\s*:")
# `position,vehicle_id={v} lat={lat},lon={lon} {ts}` inside a string literal or f-string
_LINE = re.compile(
    r"[fF]?[\"']([A-Za-z_]\w*)((?:,\w+=[^\s,\"']+)*) (\w+=[^\s,\"']+(?:,\w+=[^\s,\"']+)*)(?: [^\"']*)?[\"']"
)
# a cheap first look for a line-protocol string: the full pattern is only tried on files that have one
_LINE_HINT = re.compile(r"[\"'][A-Za-z_]\w*(?:,\w+=[^\s,\"']+)* \w+=")
_FRAME = re.compile(r"data_frame_measurement_name\s*=\s*([\"'])([^\"']+)\1")


class MeasurementKeys(list):
    """A measurement's tag keys (a list, as the translator's schema always was) plus `fields`:
    every field key its writes send, or None when some write does not say."""

    def __init__(self, tags: list[str], fields: list[str] | None = None):
        super().__init__(tags)
        self.fields = fields


@dataclass
class _Seen:
    tags: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    unknown_fields: bool = False


def _point_writes(text: str, seen: dict[str, _Seen]) -> None:
    for match in _POINT.finditer(text):
        chain = re.split(r"\n\s*\n|\n\s*(?:return|def |class )", text[match.end() : match.end() + 600])[0]
        chain = _POINT.split(chain)[0]  # up to the next Point
        keys = seen.setdefault(match.group(2), _Seen())
        keys.tags.update(m.group(2) for m in _TAG_CALL.finditer(chain))
        for arg in _FIELD_CALL.finditer(chain):
            literal = _LITERAL.match(arg.group(1).strip())
            if literal:
                keys.fields.add(literal.group(2))
            else:
                keys.unknown_fields = True  # .field(name, value): the name is only known at run time


def _dict_writes(text: str, seen: dict[str, _Seen]) -> None:
    if "fields" not in text:
        return
    for match in _DICT.finditer(text):
        keys = seen.setdefault(match.group(1), _Seen())
        keys.tags.update(_DICT_KEY.findall(match.group(2) or ""))
        keys.fields.update(_DICT_KEY.findall(match.group(3)))


def _line_writes(text: str, seen: dict[str, _Seen]) -> None:
    if not _LINE_HINT.search(text):
        return
    for match in _LINE.finditer(text):
        keys = seen.setdefault(match.group(1), _Seen())
        keys.tags.update(pair.split("=")[0] for pair in match.group(2).split(",") if pair)
        keys.fields.update(pair.split("=")[0] for pair in match.group(3).split(","))


def writer_keys(texts: list[str]) -> dict[str, _Seen]:
    """Per measurement, what the service's writes (in the given source texts) say about it."""
    seen: dict[str, _Seen] = {}
    for text in texts:
        if "Point(" in text:
            _point_writes(text, seen)
        _dict_writes(text, seen)
        _line_writes(text, seen)
        for frame in _FRAME.finditer(text):  # the frame's columns are only known at run time
            seen.setdefault(frame.group(2), _Seen()).unknown_fields = True
    return seen


def measurement_keys(tree: ProjectTree, schema: dict[str, list[str]]) -> dict[str, MeasurementKeys]:
    """`schema` (measurement -> tag keys) completed with the tags and fields the writes show."""
    seen = writer_keys([tree.read(f) for f in tree.python_files()])
    out: dict[str, MeasurementKeys] = {}
    for name in sorted(set(schema) | set(seen)):
        keys = seen.get(name, _Seen(unknown_fields=True))
        tags = list(schema.get(name, [])) + sorted(keys.tags - set(schema.get(name, [])))
        fields = None if keys.unknown_fields or not keys.fields else sorted(keys.fields - set(tags))
        out[name] = MeasurementKeys(tags, fields)
    return out
