"""Import the stand-in's own package (images/influxdb3-lite/influxdb3_lite) in-process.

This test folder is itself a package named `influxdb3_lite` (pytest's rootdir import mode), so
the stand-in's package of the same name is imported with the test package briefly set aside,
then both are put back: the stand-in's modules keep working through the references returned.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

STANDIN = str(Path(__file__).resolve().parents[2] / "images" / "influxdb3-lite")
PACKAGE = "influxdb3_lite"


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def import_standin(*names: str) -> list[ModuleType]:
    """The stand-in's modules `influxdb3_lite.<name>`, for each name."""
    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, STANDIN)
    try:
        return [importlib.import_module(f"{PACKAGE}.{name}") for name in names]
    finally:
        sys.path.remove(STANDIN)
        for name in [n for n in sys.modules if _ours(n)]:
            del sys.modules[name]
        sys.modules.update(saved)
