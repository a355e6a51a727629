"""Import a migrated test service's modules afresh: each test writes its own copy under a temp folder,
so modules of the same package name from an earlier test must not be reused."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType


def fresh_import(root: Path, package: str, *modules: str) -> tuple[ModuleType, ...]:
    """`package.<module>` for each of `modules`, loaded from `root` with nothing cached from before."""
    sys.path.insert(0, str(root))
    try:
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]
        return tuple(importlib.import_module(f"{package}.{module}") for module in modules)
    finally:
        sys.path.remove(str(root))
