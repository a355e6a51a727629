"""TRIGGER_WORDS: the traversal skips top-level statements without a trigger, and nothing else."""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import MetadataWrapper

from migrators.core.bindings import ImportNames
from migrators.core.codemod import MigrationCodemod
from tests.migrators.helpers import dedent

MODULE = dedent("""
    from waits import pause as nap


    def quiet():
        return [x.value for x in range(3)]


    @decorated(sleep=1)
    def loud():
        return 1


    class Holder:
        def later(self):
            return nap(2)


    if True:
        value = sleep
""")


class _Seen(MigrationCodemod):
    """Renames every Name `sleep`/`nap` and records which names it met."""

    TRIGGER_WORDS = ("sleep",)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.met: list[str] = []
        self.functions: list[str] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.met.append(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node.name.value)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if original_node.value in ("sleep", "nap"):
            self.rewrote("XX-1", original_node, "renamed")
            return updated_node.with_changes(value="pause")
        return updated_node


def _run(words: tuple[str, ...]) -> tuple[_Seen, str]:
    module = cst.parse_module(MODULE)
    codemod = _Seen(CodemodContext())
    codemod.TRIGGER_WORDS = words
    after = codemod.transform_shared(
        MetadataWrapper(module, unsafe_skip_copy=True), ImportNames(module, MODULE)
    )
    return codemod, after.code


def test_statements_without_a_trigger_are_not_descended_into_but_their_own_hooks_run():
    skipping, code = _run(("sleep",))
    full, full_code = _run(())
    assert code == full_code  # the same rewrite: decorator `sleep=` keyword, `nap` (an import alias), `sleep`
    assert [(c.rule, c.line) for c in skipping.changes] == [(c.rule, c.line) for c in full.changes]
    assert "quiet" in skipping.functions  # visit_FunctionDef still ran on the skipped statement
    assert "range" in full.met and "range" not in skipping.met  # but not below it
    assert "later" in skipping.functions and "nap" in skipping.met  # an `as` name is a trigger too
    assert "sleep" in skipping.met  # in the decorator's keyword and in the if block


def test_without_the_modules_source_nothing_is_skipped():
    module = cst.parse_module(MODULE)
    codemod = _Seen(CodemodContext())
    codemod.transform_shared(MetadataWrapper(module, unsafe_skip_copy=True))
    assert "range" in codemod.met
