"""Read and write pytest's configuration, format-preserving.

The file that holds pytest's configuration is the one pytest itself would read at the tree root:
``pytest.ini``/``.pytest.ini`` (always wins, even when empty), ``pytest.toml``/``.pytest.toml``
(pytest 9), ``pyproject.toml`` ``[tool.pytest]`` or ``[tool.pytest.ini_options]``, ``tox.ini
[pytest]``, ``setup.cfg [tool:pytest]``. New keys go into that table (never a second
table). With no configuration at all, ``[tool.pytest.ini_options]`` is added to an existing
``pyproject.toml``, or a ``pytest.ini`` is created.

TOML goes through tomlkit; INI files are edited line by line so comments, ordering and
continuation lines stay as they were.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import tomlkit

from migrators.core.results import Change
from migrators.core.tree import EditSet, ProjectTree


@dataclass
class PytestConfig:
    path: str | None  # relative path of the config file, None when there is none
    kind: str  # ini | toml | none
    section: str  # "pytest", "tool:pytest", "tool.pytest.ini_options", "tool.pytest"
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def addopts(self) -> list[str]:
        raw = self.values.get("addopts", "")
        if isinstance(raw, list):
            return [str(x) for x in raw]
        try:
            return shlex.split(str(raw))
        except ValueError:
            return str(raw).split()

    @property
    def asyncio_mode(self) -> str:
        for i, opt in enumerate(self.addopts):
            if opt.startswith("--asyncio-mode="):
                return opt.split("=", 1)[1]
            if opt == "--asyncio-mode" and i + 1 < len(self.addopts):
                return self.addopts[i + 1]
        return str(self.values.get("asyncio_mode", "strict")).strip() or "strict"

    @property
    def plugins_disabled(self) -> set[str]:
        opts = self.addopts
        return {
            opts[i + 1][3:] for i, o in enumerate(opts[:-1]) if o == "-p" and opts[i + 1].startswith("no:")
        }

    @property
    def testpaths(self) -> list[str]:
        raw = self.values.get("testpaths", [])
        return [str(x) for x in raw] if isinstance(raw, list) else str(raw).split()


# --- INI helpers ----------------------------------------------------------------------------------

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*(?:[#;].*)?$")
_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\s*(?P<sep>[=:])\s*(?P<value>.*)$")


def _ini_section_span(lines: list[str], section: str) -> tuple[int, int] | None:
    """(index of header, index after the last line of the section) or None."""
    start = None
    for i, line in enumerate(lines):
        match = _SECTION.match(line)
        if match:
            if start is not None:
                return start, i
            if match["name"].strip() == section:
                start = i
    return (start, len(lines)) if start is not None else None


def read_ini_section(text: str, section: str) -> dict[str, str] | None:
    lines = text.splitlines()
    span = _ini_section_span(lines, section)
    if span is None:
        return None
    values: dict[str, str] = {}
    key = None
    for line in lines[span[0] + 1 : span[1]]:
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if line[:1].isspace() and key is not None:
            values[key] = (values[key] + "\n" + line.strip()).strip()
            continue
        match = _KEY.match(line)
        if match:
            key = match["key"]
            values[key] = match["value"].strip()
    return values


def set_ini_option(text: str, section: str, key: str, value: str) -> str:
    """Set `key = value` in `[section]`, replacing an existing line or appending to the section."""
    lines = text.splitlines(keepends=True)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    span = _ini_section_span([line.rstrip("\r\n") for line in lines], section)
    if span is None:
        sep = "" if not text or text.endswith("\n") else eol
        blank = eol if text.strip() else ""
        return f"{text}{sep}{blank}[{section}]{eol}{key} = {value}{eol}"
    start, end = span
    for i in range(start + 1, end):
        match = _KEY.match(lines[i].rstrip("\r\n"))
        if match and match["key"] == key:
            line_eol = lines[i][len(lines[i].rstrip("\r\n")) :] or eol
            # drop continuation lines of the old value
            j = i + 1
            while j < end and lines[j][:1] in (" ", "\t") and lines[j].strip():
                j += 1
            lines[i:j] = [f"{key} {match['sep']} {value}{line_eol}"]
            return "".join(lines)
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    if insert_at > 0 and not lines[insert_at - 1].endswith(("\n", "\r")):
        lines[insert_at - 1] += eol
    lines.insert(insert_at, f"{key} = {value}{eol}")
    return "".join(lines)


# --- locating the configuration -----------------------------------------------------------------


def _toml_pytest_tables(doc: Any) -> tuple[str, Any] | None:
    pytest_table = doc.get("tool", {}).get("pytest")
    if pytest_table is None:
        return None
    if "ini_options" in pytest_table:
        return "tool.pytest.ini_options", pytest_table["ini_options"]
    return "tool.pytest", pytest_table


def find_config(tree: ProjectTree, edits: EditSet | None = None) -> PytestConfig:
    def read(rel: str) -> str | None:
        if edits is not None:
            return edits.get(rel)
        return tree.read(rel) if tree.path(rel).is_file() else None

    for rel in ("pytest.ini", ".pytest.ini"):
        text = read(rel)
        if text is not None:
            return PytestConfig(rel, "ini", "pytest", read_ini_section(text, "pytest") or {})
    for rel in ("pytest.toml", ".pytest.toml"):
        text = read(rel)
        if text is not None:
            doc = tomlkit.parse(text).unwrap()
            return PytestConfig(rel, "toml", "pytest", dict(doc.get("pytest", {})))
    text = read("pyproject.toml")
    if text is not None:
        found = _toml_pytest_tables(tomlkit.parse(text).unwrap())
        if found:
            return PytestConfig("pyproject.toml", "toml", found[0], dict(found[1]))
    for rel, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        text = read(rel)
        if text is not None:
            values = read_ini_section(text, section)
            if values is not None:
                return PytestConfig(rel, "ini", section, values)
    if read("pyproject.toml") is not None:
        return PytestConfig("pyproject.toml", "toml", "tool.pytest.ini_options", {})
    return PytestConfig(None, "none", "pytest", {})


def set_options(
    tree: ProjectTree,
    edits: EditSet,
    options: dict[str, str],
    rule: str,
    upgrade: str,
    reasons: dict[str, str] | None = None,
) -> None:
    """Write `options` into the table pytest reads (creating pytest.ini if there is none)."""
    config = find_config(tree, edits)
    rel = config.path or "pytest.ini"
    text = edits.get(rel) or ""
    changes: list[Change] = []
    new = text
    if config.kind == "toml":
        doc = tomlkit.parse(text)
        table = doc
        for part in config.section.split("."):
            if part not in table:
                if table is doc and part == "tool":
                    table[part] = tomlkit.table(is_super_table=True)
                else:
                    table[part] = tomlkit.table()
            table = table[part]
        for key, value in options.items():
            if str(table.get(key, "")) != value:
                table[key] = value
                changes.append(
                    Change(
                        rule,
                        0,
                        f"{config.section}: {key} = {value!r}"
                        + (f" ({reasons[key]})" if reasons and key in reasons else ""),
                    )
                )
        new = tomlkit.dumps(doc)
    else:
        section = config.section if config.kind == "ini" else "pytest"
        current = read_ini_section(text, section) or {}
        for key, value in options.items():
            if current.get(key) != value:
                new = set_ini_option(new, section, key, value)
                changes.append(
                    Change(
                        rule,
                        0,
                        f"[{section}] {key} = {value}"
                        + (f" ({reasons[key]})" if reasons and key in reasons else ""),
                    )
                )
    if changes and new != text:
        for change in changes:
            key = change.message.split(" = ")[0].split()[-1]
            change.line = _line_of_key(new, key)
        edits.set(rel, new, changes, upgrade)


def _line_of_key(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^\s*{re.escape(key)}\s*[=:]", line):
            return number
    return 0
