"""modules_already_imported says "nothing to add" only where libcst's AddImportsVisitor adds nothing."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from migrators.core.codemod import modules_already_imported

CASES = [
    ("import pytest\n\nx = 1\n", ["pytest"], True),
    ('"""Doc."""\nimport os\nimport pytest\n', ["pytest", "os"], True),
    ("__strict__ = True\nimport pytest\n", ["pytest"], True),
    ("import os, pytest\nfrom a import b\nimport asyncio\n", ["asyncio", "pytest"], True),
    # not in the leading block: libcst adds it
    ("x = 1\nimport pytest\n", ["pytest"], False),
    ("import os; import pytest\n", ["pytest"], False),
    ("import pytest as pt\n", ["pytest"], False),
    ("import pytest.mark\n", ["pytest"], False),
    ('"""Doc."""\nx = 1\nimport pytest\n', ["pytest"], False),
    ("if True:\n    import pytest\n", ["pytest"], False),
    ("import os\n", ["pytest"], False),
]


@pytest.mark.parametrize(("code", "modules", "present"), CASES)
def test_the_shortcut_agrees_with_libcsts_adder(code, modules, present):
    context = CodemodContext()
    for module in modules:
        AddImportsVisitor.add_needed_import(context, module)
    tree = cst.parse_module(code)
    added = AddImportsVisitor(context).transform_module(tree).code
    assert modules_already_imported(context, tree) is present
    assert (added == code) is present  # where it says present, libcst changes nothing


def test_object_and_alias_requests_are_left_to_libcst():
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, "inspect", "iscoroutinefunction")
    assert not modules_already_imported(
        context, cst.parse_module("from inspect import iscoroutinefunction\n")
    )
    assert not modules_already_imported(CodemodContext(), cst.parse_module("import os\n"))
