"""docs/rules.md, the upgrades' rule catalogues and the rule ids the code uses say the same thing, and
every document the migrators cite (in a comment, a docstring or a marker) exists in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from migrators import rule_catalogue, upgrade_for_rule

ROOT = Path(__file__).resolve().parents[2]
RULES_DOC = ROOT / "docs" / "rules.md"
CITATION = re.compile(r"(?<![\w/.-])([\w./-]+\.md)(?:#([\w-]+))?")


def catalogue_ids() -> set[str]:
    return {rule for rules in rule_catalogue().values() for rule in rules}


def headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_catalogued_rule_has_its_section_and_no_section_is_stale():
    documented = [h for h in headings(RULES_DOC) if re.fullmatch(r"[A-Z]+-\d+", h)]
    assert len(documented) == len(set(documented)), "a rule id has two sections"
    assert set(documented) == catalogue_ids()


def test_each_rule_sits_under_its_own_upgrade_in_the_doc():
    current = None
    for line in RULES_DOC.read_text().splitlines():
        if line.startswith("## "):
            current = re.search(r"\(([A-Z]+)\)\s*$", line)[1]
        elif re.fullmatch(r"### [A-Z]+-\d+", line):
            assert line[4:].split("-")[0] == current, line


def test_every_rule_id_the_code_uses_is_catalogued():
    used = set()
    for path in (ROOT / "migrators" / "upgrades").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                used.update(re.findall(r"^[A-Z]{2}-\d+$", node.value))
    assert len(used) > 40
    assert used - catalogue_ids() == set()
    assert all(upgrade_for_rule(rule) for rule in used)


def test_every_document_the_migrators_cite_exists_under_docs():
    citations = []
    for path in (ROOT / "migrators").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            citations += [(f"{path.relative_to(ROOT)}:{number}", *m) for m in CITATION.findall(line)]
    assert any(doc == "docs/rules.md" for _, doc, _ in citations)  # the scan sees the citations
    for where, doc, fragment in citations:
        assert doc.startswith("docs/") and (ROOT / doc).is_file(), f"{where} cites {doc}"
        if fragment:
            assert fragment in {anchor(h) for h in headings(ROOT / doc)}, f"{where} cites {doc}#{fragment}"
