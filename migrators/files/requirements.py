"""Table-driven requirements rewriter.

Files: every ``requirements*.txt`` / ``requirements/*.txt`` / ``constraints*.txt`` of the tree,
every file a Dockerfile installs (``pip install -r X`` / ``-c X``), following ``-r``/``-c``
includes, plus ``pyproject.toml`` ``[project] dependencies`` and ``optional-dependencies``
(through tomlkit, format-preserving) and package arguments of ``pip install`` lines in
Dockerfiles. Comments, environment markers, extras, indentation and unrelated lines are kept.

Each upgrade contributes :class:`RequirementRule` rows (``Upgrade.requirement_rules``), for example
``RequirementRule("XX-1", "old-client", rename_to="new-client", version="2.0.0")``; the runner
passes them here with the name of the upgrade that owns each row.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import tomlkit

from migrators.core.results import Change, marker_text
from migrators.core.tree import EditSet, ProjectTree
from migrators.core.versions import parse_version, version_at_least

_REQ = re.compile(
    r"^(?P<indent>\s*)(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\s*\[[^\]]*\])?"
    r"(?P<spec>[^;#]*?)(?P<marker>\s*;[^#]*?)?(?P<comment>\s+#.*)?(?P<eol>\r?\n?)$"
)
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(?P<path>\S+)")
_REQ_FILE_NAME = re.compile(
    r"(^|/)(requirements[^/]*\.(txt|in)|constraints[^/]*\.txt|requirements/[^/]+\.(txt|in))$"
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class RequirementRule:
    """One row of the requirements table.

    package: the distribution to look for (normalised name). rename_to: new distribution name.
    version: target release; written as ==version when the line was pinned with ==, else as
    >=version,<next-major. spec: an explicit specifier instead (e.g. ">=2.1,<3").
    extras: None keeps the line's extras; a set replaces them. remove: drop the line.
    forced: only raise a pin that allows versions below `spec`, never add the package.
    companion: a requirement line added after the rewritten one unless its package is already
    listed (e.g. a pyarrow ceiling the new package needs to stay importable beside NumPy 1.x).
    """

    rule: str
    package: str
    rename_to: str | None = None
    version: str | None = None
    spec: str | None = None
    extras: frozenset[str] | None = None
    remove: bool = False
    forced: bool = False
    companion: str | None = None


@dataclass(frozen=True)
class PythonFloor:
    """The lowest Python an upgrade's target release supports: (upgrade, rule id, floor, target)."""

    upgrade: str
    rule: str
    floor: str
    target: str


@dataclass
class Requirement:
    indent: str
    name: str
    extras: str  # raw, e.g. "[pandas]" or ""
    spec: str  # raw, e.g. "==0.21.1" (with its leading whitespace)
    marker: str  # raw, e.g. " ; python_version < '3.12'"
    comment: str
    eol: str

    @classmethod
    def parse(cls, line: str) -> Requirement | None:
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or "://" in stripped or " @ " in stripped:
            return None
        match = _REQ.match(line)
        if not match:
            return None
        spec = match["spec"] or ""
        if spec.strip() and not re.match(r"^\s*(===|==|~=|!=|<=|>=|<|>)", spec):
            return None
        return cls(
            match["indent"],
            match["name"],
            match["extras"] or "",
            spec,
            match["marker"] or "",
            match["comment"] or "",
            match["eol"],
        )

    @property
    def key(self) -> str:
        return normalize(self.name)

    def extras_set(self) -> frozenset[str]:
        inner = self.extras.strip()[1:-1] if self.extras.strip() else ""
        return frozenset(e.strip() for e in inner.split(",") if e.strip())

    def render(self) -> str:
        return f"{self.indent}{self.name}{self.extras}{self.spec}{self.marker}{self.comment}{self.eol}"

    def requirement_text(self) -> str:
        return f"{self.name}{self.extras}{self.spec}{self.marker}".strip()


def bounds(spec: str) -> tuple[str | None, str | None]:
    """(lowest allowed version, exclusive/inclusive upper bound) of a specifier, roughly."""
    lower = upper = None
    for part in spec.split(","):
        part = part.strip()
        match = re.match(r"(===|==|~=|>=|<=|>|<|!=)\s*([0-9][^\s]*)", part)
        if not match:
            continue
        op, ver = match.groups()
        ver = ver.rstrip(".*")
        if op in ("==", "===", "~=", ">=", ">"):
            lower = ver if lower is None or version_at_least(ver, lower) else lower
            if op in ("==", "==="):
                upper = ver
        elif op in ("<", "<="):
            upper = ver if upper is None or version_at_least(upper, ver) else upper
    return lower, upper


def spec_allows_floor(spec: str, forced_spec: str) -> bool:
    """True when `spec` already guarantees `forced_spec`'s floor and does not exclude it entirely."""
    floor, ceiling = bounds(forced_spec)
    lower, upper = bounds(spec)
    if floor is None:
        return True
    if lower is None and upper is None:
        return True  # unpinned: the resolver picks a compatible release
    if lower is not None and not version_at_least(lower, floor):
        return False
    if upper is not None and not version_at_least(upper, floor):
        return False
    if ceiling is not None and lower is not None and version_at_least(lower, ceiling):
        return False
    return True


def target_spec(old_spec: str, version: str) -> str:
    """`==version` when the line was pinned exactly, else `>=version,<next-major`."""
    if re.match(r"^\s*(==|===)\s*", old_spec):
        return f"=={version}"
    major = parse_version(version)[0] if parse_version(version) else 0
    return f">={version},<{major + 1}"


def _format_spec(old_spec: str, new: str) -> str:
    lead = re.match(r"^\s*", old_spec).group() if old_spec else ""
    trail = re.search(r"\s*$", old_spec).group() if old_spec else ""
    return f"{lead}{new}{trail}"


def apply_rules_to_requirement(
    req: Requirement, rules: Sequence[RequirementRule], present: set[str]
) -> tuple[Requirement | None, RequirementRule | None, str]:
    """(new requirement or None to drop, the rule used, message). No rule: (req, None, "")."""
    for rule in rules:
        if normalize(rule.package) != req.key:
            continue
        before = req.requirement_text()
        if rule.remove or (rule.rename_to and normalize(rule.rename_to) in present):
            return None, rule, f"dropped {before}"
        new = Requirement(**req.__dict__)
        if rule.forced:
            if spec_allows_floor(req.spec, rule.spec or ""):
                return req, None, ""
            new.spec = _format_spec(req.spec, rule.spec or "")
        else:
            if rule.rename_to:
                new.name = rule.rename_to
            if rule.extras is not None:
                new.extras = f"[{','.join(sorted(rule.extras))}]" if rule.extras else ""
            if rule.spec:
                new.spec = _format_spec(req.spec, rule.spec)
            elif rule.version:
                lower, _ = bounds(req.spec)
                if (
                    rule.rename_to is None
                    and lower
                    and version_at_least(lower, rule.version)
                    and not re.match(r"^\s*==", req.spec)
                ):
                    pass  # already at or above the target
                else:
                    new.spec = _format_spec(req.spec, target_spec(req.spec, rule.version))
        if new.render() == req.render():
            return req, None, ""
        return new, rule, f"{before} -> {new.requirement_text()}"
    return req, None, ""


def rewrite_requirements_text(
    text: str, rules: Sequence[RequirementRule]
) -> tuple[str, list[tuple[str, int, str]]]:
    """Rewrite a requirements file's text. Returns (new text, [(rule, line, message)])."""
    lines = text.splitlines(keepends=True)
    present = {r.key for r in (Requirement.parse(line) for line in lines) if r is not None}
    out: list[str] = []
    changes: list[tuple[str, int, str]] = []
    for number, line in enumerate(lines, 1):
        req = Requirement.parse(line) if not line.rstrip("\r\n").endswith("\\") else None
        if req is None:
            out.append(line)
            continue
        new, rule, message = apply_rules_to_requirement(req, rules, present)
        if rule is None:
            out.append(line)
            continue
        changes.append((rule.rule, number, message))
        if new is not None:
            out.append(new.render())
            present.add(new.key)
            _add_companion(rule, new, number, present, out, changes)
    return "".join(out), changes


def _add_companion(
    rule: RequirementRule,
    req: Requirement,
    number: int,
    present: set[str],
    out: list[str],
    changes: list[tuple[str, int, str]],
) -> None:
    companion = Requirement.parse(rule.companion) if rule.companion else None
    if companion is None or companion.key in present:
        return
    if req.eol:
        out.append(f"{req.indent}{companion.requirement_text()}{req.eol}")
    else:  # the rewritten line was the file's last, without a newline: keep it that way
        out[-1] += f"\n{req.indent}{companion.requirement_text()}"
    present.add(companion.key)
    changes.append((rule.rule, number, f"added {companion.requirement_text()}"))


# --- discovery ----------------------------------------------------------------------------------


def _pip_install_files(dockerfile_text: str) -> list[str]:
    files = []
    logical = re.sub(r"\\\r?\n", " ", dockerfile_text)
    for line in logical.splitlines():
        if "pip" not in line or "install" not in line:
            continue
        try:
            words = shlex.split(line, comments=False, posix=True)
        except ValueError:
            words = line.split()
        for i, word in enumerate(words):
            if word in ("-r", "--requirement", "-c", "--constraint") and i + 1 < len(words):
                files.append(words[i + 1])
            elif re.match(r"^(--requirement|--constraint)=", word):
                files.append(word.split("=", 1)[1])
            elif re.match(r"^-[rc]\S", word):
                files.append(word[2:])
    return files


def _resolve_in_tree(tree: ProjectTree, base_dir: str, ref: str) -> str | None:
    """Map a path named in a Dockerfile or an include onto a file of the tree."""
    all_files = set(tree.files())
    candidate = (PurePosixPath(base_dir) / ref) if base_dir else PurePosixPath(ref)
    parts = [p for p in PurePosixPath(str(candidate)).parts if p not in (".", "/")]
    norm: list[str] = []
    for p in parts:
        if p == "..":
            if norm:
                norm.pop()
        else:
            norm.append(p)
    if "/".join(norm) in all_files:
        return "/".join(norm)
    # container paths such as /app/requirements-prod.txt: try shorter suffixes
    ref_parts = [p for p in PurePosixPath(ref).parts if p not in ("/", ".", "..")]
    for start in range(len(ref_parts)):
        suffix = "/".join(ref_parts[start:])
        for prefix in (base_dir, ""):
            cand = f"{prefix}/{suffix}" if prefix else suffix
            if cand in all_files:
                return cand
    return None


def dockerfiles(tree: ProjectTree) -> list[str]:
    return [
        f for f in tree.files() if re.search(r"(^|/)(Dockerfile[^/]*|[^/]*\.Dockerfile|Containerfile)$", f)
    ]


def requirement_files(tree: ProjectTree) -> list[str]:
    """Every requirements file of the tree and every file the Dockerfiles install, with includes."""
    found: list[str] = [f for f in tree.files() if _REQ_FILE_NAME.search(f)]
    for dockerfile in dockerfiles(tree):
        base = str(PurePosixPath(dockerfile).parent)
        base = "" if base == "." else base
        for ref in _pip_install_files(tree.read(dockerfile)):
            resolved = _resolve_in_tree(tree, base, ref)
            if resolved and resolved not in found:
                found.append(resolved)
    queue = list(found)
    while queue:
        current = queue.pop()
        base = str(PurePosixPath(current).parent)
        base = "" if base == "." else base
        for line in tree.read(current).splitlines():
            match = _INCLUDE.match(line)
            if match:
                resolved = _resolve_in_tree(tree, base, match["path"])
                if resolved and resolved not in found:
                    found.append(resolved)
                    queue.append(resolved)
    return found


def _pyproject_dependency_arrays(doc: Any) -> list[Any]:
    arrays = []
    project = doc.get("project")
    if project is not None:
        if "dependencies" in project:
            arrays.append(project["dependencies"])
        for _, arr in (project.get("optional-dependencies") or {}).items():
            arrays.append(arr)
    for _, arr in (doc.get("dependency-groups") or {}).items():
        arrays.append(arr)
    return arrays


def declared_packages(tree: ProjectTree) -> set[str]:
    """Normalised names of every package the tree's requirements/pyproject/Dockerfiles declare."""
    names: set[str] = set()
    for rel in requirement_files(tree):
        for line in tree.read(rel).splitlines():
            req = Requirement.parse(line)
            if req:
                names.add(req.key)
    for rel in tree.files():
        if rel.endswith("pyproject.toml"):
            try:
                doc = tomlkit.parse(tree.read(rel))
            except Exception:
                continue
            for arr in _pyproject_dependency_arrays(doc):
                for item in arr:
                    req = Requirement.parse(str(item))
                    if req:
                        names.add(req.key)
    for dockerfile in dockerfiles(tree):
        for _, req in _dockerfile_inline_requirements(tree.read(dockerfile)):
            names.add(req.key)
    for rel in declaration_files(tree):  # Poetry, Pipfile, setup.cfg/.py: detected, then marked
        names |= {package for _, package in declared_lines(rel, tree.read(rel))}
    return names


def _dockerfile_inline_requirements(text: str) -> list[tuple[int, Requirement]]:
    """(line number, requirement) for package arguments of `pip install` in a Dockerfile."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if "install" not in line:
            continue
        for word in re.findall(
            r"(?<![\w/=.-])['\"]?([A-Za-z][\w.-]*(?:\[[\w,.-]+\])?(?:===|==|~=|>=|<=|!=|<|>)[^\s'\"\\;&|]+)['\"]?",
            line,
        ):
            req = Requirement.parse(word)
            if req:
                found.append((number, req))
    return found


# --- the rewriter the framework calls ---------------------------------------------------------


def rewrite_requirements(
    tree: ProjectTree, owned_rules: Sequence[tuple[str, RequirementRule]], edits: EditSet
) -> None:
    """Apply every (owning upgrade, row) to the tree's requirements files, pyproject and Dockerfiles."""
    rules = [rule for _, rule in owned_rules]
    if not rules:
        return
    by_rule: dict[str, str] = {}
    for upgrade, rule in owned_rules:
        by_rule.setdefault(rule.rule, upgrade)
    for rel in requirement_files(tree):
        text = edits.get(rel)
        if text is None:
            continue
        new, changes = rewrite_requirements_text(text, rules)
        if changes:
            for rule_id, line, message in changes:
                edits.set(rel, new, [Change(rule_id, line, message)], by_rule.get(rule_id, "requirements"))
    for rel in [f for f in tree.files() if f.endswith("pyproject.toml")]:
        text = edits.get(rel)
        if text is None:
            continue
        try:
            doc = tomlkit.parse(text)
        except Exception as exc:
            edits.error(rel, f"TOML parse error: {exc}", getattr(exc, "line", None))
            continue
        changed: list[Change] = []
        for arr in _pyproject_dependency_arrays(doc):
            present = {r.key for r in (Requirement.parse(str(i)) for i in arr) if r}
            drop = []
            for index, item in enumerate(list(arr)):
                req = Requirement.parse(str(item))
                if req is None:
                    continue
                new_req, rule, message = apply_rules_to_requirement(req, rules, present)
                if rule is None:
                    continue
                line = _line_of(text, str(item))
                changed.append(Change(rule.rule, line, message))
                if new_req is None:
                    drop.append(index)
                else:
                    arr[index] = new_req.requirement_text()
                    present.add(new_req.key)
            for index in reversed(drop):
                del arr[index]
        if changed:
            new_text = tomlkit.dumps(doc)
            for change in changed:
                edits.set(rel, new_text, [change], by_rule.get(change.rule, "requirements"))
    for rel in dockerfiles(tree):
        text = edits.get(rel)
        if text is None:
            continue
        new_text, changes = _rewrite_dockerfile_inline(text, rules)
        for rule_id, line, message in changes:
            edits.set(rel, new_text, [Change(rule_id, line, message)], by_rule.get(rule_id, "requirements"))


def _rewrite_dockerfile_inline(
    text: str, rules: Sequence[RequirementRule]
) -> tuple[str, list[tuple[str, int, str]]]:
    lines = text.splitlines(keepends=True)
    changes = []
    for number, req in _dockerfile_inline_requirements(text):
        new, rule, message = apply_rules_to_requirement(req, rules, set())
        if rule is None:
            continue
        old_text = req.requirement_text()
        replacement = new.requirement_text() if new is not None else ""
        lines[number - 1] = lines[number - 1].replace(old_text, replacement, 1)
        changes.append((rule.rule, number, message))
    return "".join(lines), changes


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 0


# --- Python floor (a target release that drops old Pythons) --------------------------------------

_FROM_PYTHON = re.compile(
    r"^(?P<indent>\s*)FROM\s+(?:--platform=\S+\s+)?(?:[\w.-]+/)*python:(?P<ver>\d+\.\d+)", re.I
)


def rewrite_python_floor(tree: ProjectTree, floors: Sequence[PythonFloor], edits: EditSet) -> None:
    """Raise `requires-python` below the targets' floor; mark a Dockerfile whose python: image is older.

    The image is never bumped automatically (other dependencies may not follow): a marker above the
    FROM line tells the user which Python the target releases need.
    """
    if not floors:
        return
    highest = max(floors, key=lambda f: parse_version(f.floor))
    upgrade, rule, floor = highest.upgrade, highest.rule, highest.floor
    for rel in dockerfiles(tree):
        text = edits.get(rel)
        if text is None:
            continue
        lines = text.splitlines(keepends=True)
        out, changes = [], []
        for number, line in enumerate(lines, 1):
            match = _FROM_PYTHON.match(line)
            if match and not version_at_least(match["ver"], floor):
                instruction = (
                    f"{upgrade} {highest.target} needs Python >= {floor}; "
                    f"this image uses python:{match['ver']}: move the service to python:{floor} or newer"
                )
                marker = marker_text(rule, instruction)
                if not (out and out[-1].strip() == marker):
                    out.append(f"{match['indent']}{marker}\n")
                    changes.append(Change(rule, number, instruction, "marker"))
            out.append(line)
        if changes:
            edits.set(rel, "".join(out), changes, upgrade)
    for rel in [f for f in tree.files() if f.endswith("pyproject.toml")]:
        text = edits.get(rel)
        if text is None:
            continue
        try:
            doc = tomlkit.parse(text)
        except Exception:
            continue
        project = doc.get("project")
        if project is None or "requires-python" not in project:
            continue
        spec = str(project["requires-python"])
        lower, _ = bounds(spec)
        if lower is None or version_at_least(lower, floor):
            continue
        new_spec = re.sub(r"(>=|~=|==|>)\s*[0-9][0-9.*]*", f">={floor}", spec, count=1)
        project["requires-python"] = new_spec
        edits.set(
            rel,
            tomlkit.dumps(doc),
            [Change(rule, _line_of(text, "requires-python"), f"requires-python {spec} -> {new_spec}")],
            upgrade,
        )


# --- declarations the rewriter does not rewrite: Poetry, Pipfile, setup.cfg, setup.py --------------
#
# Code migrated while an old pin stays in one of these is an ImportError at run time (a probe: code of
# the new client beside `old-client = "^0.16.1"` in [tool.poetry.dependencies], no marker). Their formats hold
# specifiers the table does not write (`^0.16`, `{version = ..., extras = [...]}`), so each declaration
# of a package a rule changes gets a marker naming what to write instead.

_POETRY_SECTION = re.compile(r"^tool\.poetry(\.group\.[^.\]]+)?\.(dev-)?dependencies(\.(?P<pkg>[^.\]]+))?$")
_PIPFILE_SECTIONS = ("packages", "dev-packages")
_CFG_KEYS = ("install_requires", "tests_require", "setup_requires")
# a quoted key is the whole name (`"zope.interface" = ...`); a bare key ends at a dot, which makes
# it a dotted key (`some-package.version = "^8.2"` declares some-package)
_TOML_KEY = re.compile(r"""^\s*(?:"(?P<quoted>[^"]+)"|'(?P<single>[^']+)'|(?P<bare>[A-Za-z0-9_-]+))\s*[=.]""")
_STRING_REQ = re.compile(
    r"""["'](?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]'"]*\])?\s*(?:[<>=!~;][^"']*)?["']"""
)


def declaration_files(tree: ProjectTree) -> list[str]:
    """The files declaring dependencies in a format the rewriter leaves as it is."""
    names = ("pyproject.toml", "Pipfile", "setup.cfg", "setup.py")
    return [rel for rel in tree.files() if PurePosixPath(rel).name in names]


def declared_lines(rel: str, text: str) -> list[tuple[int, str]]:
    """(line index, normalised package) of each dependency this file declares where the rewriter does
    not reach: Poetry's dependency tables, a Pipfile's packages, setup.cfg's install/test requirements
    and extras, setup.py's requirement strings. pyproject's [project] tables are the rewriter's own."""
    name = PurePosixPath(rel).name
    lines = text.splitlines()
    if name == "setup.py":
        return [(i, normalize(m["name"])) for i, line in enumerate(lines) for m in _STRING_REQ.finditer(line)]
    if name == "setup.cfg":
        return _cfg_lines(lines)
    return _toml_lines(lines, pipfile=name == "Pipfile")


def _toml_lines(lines: list[str], pipfile: bool) -> list[tuple[int, str]]:
    found, inside = [], False
    for index, line in enumerate(lines):
        header = re.match(r"^\s*\[(?P<section>[^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            section = header["section"].strip().strip('"')
            poetry = None if pipfile else _POETRY_SECTION.match(section)
            inside = bool(pipfile and section in _PIPFILE_SECTIONS) or bool(poetry and not poetry["pkg"])
            if poetry and poetry["pkg"]:  # [tool.poetry.dependencies.some-package]
                found.append((index, normalize(poetry["pkg"].strip('"'))))
            continue
        key = _TOML_KEY.match(line) if inside else None
        if key:
            found.append((index, normalize(key["quoted"] or key["single"] or key["bare"])))
    return found


def _cfg_lines(lines: list[str]) -> list[tuple[int, str]]:
    found, section, key = [], "", None
    for index, line in enumerate(lines):
        if re.match(r"^\s*\[.+\]\s*$", line):
            section, key = line.strip()[1:-1].strip(), None
            continue
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if not line[0].isspace():  # `key = value` starts a value; indented lines continue it
            key, _, value = (part.strip() for part in line.partition("="))
        else:
            value = line.strip()
        wanted = section == "options.extras_require" or (section == "options" and key in _CFG_KEYS)
        req = Requirement.parse(value) if wanted and value else None
        if req:
            found.append((index, req.key))
    return found


def mark_unrewritten_declarations(
    tree: ProjectTree, owned_rules: Sequence[tuple[str, RequirementRule]], edits: EditSet
) -> None:
    """A marker above each declaration, in a file the rewriter does not rewrite, of a package a rule
    renames, removes or moves to a new version (never twice: a marker already above is kept). setup.py
    is Python: the runner marks it on the text the codemods leave (mark_declarations)."""
    for rel in declaration_files(tree):
        text = edits.get(rel)
        if text is None or rel.endswith(".py"):
            continue
        new_text, changes = mark_declarations(rel, text, owned_rules)
        for upgrade, found in changes.items():
            edits.set(rel, new_text, found, upgrade)


def mark_declarations(
    rel: str, text: str, owned_rules: Sequence[tuple[str, RequirementRule]]
) -> tuple[str, dict[str, list[Change]]]:
    """The text with a marker above each declaration of a package a rule changes; the markers per upgrade."""
    # a forced row (a floor another package needs, `pytest>=8.4`) is applied to a line it can rewrite,
    # never marked: it only raises a pin, and adds no package
    rules = {normalize(rule.package): (upgrade, rule) for upgrade, rule in owned_rules}
    lines = text.splitlines(keepends=True)
    changes: dict[str, list[Change]] = {}
    declared = declared_lines(rel, text)
    present = {package for _, package in declared}
    for index, package in reversed(declared):
        if package not in rules:
            continue
        upgrade, rule = rules[package]
        instruction = _declaration_instruction(rule)
        marker = marker_text(rule.rule, instruction)
        rewritten = _rewrite_string_entry(lines[index], rule, present)
        if rewritten is not None:
            new_line, message = rewritten
            if index and lines[index - 1].strip() == marker:  # an earlier run's marker: acted on now
                del lines[index - 1]
                index -= 1
            if message:  # else the declaration already asks for what the rule would write
                lines[index] = new_line
                changes.setdefault(upgrade, []).append(Change(rule.rule, index + 1, message))
            continue
        if rule.forced or (index and lines[index - 1].strip() == marker):
            continue
        indent = re.match(r"^\s*", lines[index]).group()
        lines.insert(index, f"{indent}{marker}\n")
        changes.setdefault(upgrade, []).append(Change(rule.rule, index + 1, instruction, "marker"))
    return "".join(lines), changes


# `name = "<spec>"` with nothing else on the line but a comment: the one form of a Poetry or Pipfile
# declaration whose rewrite keeps the format (an inline table, a dotted key or a sub-table is marked)
_STRING_ENTRY = re.compile(
    r"""^(?P<indent>\s*)(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<eq>\s*=\s*)(?P<q>["'])(?P<spec>[^"'\n]*)(?P=q)"""
    r"""(?P<rest>\s*(?:#[^\n]*)?)(?P<eol>\r?\n?)$"""
)
# Poetry's own forms, read as the PEP 440 range whose lower bound they give: `^1.2` and `~1.2` both
# start at 1.2, a bare version is an exact pin, `*` allows all
_POETRY_RANGE = re.compile(r"^\s*[\^~](?!=)\s*(?P<version>[0-9][0-9A-Za-z.]*)\s*$")
_BARE_VERSION = re.compile(r"^\s*(?P<version>[0-9][0-9A-Za-z.]*)\s*$")
_PEP440 = re.compile(r"^\s*(?:(?:===|==|~=|!=|<=|>=|<|>)\s*[0-9][0-9A-Za-z.*+!-]*\s*,?\s*)+$")


def _as_pep440(spec: str) -> str | None:
    """A Poetry/Pipfile version string as a PEP 440 specifier (None for forms not handled: `||`, `1.*`)."""
    if spec.strip() in ("", "*"):
        return ""
    for pattern, form in ((_POETRY_RANGE, ">={}"), (_BARE_VERSION, "=={}")):
        match = pattern.match(spec)
        if match:
            return form.format(match["version"])
    return spec.strip() if _PEP440.match(spec) else None


def _rewrite_string_entry(line: str, rule: RequirementRule, present: set[str]) -> tuple[str, str] | None:
    """(the line with the rule applied, message) for a `name = "<spec>"` declaration whose new form is
    again a name and a PEP 440 string (Poetry and Pipenv both read one); the line and "" where it
    already satisfies the rule; None where the rule needs more than that (extras, a companion package,
    a removal) or the line is another form."""
    entry = _STRING_ENTRY.match(line)
    spec = _as_pep440(entry["spec"]) if entry else None
    if entry is None or spec is None or rule.remove or rule.companion:
        return None
    req = Requirement("", entry["name"], "", spec, "", "", "")
    new, used, message = apply_rules_to_requirement(req, [rule], present - {req.key})
    if used is None and new is req and not rule.rename_to:
        return line, ""
    if used is None or new is None or new.extras:
        return None
    value = entry["q"] + new.spec.strip() + entry["q"]
    return f"{entry['indent']}{new.name}{entry['eq']}{value}{entry['rest']}{entry['eol']}", message


def _declaration_instruction(rule: RequirementRule) -> str:
    if rule.remove:
        return (
            f"{rule.package} is declared here, where the migration does not rewrite dependencies: remove it"
        )
    wanted = rule.rename_to or rule.package
    spec = rule.spec or (f">={rule.version}" if rule.version else "")
    return (
        f"{rule.package} is declared here, where the migration does not rewrite dependencies: "
        f"declare {wanted}{spec} instead (the migrated code needs it)"
    )
