"""The Docker engine side of the sandbox: client, labels, images, containers, cleanup, doctor.

Submodules hold the details; this is the face the rest of `sandbox` imports.
"""

from sandbox.engine.cleanup import CleanupReport, new_run_id, remove_labelled, run_scope
from sandbox.engine.client import EngineInfo, EngineUnavailable, connect, engine_info
from sandbox.engine.images import (
    BUILD_ORDER,
    SPECS,
    ImageUnavailable,
    ResolvedImage,
    Resolver,
    build_all,
    build_mapped,
    project_root,
)
from sandbox.engine.labels import labels_for

__all__ = [
    "BUILD_ORDER",
    "SPECS",
    "CleanupReport",
    "EngineInfo",
    "EngineUnavailable",
    "ImageUnavailable",
    "ResolvedImage",
    "Resolver",
    "build_all",
    "build_mapped",
    "connect",
    "engine_info",
    "labels_for",
    "new_run_id",
    "project_root",
    "remove_labelled",
    "run_scope",
]
