"""Score the codemods on the corpus of real-shaped services (issue 11).

The corpus (`tests/migrators/corpus/<service>/`) is input data: services written the way production code
uses influxdb-client, each interesting line labelled in `manifest.json` with its kind, shape tags and
the expected outcome. This module copies the corpus to a temporary directory, runs `python -m migrators`
on it (per service, a second time for idempotence, and once on a root holding every service), then
classifies every site as translated / marked / silent (or removed / lost / corrupted / touched).

Shared by `tests/migrators/test_corpus.py` and `bench/score_corpus.py`; stdlib only.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import shutil
import subprocess
import symtable
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = CORPUS / "manifest.json"
# Files of the monorepo itself (a repo-level pyproject.toml beside the services' own pytest config),
# placed at the root of the whole-monorepo run: the codemods must leave them as they are.
MONOREPO_ROOT = CORPUS / "_monorepo_root"
REPO_ROOT = Path(__file__).resolve().parents[2]
MARKER = "MIGRATION-BLOCKER("
SITE_COMMENT = re.compile(r"#\s*site:\s*([a-z]+-[a-z]\d+)\b")

# Old-API shapes per site kind. "strong" is old API wherever it appears; "weak" is an old-API *name*
# (e.g. an attribute still called `write_api`) that counts as converted only beside new-API evidence.
FLUX = [
    r"from\s*\(\s*bucket",
    r"\|>",
    r"schema\.(measurements|tagValues|tagKeys|fieldKeys)\s*\(",
    r'import\s+\\?"influxdata',
    r"r\._(measurement|field|value)\b",
    r"\br\.[A-Za-z_]\w*\s*(==|!=|>=|<=|>|<)",  # a Flux predicate on the row
    r"""\br\[\s*\\?["']\w+\\?["']\s*\]\s*(==|!=|>=|<=|>|<)""",  # the same, bracket style (Data Explorer)
    r"\baggregateWindow\s*\(",
    r"\brange\s*\(\s*start\s*:",
]
RESULTS = [
    r"\.records\b",
    r"\bget_(value|time|field|measurement|start|stop)\s*\(",
    r"\.values\s*\.\s*get\s*\(",
    r"\.values\s*\[",
    r"\bto_values\s*\(",
]
CLIENT = [
    r"\bInfluxDBClient\b",
    r"\bInfluxDBClientAsync\b",
    r"\binfluxdb_client\b",
    r"\b(query|write|delete)_api\s*\(",
    r"\b(org|url)\s*=",
    r"\b(QueryApi|WriteApi)\b",
]
# Names both libraries export (influxdb_client_3 has its own WriteOptions): old only without new evidence.
SHARED_NAMES = [r"\bWriteOptions\b", r"\b(A?SYNCHRONOUS)\b"]
OLD_SHAPES: dict[str, tuple[list[str], list[str]]] = {
    "flux-query": (FLUX, []),
    "flux-assert": (FLUX, []),
    "query-call": (
        [
            r"\borg\s*=",
            r"\bbucket\s*=",
            r"\bparams\s*=",  # Flux parameters; influxdb3-python takes query_parameters=
            r"\bquery_api\s*\(",
            r"\.query_(data_frame|stream|csv|raw)\s*\(",
            *RESULTS,
        ],
        [r"\bquery_api\b"],
    ),
    "result-loop": (RESULTS, []),
    # `query_api = client` is a converted line: an API *name* left on a client is not an old shape here.
    "client": (CLIENT, SHARED_NAMES),
    "write": (
        [r"\bbucket\s*=", r"\borg\s*=", r"\bwrite_api\s*\("],
        [r"\b_?write_api\b", r"\bbatch\.", r"\bwriter\b", *SHARED_NAMES],
    ),
    "delete": ([r"\bdelete_api\b", r"\.delete\s*\(", r"\bpredicate\s*="], []),
    "mock": (
        [
            *CLIENT,
            r"\.records\b",
            r"\brecords\s*=",
            r"\b(query|write)_api\b",
            r"\bidbc\b",
            r"""\[\s*["'](org|bucket)["']\s*\]""",
        ],
        [],
    ),
    "raw-http": ([r"/api/v2/", r"vnd\.flux", r"""["']type["']\s*:\s*["']flux""", *FLUX], []),
}
NEW_EVIDENCE = r"\b(database|language)\s*=|to_pylist|InfluxDBClient3|influxdb_client_3"
SQL_EVIDENCE = r"(?i)\b(select|show)\b|information_schema"
# A file whose original text has none of these, and no labelled site, never touched InfluxDB: any
# marker there is false.
INFLUX_RELATED = re.compile(r"influx|flux|query_api|write_api|delete_api|from\(bucket|_execute_query", re.I)

FAILING = ("silent", "removed", "lost", "corrupted")


@dataclass(frozen=True)
class Site:
    id: str
    service: str
    file: str  # relative to the service folder
    kind: str
    expect: str  # translate | mark | untouched
    tags: tuple[str, ...]
    snippet: str  # a substring of the site statement's first line in the corpus source
    scope: str  # qualified name of the enclosing function/class ("" at module level)

    @property
    def path(self) -> str:
        return f"{self.service}/{self.file}"


@dataclass
class SiteResult:
    site: Site
    outcome: str  # translated | marked | silent | removed | lost | corrupted | untouched | touched
    located_by: str  # comment | snippet | scope | -
    detail: str = ""


@dataclass
class MigratorRun:
    path: str
    returncode: int
    stderr: str
    report: dict | None


@dataclass
class Score:
    sites: list[SiteResult]
    corrupted_files: list[str]
    new_undefined: list[str]  # "service/file: scope: name"
    idempotence_diffs: list[str]
    root_idempotence_diffs: list[str]
    root_vs_per_service: list[str]
    markers_total: int
    false_markers: list[str]
    runs: list[MigratorRun] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[SiteResult]:
        return [r for r in self.sites if r.site.kind in kinds]

    @property
    def flux_sites(self) -> list[SiteResult]:
        return self.of_kind("flux-query")

    @property
    def api_sites(self) -> list[SiteResult]:
        return [r for r in self.sites if r.site.expect != "untouched"]

    @property
    def silent(self) -> list[SiteResult]:
        return [r for r in self.api_sites if r.outcome in FAILING]

    @property
    def flux_translated_ratio(self) -> float:
        flux = self.flux_sites
        return sum(r.outcome == "translated" for r in flux) / len(flux) if flux else 0.0

    @property
    def false_marker_ratio(self) -> float:
        return len(self.false_markers) / self.markers_total if self.markers_total else 0.0

    @property
    def unexpected_translations(self) -> list[SiteResult]:
        """Rewritten where only a marker is right (e.g. a call under InfluxDBClientAsync made sync)."""
        return [r for r in self.api_sites if r.outcome == "translated" and r.site.expect == "mark"]

    @property
    def unexpected_markers(self) -> list[SiteResult]:
        return [r for r in self.api_sites if r.outcome == "marked" and r.site.expect == "translate"]

    @property
    def touched_distractors(self) -> list[SiteResult]:
        return [r for r in self.sites if r.site.expect == "untouched" and r.outcome != "untouched"]


# ---------------------------------------------------------------- manifest


def load_manifest(path: Path = MANIFEST) -> list[Site]:
    data = json.loads(path.read_text())
    return [
        Site(
            id=s["id"],
            service=s["service"],
            file=s["file"],
            kind=s["kind"],
            expect=s["expect"],
            tags=tuple(s["tags"]),
            snippet=s["snippet"],
            scope=s["scope"],
        )
        for s in data["sites"]
    ]


def services(sites: list[Site]) -> list[str]:
    return sorted({s.service for s in sites})


# ---------------------------------------------------------------- locating a site in (migrated) source


def _statements(tree: ast.AST) -> list[ast.stmt]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]


def first_line(stmt: ast.stmt) -> int:
    """A decorated definition starts at its first decorator (a `@patch(...)` line is part of it)."""
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _statement_at(stmts: list[ast.stmt], line: int, own_line: bool) -> ast.stmt | None:
    """The statement a site comment on `line` labels: the next statement for a comment on its own line,
    the innermost statement spanning the line for a trailing comment (or a snippet hit)."""
    if own_line:
        after = [s for s in stmts if first_line(s) > line]
        if not after:
            return None
        first = min(first_line(s) for s in after)
        return max((s for s in after if first_line(s) == first), key=lambda s: s.end_lineno or s.lineno)
    spanning = [s for s in stmts if first_line(s) <= line <= (s.end_lineno or s.lineno)]
    return min(spanning, key=lambda s: (s.end_lineno or s.lineno) - first_line(s)) if spanning else None


def _scope_node(tree: ast.AST, scope: str) -> ast.AST | None:
    node: ast.AST = tree
    for part in scope.split(".") if scope else []:
        children = [
            c
            for c in ast.iter_child_nodes(node)
            if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and c.name == part
        ]
        if not children:
            return None
        node = children[0]
    return node if scope else None


def locate(source: str, tree: ast.AST, site: Site) -> tuple[int, int, str] | None:
    """(first line, last line, how) of the site's statement, 1-based inclusive."""
    lines = source.splitlines()
    stmts = _statements(tree)
    for i, text in enumerate(lines, start=1):
        m = SITE_COMMENT.search(text)
        if m and m.group(1) == site.id:
            stmt = _statement_at(stmts, i, own_line=text.lstrip().startswith("#"))
            if stmt is not None:
                return first_line(stmt), stmt.end_lineno or stmt.lineno, "comment"
    hits = [i for i, text in enumerate(lines, start=1) if site.snippet in text]
    if len(hits) == 1:
        stmt = _statement_at(stmts, hits[0], own_line=False)
        if stmt is not None:
            return first_line(stmt), stmt.end_lineno or stmt.lineno, "snippet"
    node = _scope_node(tree, site.scope)
    if node is not None:
        return first_line(node), node.end_lineno or node.lineno, "scope"
    return None


def _region(lines: list[str], start: int, end: int) -> tuple[list[str], list[str]]:
    """(comment lines right above the statement, statement lines)."""
    above = []
    i = start - 2
    while i >= 0 and lines[i].lstrip().startswith("#"):
        above.append(lines[i])
        i -= 1
    return above[::-1], lines[start - 1 : end]


def _code_text(stmt_lines: list[str]) -> str:
    """Statement text without full-line comments and without the site label (markers and labels are
    comments; old-API shapes are looked for in code only)."""
    kept = [ln for ln in stmt_lines if not ln.lstrip().startswith("#")]
    return "\n".join(re.sub(r"\s*#\s*site:.*$", "", ln) for ln in kept)


def old_shapes(kind: str, code: str) -> tuple[list[str], list[str]]:
    strong, weak = OLD_SHAPES.get(kind, ([], []))
    return [p for p in strong if re.search(p, code)], [p for p in weak if re.search(p, code)]


def has_old_shape(kind: str, code: str) -> bool:
    strong, weak = old_shapes(kind, code)
    return bool(strong or weak)


def classify(site: Site, before: str, after: str, after_tree: ast.AST | None) -> SiteResult:
    if after_tree is None:
        return SiteResult(site, "corrupted", "-", "file no longer parses")
    where = locate(after, after_tree, site)
    if where is None:
        return SiteResult(site, "lost", "-", "neither the label, the snippet nor the scope is left")
    start, end, how = where
    above, stmt = _region(after.splitlines(), start, end)
    marked = any(MARKER in ln for ln in above + stmt)
    code = _code_text(stmt)
    if site.expect == "untouched":
        original = _original_code(site, before)
        same = original is not None and original == code
        return SiteResult(site, "untouched" if same and not marked else "touched", how)
    if marked:
        return SiteResult(site, "marked", how)
    strong, weak = old_shapes(site.kind, code)
    if strong or (weak and not re.search(NEW_EVIDENCE, code)):
        return SiteResult(site, "silent", how, f"old shape {(strong or weak)[0]!r} at line {start}")
    if site.kind == "flux-query" and not re.search(SQL_EVIDENCE, code):
        return SiteResult(site, "removed", how, f"no Flux and no SQL left at line {start}")
    return SiteResult(site, "translated", how)


def _original_code(site: Site, before: str) -> str | None:
    tree = ast.parse(before)
    where = locate(before, tree, site)
    if where is None:
        return None
    return _code_text(_region(before.splitlines(), where[0], where[1])[1])


def parse_or_none(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


# ---------------------------------------------------------------- undefined names (pyflakes-level, stdlib)

_MODULE_DUNDERS = {"__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__", "__path__"}
_BUILTINS = set(dir(builtins)) | _MODULE_DUNDERS


def undefined_names(source: str, filename: str = "<corpus>") -> set[str]:
    """Names read somewhere that no scope defines: `scope:name` strings. Files with a star import are
    skipped (their names cannot be known statically), as pyflakes reports them only as 'may be'."""
    if re.search(r"^\s*from\s+\S+\s+import\s+\*", source, re.M):
        return set()
    try:
        top = symtable.symtable(source, filename, "exec")
    except SyntaxError:
        return set()
    module_defined = _defined_globals(top)
    found: set[str] = set()
    _walk_scopes(top, module_defined, found)
    return found


def _defined_globals(top: symtable.SymbolTable) -> set[str]:
    names = {
        s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    stack = list(top.get_children())
    while stack:  # `global x; x = ...` inside a function defines a module name too
        table = stack.pop()
        stack.extend(table.get_children())
        names |= {s.get_name() for s in table.get_symbols() if s.is_declared_global() and s.is_assigned()}
    return names


def _walk_scopes(table: symtable.SymbolTable, module_defined: set[str], found: set[str]) -> None:
    is_module = table.get_type() == "module"
    for sym in table.get_symbols():
        if not sym.is_referenced():
            continue
        name = sym.get_name()
        unresolved = (is_module and not (sym.is_assigned() or sym.is_imported() or sym.is_namespace())) or (
            not is_module and sym.is_global()
        )
        if unresolved and name not in module_defined and name not in _BUILTINS:
            found.add(f"{table.get_name()}:{name}")
    for child in table.get_children():
        _walk_scopes(child, module_defined, found)


# ---------------------------------------------------------------- running the codemods


def run_migrators(path: Path) -> MigratorRun:
    """The one place that knows the CLI: apply every detected upgrade in place, report as JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "migrators", str(path), "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    return MigratorRun(str(path), proc.returncode, proc.stderr, report)


def copy_services(names: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(CORPUS / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def tree_diffs(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    out = [f"only in first: {k}" for k in sorted(a.keys() - b.keys())]
    out += [f"only in second: {k}" for k in sorted(b.keys() - a.keys())]
    out += [f"differs: {k}" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
    return out


# ---------------------------------------------------------------- scoring


def score(sites: list[Site] | None = None) -> Score:
    sites = sites if sites is not None else load_manifest()
    names = services(sites)
    with tempfile.TemporaryDirectory(prefix="corpus-score-") as tmp:
        work = Path(tmp)
        per, root = work / "per", work / "root"
        copy_services(names, per)
        shutil.copytree(MONOREPO_ROOT, root)
        copy_services(names, root)
        runs = [run_migrators(per / n) for n in names]
        first = snapshot(per)
        runs += [run_migrators(per / n) for n in names]
        second = snapshot(per)
        runs.append(run_migrators(root))
        root_first = snapshot(root)
        runs.append(run_migrators(root))
        root_second = snapshot(root)
        return _score_tree(sites, names, first, second, root_first, root_second, runs)


def _score_tree(
    sites: list[Site],
    names: list[str],
    first: dict[str, bytes],
    second: dict[str, bytes],
    root_first: dict[str, bytes],
    root_second: dict[str, bytes],
    runs: list[MigratorRun],
) -> Score:
    originals = snapshot(CORPUS)
    py_files = sorted(k for k in originals if k.endswith(".py") and k.split("/")[0] in names)
    corrupted, undefined, markers_total, false_markers = [], [], 0, []
    trees: dict[str, ast.AST | None] = {}
    # A labelled site's file handles InfluxDB data even with no InfluxDB word in it (a helper module
    # iterating the tables a query elsewhere returned): its markers are judged per site instead.
    site_files = {site.path for site in sites if site.kind != "distractor"}
    for rel in py_files:
        before = originals[rel].decode()
        after = first[rel].decode() if rel in first else ""
        trees[rel] = parse_or_none(after)
        if trees[rel] is None:
            corrupted.append(rel)
            continue
        new = undefined_names(after, rel) - undefined_names(before, rel)
        undefined += [f"{rel}: {name}" for name in sorted(new)]
        count = after.count(MARKER)
        markers_total += count
        if count and not INFLUX_RELATED.search(before) and rel not in site_files:
            false_markers += [f"{rel}: marker in a file that never used InfluxDB"] * count
    results = []
    for site in sites:
        before = originals[site.path].decode()
        after = first.get(site.path, b"").decode()
        result = classify(site, before, after, trees.get(site.path))
        results.append(result)
        if result.site.expect == "untouched" and result.outcome == "touched":
            false_markers += _distractor_markers(site, after, trees.get(site.path))
    return Score(
        sites=results,
        corrupted_files=corrupted,
        new_undefined=undefined,
        idempotence_diffs=tree_diffs(first, second),
        root_idempotence_diffs=tree_diffs(root_first, root_second),
        root_vs_per_service=_root_vs_per_service(names, first, root_first),
        markers_total=markers_total,
        false_markers=false_markers,
        runs=runs,
    )


def _root_vs_per_service(
    names: list[str], first: dict[str, bytes], root_first: dict[str, bytes]
) -> list[str]:
    """Each service must come out of the root run as it came out of its own run, and the monorepo's own
    files must come out unchanged (no config written at the root)."""
    in_services = {k: v for k, v in root_first.items() if k.split("/")[0] in names}
    at_root = {k: v for k, v in root_first.items() if k.split("/")[0] not in names}
    root_files = [f"monorepo root: {d}" for d in tree_diffs(snapshot(MONOREPO_ROOT), at_root)]
    return tree_diffs(first, in_services) + root_files


def _distractor_markers(site: Site, after: str, tree: ast.AST | None) -> list[str]:
    if tree is None:
        return []
    where = locate(after, tree, site)
    if where is None:
        return []
    above, stmt = _region(after.splitlines(), where[0], where[1])
    return [f"{site.path}: {site.id} (distractor)" for ln in above + stmt if MARKER in ln]


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class Target:
    name: str
    ok: bool
    detail: str


def targets(s: Score) -> list[Target]:
    ratio = s.flux_translated_ratio
    return [
        Target("flux sites translated >= 80%", ratio >= 0.8, f"{ratio:.0%} of {len(s.flux_sites)}"),
        Target("0 silent sites", not s.silent, f"{len(s.silent)} silent/removed/lost"),
        Target("0 corrupted files", not s.corrupted_files, f"{len(s.corrupted_files)} corrupted"),
        Target("no new undefined names", not s.new_undefined, f"{len(s.new_undefined)} new"),
        Target(
            "idempotent per service", not s.idempotence_diffs, f"{len(s.idempotence_diffs)} file(s) differ"
        ),
        Target(
            "idempotent at the monorepo root",
            not s.root_idempotence_diffs,
            f"{len(s.root_idempotence_diffs)} file(s) differ",
        ),
        Target(
            "root run == per-service runs",
            not s.root_vs_per_service,
            f"{len(s.root_vs_per_service)} file(s) differ",
        ),
        Target(
            "false markers <= 5%",
            s.false_marker_ratio <= 0.05,
            f"{len(s.false_markers)} of {s.markers_total} ({s.false_marker_ratio:.0%})",
        ),
        Target("distractors untouched", not s.touched_distractors, f"{len(s.touched_distractors)} touched"),
    ]


def _row(label: str, results: list[SiteResult]) -> str:
    c = Counter(r.outcome for r in results)
    other = sum(c[k] for k in ("removed", "lost", "corrupted"))
    return f"{label:<34} {len(results):>5} {c['translated']:>10} {c['marked']:>7} {c['silent']:>7} {other:>6}"


def format_table(s: Score) -> str:
    head = f"{'shape':<34} {'sites':>5} {'translated':>10} {'marked':>7} {'silent':>7} {'other':>6}"
    lines = ["per kind", head]
    api = s.api_sites
    for kind in sorted({r.site.kind for r in api}):
        lines.append(_row(kind, [r for r in api if r.site.kind == kind]))
    lines += ["", "per service", head]
    for service in sorted({r.site.service for r in api}):
        lines.append(_row(service, [r for r in api if r.site.service == service]))
    lines += ["", "per shape tag (every site carrying the tag)", head]
    for tag in sorted({t for r in api for t in r.site.tags}):
        lines.append(_row(tag, [r for r in api if tag in r.site.tags]))
    lines += ["", _row("TOTAL (non-distractor sites)", api), _row("TOTAL flux-query sites", s.flux_sites), ""]
    lines.append(f"translated where the manifest expects a marker: {len(s.unexpected_translations)} site(s)")
    lines.append(f"marked where the manifest expects a translation: {len(s.unexpected_markers)} site(s)")
    refused = sum((run.report or {}).get("summary", {}).get("errors", 0) for run in s.runs)
    lines.append(f"files the migrator refused (left as they were): {refused} over all runs")
    codes = Counter(run.returncode for run in s.runs)
    lines.append(
        f"markers left: {s.markers_total}; migrator exit codes: "
        + ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
        + " (issue 11 wants exit 1 while a marker remains)"
    )
    lines.append(
        "sites located by "
        + ", ".join(f"{k}: {v}" for k, v in sorted(Counter(r.located_by for r in s.sites).items()))
    )
    lines.append("")
    lines += [f"[{'ok' if t.ok else 'MISS'}] {t.name}: {t.detail}" for t in targets(s)]
    return "\n".join(lines)


def format_details(s: Score, limit: int = 40) -> str:
    out = []
    for title, items in (
        ("silent / removed / lost", [f"{r.site.id} {r.site.path}: {r.outcome} {r.detail}" for r in s.silent]),
        ("corrupted files", s.corrupted_files),
        ("new undefined names", s.new_undefined),
        ("touched distractors", [f"{r.site.id} {r.site.path}" for r in s.touched_distractors]),
        (
            "translated where a marker is expected",
            [f"{r.site.id} {r.site.path}" for r in s.unexpected_translations],
        ),
        ("not idempotent (per service)", s.idempotence_diffs),
        ("not idempotent (root)", s.root_idempotence_diffs),
        ("root run vs per-service runs (first = per service, second = root run)", s.root_vs_per_service),
        ("false markers", s.false_markers),
    ):
        if items:
            out.append(f"{title} ({len(items)}):")
            out += [f"  {item}" for item in items[:limit]]
            if len(items) > limit:
                out.append(f"  ... {len(items) - limit} more")
    return "\n".join(out)
