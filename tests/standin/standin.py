"""Import the stand-in's own package (images/influxdb3-lite/influxdb3_lite) in-process.

The test folder is `tests/standin`, so nothing shadows the stand-in's package `influxdb3_lite`:
its directory goes on sys.path and the package is imported by its own name.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

STANDIN = str(Path(__file__).resolve().parents[2] / "images" / "influxdb3-lite")


def import_standin(*names: str) -> list[ModuleType]:
    """The stand-in's modules `influxdb3_lite.<name>`, for each name."""
    if STANDIN not in sys.path:
        sys.path.insert(0, STANDIN)
    return [importlib.import_module(f"influxdb3_lite.{name}") for name in names]
